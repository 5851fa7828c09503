package io.sparkpg.engine.write;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.connector.write.BatchWrite;
import org.apache.spark.sql.connector.write.DataWriterFactory;
import org.apache.spark.sql.connector.write.PhysicalWriteInfo;
import org.apache.spark.sql.connector.write.Write;
import org.apache.spark.sql.connector.write.WriterCommitMessage;
import org.apache.spark.sql.types.StructType;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * The driver's side of a write. Tasks COPY their rows into the staging table in chunks, each
 * chunk's rows tagged with its task attempt and chunk number; Spark's commit coordinator lets one
 * attempt per partition commit, and one {@link MoveTransaction} moves exactly those attempts'
 * chunks into the target (append and overwrite: mostly while the tasks still run), commits, then
 * drops the staging table. {@link #abort} rolls the transaction back and drops it.
 */
final class StagedWrite implements Write, BatchWrite {
  /** The words spark_jobs/write/api.py looks for: the COMMIT failed, its outcome is unknown. */
  static final String COMMIT_OUTCOME_UNKNOWN =
      "the connection was lost during the commit: whether the rows were committed is unknown";

  /**
   * Unmoved chunks per task at which tasks wait (append, overwrite): when the one backend that
   * moves is the bottleneck, tasks that stage far ahead of it only take CPU and I/O from it.
   */
  static final int BACKLOG_PER_TASK = 2;

  private final WriteSpec spec;
  private final StructType schema;
  private MoveTransaction transaction;

  StagedWrite(WriteSpec spec, StructType schema) {
    this.spec = spec;
    this.schema = schema;
    RowEncoder.check(schema); // unsupported types fail before any task runs
  }

  @Override
  public String description() {
    return "sparkpg_write " + spec.label;
  }

  @Override
  public String toString() {
    return description(); // what plans show: the label, never the options
  }

  @Override
  public BatchWrite toBatch() {
    return this;
  }

  @Override
  public DataWriterFactory createBatchWriterFactory(PhysicalWriteInfo info) {
    if (spec.streamsMoves()) {
      transaction = begin();
      transaction.streamWhileTasksRun();
    }
    return new CopyWriterFactory(
        spec, schema, BACKLOG_PER_TASK * Math.max(1, info.numPartitions()));
  }

  private MoveTransaction begin() {
    try {
      return MoveTransaction.begin(spec);
    } catch (SQLException e) {
      throw new IllegalStateException(
          spec.label + ": beginning the write failed, the target is unchanged: " + describe(e),
          null);
    }
  }

  @Override
  public boolean useCommitCoordinator() {
    return true; // one committed attempt per partition
  }

  @Override
  public void commit(WriterCommitMessage[] messages) {
    if (spec.moveSql.isEmpty()) {
      return; // direct write: every task committed its own rows
    }
    List<AttemptCommitted> committed = new ArrayList<>();
    for (WriterCommitMessage m : messages) {
      if (m != null) {
        committed.add((AttemptCommitted) m);
      }
    }
    MoveTransaction moving = transaction != null ? transaction : begin();
    transaction = null;
    try {
      moving.commit(committed);
    } catch (MoveTransaction.CommitOutcomeUnknown e) {
      moving.close();
      throw new IllegalStateException(spec.label + ": " + COMMIT_OUTCOME_UNKNOWN + ": "
          + describe((SQLException) e.getCause()), null);
    } catch (SQLException e) {
      moving.close();
      throw new IllegalStateException(
          spec.label + ": the commit failed and was rolled back, the target is unchanged: "
              + describe(e),
          null);
    }
    try {
      moving.dropStaging();
    } catch (SQLException e) {
      // committed; the Python side drops the staging table too
    } finally {
      moving.close();
    }
  }

  @Override
  public void abort(WriterCommitMessage[] messages) {
    if (transaction != null) {
      transaction.close();
      transaction = null;
    }
    if (spec.dropSql.isEmpty()) {
      return;
    }
    try (Connection connection = spec.connect()) {
      connection.setAutoCommit(true);
      try (Statement statement = connection.createStatement()) {
        statement.execute(spec.dropSql);
      }
    } catch (SQLException e) {
      // the Python side drops it too, and the next write removes staging tables left behind
    }
  }

  /** The server's message, SQLSTATE, constraint and detail (the first offending key). */
  static String describe(SQLException e) {
    StringBuilder out = new StringBuilder();
    ServerErrorMessage server = e instanceof PSQLException
        ? ((PSQLException) e).getServerErrorMessage() : null;
    if (server == null) {
      out.append(e.getMessage()).append(" (SQLSTATE ").append(e.getSQLState()).append(')');
      return out.toString();
    }
    out.append(server.getMessage()).append(" (SQLSTATE ").append(server.getSQLState());
    if (server.getConstraint() != null) {
      out.append(", constraint ").append(server.getConstraint());
    }
    out.append(')');
    if (server.getDetail() != null) {
      out.append(": ").append(server.getDetail());
    }
    return out.toString();
  }
}
