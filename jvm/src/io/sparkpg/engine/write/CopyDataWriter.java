package io.sparkpg.engine.write;

import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.write.DataWriter;
import org.apache.spark.sql.connector.write.WriterCommitMessage;
import org.postgresql.PGConnection;
import io.sparkpg.engine.CopyConnections;
import org.postgresql.copy.CopyIn;

/**
 * One task attempt: its own pgjdbc connection and one {@code COPY ... FROM STDIN (FORMAT binary)}
 * (one transaction). {@link #commit} ends the COPY (its rows become visible in the staging table
 * under this attempt's tag); {@link #abort} and {@link #close} cancel an unfinished COPY, so a
 * failed or killed attempt leaves no row and no backend behind.
 */
final class CopyDataWriter implements DataWriter<InternalRow> {
  private static final int FLUSH_BYTES = 1 << 16;

  private final WriteSpec spec;
  private final RowEncoder encoder;
  private final long taskAttemptId;
  private Connection connection;
  private CopyIn copy;
  private long rows;

  CopyDataWriter(WriteSpec spec, RowEncoder encoder, long taskAttemptId) {
    this.spec = spec;
    this.encoder = encoder;
    this.taskAttemptId = taskAttemptId;
  }

  private void start() throws IOException {
    try {
      connection = spec.connect();
      connection.setAutoCommit(true);
      copy = connection.unwrap(PGConnection.class).getCopyAPI().copyIn(spec.copySql);
    } catch (SQLException e) {
      throw new IOException(where() + ": starting COPY: " + StagedWrite.describe(e), e);
    }
    encoder.header();
  }

  @Override
  public void write(InternalRow row) throws IOException {
    if (copy == null) {
      start();
    }
    encoder.row(row);
    rows++;
    if (encoder.size() >= FLUSH_BYTES) {
      flush();
    }
  }

  private void flush() throws IOException {
    try {
      copy.writeToCopy(encoder.bytes(), 0, encoder.size());
    } catch (SQLException e) {
      throw new IOException(where() + ": " + StagedWrite.describe(e), e);
    }
    encoder.reset();
  }

  @Override
  public WriterCommitMessage commit() throws IOException {
    if (copy == null) {
      start(); // an empty partition still commits (no rows under its tag)
    }
    encoder.trailer();
    flush();
    try {
      copy.endCopy();
    } catch (SQLException e) {
      throw new IOException(where() + ": ending COPY: " + StagedWrite.describe(e), e);
    }
    copy = null;
    return new AttemptCommitted(taskAttemptId);
  }

  @Override
  public void abort() throws IOException {
    close();
  }

  @Override
  public void close() throws IOException {
    try {
      CopyConnections.cancelAndClose(copy, connection, where());
    } finally {
      copy = null;
      connection = null;
    }
  }

  private String where() {
    return spec.label + " (task attempt " + taskAttemptId + ", " + rows + " rows sent)";
  }
}
