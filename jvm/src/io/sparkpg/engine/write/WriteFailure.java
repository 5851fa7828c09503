package io.sparkpg.engine.write;

import java.io.IOException;
import java.sql.SQLException;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * Why a write failed, as data (jvm/README.md, "Writing"): the phase, the server's SQLSTATE,
 * message, constraint and detail (the first offending key), the DataFrame and target column and
 * the row's key when a value was refused, and whether the outcome of the COMMIT is unknown. Only
 * these fields and the server's own text cross to Python, which writes the sentences users read
 * (spark_jobs/write/contract.py). Thrown by the tasks (Spark ships it to the driver as the job's
 * cause: it holds strings only, no cause, so it always serializes) and by the driver's commit.
 */
public final class WriteFailure extends RuntimeException {
  private static final long serialVersionUID = 1L;
  /** A task attempt staging its rows (its connection, COPY, chunk registry). */
  public static final String STAGING = "staging";
  /** The driver moving staged rows into the target (and beginning that transaction). */
  public static final String MOVING = "moving";
  /** The driver's COMMIT of the move. */
  public static final String COMMITTING = "committing";
  /** A task attempt stopped because the driver's move failed (its failure says why). */
  public static final String STOPPED = "stopped";
  /** How many characters of a refused value are kept. */
  static final int VALUE_CHARS = 100;

  private final String phase;
  private final String sqlState;
  private final String serverMessage;
  private final String constraint;
  private final String detail;
  private final String network;
  private final boolean outcomeUnknown;
  private final int partitionId;
  private final long taskAttemptId;
  private String dataFrameColumn;
  private String targetColumn;
  private String rowKey;
  private String value;
  private String refusal;

  private WriteFailure(String phase, String sqlState, String serverMessage, String constraint,
      String detail, String network, boolean outcomeUnknown, int partitionId, long taskAttemptId) {
    super(phase + " failed" + (sqlState == null ? "" : " (SQLSTATE " + sqlState + ")") + ": "
        + serverMessage);
    this.phase = phase;
    this.sqlState = sqlState;
    this.serverMessage = serverMessage;
    this.constraint = constraint;
    this.detail = detail;
    this.network = network;
    this.outcomeUnknown = outcomeUnknown;
    this.partitionId = partitionId;
    this.taskAttemptId = taskAttemptId;
  }

  /** A failure of the driver (no task): {@code duringCommit} when the COMMIT itself failed. */
  static WriteFailure ofDriver(String phase, SQLException e, boolean duringCommit) {
    return of(phase, e, duringCommit, -1, -1);
  }

  /** A task attempt's failure. */
  static WriteFailure ofTask(String phase, Exception e, int partitionId, long taskAttemptId) {
    return of(phase, e, false, partitionId, taskAttemptId);
  }

  /**
   * A string the encoder refused before sending it ({@code refusal}: {@code nul}, a NUL
   * character, or {@code not-utf8}); SQLSTATE 22021, as the server would refuse it.
   */
  static WriteFailure refused(String refusal, int partitionId, long taskAttemptId) {
    WriteFailure failure = new WriteFailure(STAGING, "22021", "", null, null, null, false,
        partitionId, taskAttemptId);
    failure.refusal = refusal;
    return failure;
  }

  /**
   * The driver aborted the move's connection because the server stopped answering ({@link
   * MoveWatchdog}: {@code why}): the same as a socket timeout of that connection (SQLSTATE 08006,
   * network {@code SocketTimeoutException}). {@code duringCommit}: the outcome is unknown;
   * otherwise the transaction cannot commit without us, so the target is unchanged.
   */
  static WriteFailure unanswered(String phase, String why, boolean duringCommit) {
    return new WriteFailure(phase, "08006", why, null, null, "SocketTimeoutException",
        duringCommit, -1, -1);
  }

  /** A task attempt that stopped because the move failed with {@code sqlState}. */
  static WriteFailure stopped(String sqlState, int partitionId, long taskAttemptId) {
    return new WriteFailure(STOPPED, sqlState.isEmpty() ? null : sqlState, "", null, null, null,
        false, partitionId, taskAttemptId);
  }

  private static WriteFailure of(
      String phase, Exception e, boolean duringCommit, int partitionId, long taskAttemptId) {
    ServerErrorMessage server =
        e instanceof PSQLException ? ((PSQLException) e).getServerErrorMessage() : null;
    String state = e instanceof SQLException ? ((SQLException) e).getSQLState() : null;
    String network = network(e);
    boolean broken = network != null || (state != null
        && (state.startsWith("08") || state.startsWith("57P0")));
    WriteFailure failure = new WriteFailure(phase,
        server != null ? server.getSQLState() : state,
        server != null ? server.getMessage() : String.valueOf(e.getMessage()),
        server != null ? server.getConstraint() : null,
        server != null ? server.getDetail() : null,
        network, duringCommit && broken, partitionId, taskAttemptId);
    if (server != null && server.getColumn() != null) {
      failure.targetColumn = server.getColumn();
    }
    return failure;
  }

  /** The simple class name of the first I/O exception in {@code e}'s chain, or null. */
  private static String network(Throwable e) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (t instanceof IOException) {
        return t.getClass().getSimpleName();
      }
    }
    return null;
  }

  /** Names the refused value: its columns, its row's key ({@code (k)=(v)}) and the value. */
  WriteFailure naming(String dataFrameColumn, String targetColumn, String rowKey, String value) {
    this.dataFrameColumn = dataFrameColumn;
    this.targetColumn = targetColumn;
    this.rowKey = rowKey;
    this.value = value == null || value.length() <= VALUE_CHARS
        ? value : value.substring(0, VALUE_CHARS) + "...";
    return this;
  }

  /** {@link #STAGING}, {@link #MOVING}, {@link #COMMITTING} or {@link #STOPPED}. */
  public String getPhase() {
    return phase;
  }

  /** PostgreSQL's (or pgjdbc's) SQLSTATE, or null. */
  public String getSqlState() {
    return sqlState;
  }

  /** The server's primary message (pgjdbc's, when the server sent none). */
  public String getServerMessage() {
    return serverMessage;
  }

  /** The violated constraint, or null. */
  public String getConstraint() {
    return constraint;
  }

  /** The server's detail: for a constraint, the first offending key ({@code Key (id)=(1) ...}). */
  public String getDetail() {
    return detail;
  }

  /** The I/O exception that broke the connection ({@code SocketTimeoutException}...), or null. */
  public String getNetwork() {
    return network;
  }

  /**
   * True only when the COMMIT itself failed because the connection broke (SQLSTATE class 08, the
   * server ending the session, 57P01..57P03, or an I/O error): the server may have committed.
   */
  public boolean outcomeUnknown() {
    return outcomeUnknown;
  }

  /** The failed task's partition, or -1 (the driver). */
  public int getPartitionId() {
    return partitionId;
  }

  /** The failed task attempt, or -1 (the driver). */
  public long getTaskAttemptId() {
    return taskAttemptId;
  }

  /** The DataFrame column whose value was refused, or null. */
  public String getDataFrameColumn() {
    return dataFrameColumn;
  }

  /** The target column of that value (or the column the server named), or null. */
  public String getTargetColumn() {
    return targetColumn;
  }

  /** The refused value's row key, {@code (id)=(3)}, when the write has a key; or null. */
  public String getRowKey() {
    return rowKey;
  }

  /** {@code nul} or {@code not-utf8} when the engine refused a string itself, else null. */
  public String getRefusal() {
    return refusal;
  }

  /** The refused value (at most {@link #VALUE_CHARS} characters), or null. */
  public String getValue() {
    return value;
  }
}
