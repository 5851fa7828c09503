package io.sparkpg.engine.write;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
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
 * The driver's side of a write. Tasks COPY their rows into the staging table, each attempt's rows
 * tagged with its task attempt id; Spark's commit coordinator lets one attempt per partition
 * commit, and {@link #commit} moves exactly those attempts' rows into the target in one
 * transaction, then drops the staging table. {@link #abort} drops it.
 */
final class StagedWrite implements Write, BatchWrite {
  private final WriteSpec spec;
  private final StructType schema;

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
    return new CopyWriterFactory(spec, schema);
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
    List<Long> tags = new ArrayList<>();
    for (WriterCommitMessage m : messages) {
      if (m != null) {
        tags.add(((AttemptCommitted) m).taskAttemptId);
      }
    }
    try (Connection connection = spec.connect()) {
      connection.setAutoCommit(false);
      try {
        try (Statement statement = connection.createStatement()) {
          for (String sql : spec.commitSql) {
            statement.execute(sql);
          }
        }
        try (PreparedStatement move = connection.prepareStatement(spec.moveSql)) {
          Array ids = connection.createArrayOf("int8", tags.toArray(new Long[0]));
          move.setArray(1, ids);
          move.executeUpdate();
        }
        connection.commit();
      } catch (SQLException e) {
        rollbackQuietly(connection);
        throw new IllegalStateException(
            spec.label + ": the commit failed and was rolled back, the target is unchanged: "
                + describe(e),
            null);
      }
      dropStaging(connection);
    } catch (SQLException e) {
      throw new IllegalStateException(
          spec.label + ": the commit failed, the target is unchanged: " + describe(e), null);
    }
  }

  @Override
  public void abort(WriterCommitMessage[] messages) {
    if (spec.dropSql.isEmpty()) {
      return;
    }
    try (Connection connection = spec.connect()) {
      dropStaging(connection);
    } catch (SQLException e) {
      // the Python side drops it too, and the next write removes staging tables left behind
    }
  }

  private void dropStaging(Connection connection) throws SQLException {
    if (spec.dropSql.isEmpty()) {
      return;
    }
    connection.setAutoCommit(true);
    try (Statement statement = connection.createStatement()) {
      statement.execute(spec.dropSql);
    }
  }

  private static void rollbackQuietly(Connection connection) {
    try {
      connection.rollback();
    } catch (SQLException ignored) {
      // the connection is closed next
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
