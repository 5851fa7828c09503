package io.sparkpg.engine.write;

import io.sparkpg.engine.CopyConnections;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.write.DataWriter;
import org.apache.spark.sql.connector.write.WriterCommitMessage;
import org.apache.spark.sql.types.StructType;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

/**
 * One task attempt: its own pgjdbc connection and {@code COPY ... FROM STDIN (FORMAT binary)}.
 * When the write streams its moves ({@link WriteSpec.Mode#STREAMED}), the rows go in chunks:
 * each chunk is one COPY into its own table, created and committed together with its row in the
 * chunk registry, so the driver can move it while the task goes on. Chunks hold about {@link WriteSpec#chunkBytes}, twice
 * that after {@link #CHUNKS_PER_SIZE} chunks, and so on up to {@link #MAX_DOUBLINGS} doublings:
 * a long task writes a bounded number of chunks (tables, and locks in the driver's move).
 * Otherwise one COPY (one transaction) takes all rows. {@link #commit} ends the last COPY; {@link #abort} and
 * {@link #close} cancel an unfinished one, so a failed or killed attempt leaves no uncommitted
 * row and no backend behind (its committed chunks stay in staging, never moved: see StagedWrite).
 * Every failure is a {@link WriteFailure} of phase {@link WriteFailure#STAGING} (or {@link
 * WriteFailure#STOPPED} when the driver's move failed).
 */
final class CopyDataWriter implements DataWriter<InternalRow> {
  private static final int FLUSH_BYTES = 1 << 16;
  static final int CHUNKS_PER_SIZE = 8;
  static final int MAX_DOUBLINGS = 8;
  private static final long MAX_WAIT_NANOS = 10_000_000_000L;
  private static final long WAIT_MILLIS = 10;

  private final WriteSpec spec;
  private final RowEncoder encoder;
  private final StructType schema;
  private final int partitionId;
  private final long taskAttemptId;
  private final int backlogLimit;
  private PreparedStatement backlog;
  private Connection connection;
  private PreparedStatement register;
  private PreparedStatement failed;
  private CopyIn copy;
  private int chunk;
  private long chunkBytes;
  private long rows;

  CopyDataWriter(WriteSpec spec, StructType schema, int partitionId, long taskAttemptId,
      int backlogLimit) {
    this.spec = spec;
    this.schema = schema;
    this.encoder = new RowEncoder(schema, spec.tagged());
    this.partitionId = partitionId;
    this.taskAttemptId = taskAttemptId;
    this.backlogLimit = backlogLimit;
  }

  private void open() {
    try {
      connection = spec.connect();
      connection.setAutoCommit(!spec.streamed());
      if (spec.streamed()) {
        register = connection.prepareStatement(spec.chunkSql);
        failed = connection.prepareStatement(spec.failedSql);
        backlog = connection.prepareStatement(spec.backlogSql);
      }
    } catch (SQLException e) {
      throw failure(e);
    }
    startChunk();
  }

  private WriteFailure failure(Exception e) {
    return WriteFailure.ofTask(WriteFailure.STAGING, e, partitionId, taskAttemptId);
  }

  private void startChunk() {
    long tag = AttemptCommitted.tagOf(taskAttemptId, chunk);
    try {
      if (spec.streamed()) {
        try (Statement create = connection.createStatement()) {
          create.execute(WriteSpec.forChunk(spec.createSql, tag));
        }
      }
      copy = connection.unwrap(PGConnection.class).getCopyAPI()
          .copyIn(WriteSpec.forChunk(spec.copySql, tag));
    } catch (SQLException e) {
      throw failure(e);
    }
    encoder.tag(tag);
    encoder.header();
    chunkBytes = 0;
  }

  /** The size of the current chunk: {@link WriteSpec#chunkBytes}, doubled every few chunks. */
  private long chunkLimit() {
    return spec.chunkBytes << Math.min(chunk / CHUNKS_PER_SIZE, MAX_DOUBLINGS);
  }

  @Override
  public void write(InternalRow row) throws IOException {
    if (copy == null) {
      open();
    }
    try {
      encoder.row(row);
    } catch (RowEncoder.Refused e) {
      WriteSpec.Column column = spec.columns.get(e.column);
      throw WriteFailure.refused(e.refusal, partitionId, taskAttemptId)
          .naming(column.frame, column.target, keyOf(row), null);
    }
    rows++;
    if (spec.streamed()
        && chunkBytes + encoder.size() >= chunkLimit()
        && chunk < AttemptCommitted.LAST_CHUNK) {
      endChunk();
      waitForTheMoves();
      chunk++;
      startChunk();
    } else if (encoder.size() >= FLUSH_BYTES) {
      flush();
    }
  }

  /** {@code (k1, k2)=(v1, v2)}: the row's key (as PostgreSQL writes one), or null. */
  private String keyOf(InternalRow row) {
    if (spec.key.length == 0) {
      return null;
    }
    StringBuilder names = new StringBuilder("(");
    StringBuilder values = new StringBuilder(")=(");
    for (int k = 0; k < spec.key.length; k++) {
      int i = spec.key[k];
      names.append(k == 0 ? "" : ", ").append(spec.columns.get(i).target);
      values.append(k == 0 ? "" : ", ")
          .append(row.isNullAt(i) ? "null" : row.get(i, schema.fields()[i].dataType()));
    }
    return names.append(values).append(')').toString();
  }

  private void flush() {
    try {
      copy.writeToCopy(encoder.bytes(), 0, encoder.size());
    } catch (SQLException e) {
      throw failure(e);
    }
    chunkBytes += encoder.size();
    encoder.reset();
  }

  /** Ends the current COPY; a chunk is committed with its registry row (tag, partition). */
  private void endChunk() {
    encoder.trailer();
    flush();
    try {
      copy.endCopy();
      copy = null;
      if (register != null) {
        register.setLong(1, AttemptCommitted.tagOf(taskAttemptId, chunk));
        register.setInt(2, partitionId);
        register.executeUpdate();
        connection.commit();
      }
    } catch (SQLException e) {
      throw failure(e);
    }
    stopIfTheMoveFailed();
  }

  /**
   * Back-pressure: while more than {@code backlogLimit} registered chunks wait to be moved, wait
   * (at most {@link #MAX_WAIT_NANOS} per chunk: a move that is stuck, on a lock say, must not
   * hold the tasks forever; the job then simply stages ahead).
   */
  private void waitForTheMoves() {
    if (backlog == null) {
      return;
    }
    long deadline = System.nanoTime() + MAX_WAIT_NANOS;
    try {
      while (true) {
        long waiting;
        try (ResultSet row = backlog.executeQuery()) {
          waiting = row.next() ? row.getLong(1) : 0;
        }
        connection.commit();
        if (waiting <= backlogLimit || System.nanoTime() > deadline) {
          return;
        }
        Thread.sleep(WAIT_MILLIS);
        stopIfTheMoveFailed();
      }
    } catch (SQLException e) {
      throw failure(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw failure(e);
    }
  }

  /** Fails this task with the driver's reason when a move failed (the write cannot succeed). */
  private void stopIfTheMoveFailed() {
    if (failed == null) {
      return;
    }
    String sqlState;
    try (ResultSet row = failed.executeQuery()) {
      sqlState = row.next() ? row.getString(1) : null;
      connection.commit();
    } catch (SQLException e) {
      throw failure(e);
    }
    if (sqlState != null) {
      throw WriteFailure.stopped(sqlState, partitionId, taskAttemptId);
    }
  }

  @Override
  public WriterCommitMessage commit() throws IOException {
    if (copy == null) {
      open(); // an empty partition still commits (one chunk without rows)
    }
    endChunk();
    return new AttemptCommitted(partitionId, taskAttemptId, chunk + 1, rows);
  }

  @Override
  public void abort() throws IOException {
    close();
  }

  @Override
  public void close() throws IOException {
    try {
      CopyConnections.cancelAndClose(copy, connection,
          spec.label + " (task attempt " + taskAttemptId + ", " + rows + " rows sent)");
    } finally {
      copy = null;
      connection = null;
      register = null;
      failed = null;
      backlog = null;
    }
  }
}
