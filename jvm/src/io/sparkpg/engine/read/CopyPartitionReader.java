package io.sparkpg.engine.read;

import io.sparkpg.engine.CopyConnections;
import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.metric.CustomTaskMetric;
import org.apache.spark.sql.connector.read.PartitionReader;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyOut;

/**
 * Streams one partition: its own pgjdbc connection, one transaction (the session statements,
 * then {@code COPY ... TO STDOUT (FORMAT binary)}), one CopyData message (one row) at a time.
 * {@link #close} (Spark calls it when the task ends, however it ends) cancels an unfinished COPY
 * and closes the connection, so no backend keeps running. A task killed while it waits for the
 * server (a query that sorts before its first row) is noticed by a watchdog, which sends
 * PostgreSQL a cancel request so the wait ends.
 */
final class CopyPartitionReader implements PartitionReader<InternalRow> {
  private static final long WATCH_MILLIS = 250;
  private static final ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "sparkpg-copy-watchdog");
        t.setDaemon(true);
        return t;
      });

  private final ReadSpec spec;
  private final RowShape shape;
  private final CopyPartition partition;
  private final UnrepresentableCounts accumulator;
  private final CopyRows rows;
  /** The task's counts per counted column, for Spark's metrics. */
  private final UnrepresentableMetric.TaskValues metrics;
  private Connection connection;
  private CopyOut copy;
  private ScheduledFuture<?> watch;
  private boolean done;
  private boolean reported;

  CopyPartitionReader(ReadSpec spec, RowShape shape, CopyPartition partition,
      UnrepresentableCounts accumulator) {
    this.spec = spec;
    this.shape = shape;
    this.partition = partition;
    this.accumulator = accumulator;
    this.rows = new CopyRows(shape, spec.columns.size(), where());
    this.metrics = new UnrepresentableMetric.TaskValues(shape.countedColumns(), rows.counts);
  }

  @Override
  public boolean next() throws IOException {
    if (done) {
      return false;
    }
    try {
      if (copy == null) {
        start();
      }
      while (true) {
        byte[] message = copy.readFromCopy();
        if (message == null) {
          done = true;
          return false;
        }
        if (rows.decode(message)) {
          return true;
        }
      }
    } catch (SQLException e) {
      throw new IOException(where() + ": " + e.getMessage(), e);
    }
  }

  private void start() throws SQLException, PlanChangedException {
    connection = io.sparkpg.engine.auth.IamAuthPlugin.connectRetrying(spec.url, spec.properties);
    if (connection == null) {
      throw new SQLException("the url option must start with jdbc:postgresql:");
    }
    connection.setAutoCommit(false);
    List<String> statements = new ArrayList<>(spec.sessionStatements);
    statements.add("SET LOCAL standard_conforming_strings = on"); // pushed filters' literals
    try (Statement statement = connection.createStatement()) {
      // one round trip: pgjdbc sends the statements together, run in order
      statement.execute(String.join(";\n", statements));
    }
    PGConnection pg = connection.unwrap(PGConnection.class);
    TaskContext task = TaskContext.get();
    if (task != null) {
      watch = WATCHDOG.scheduleWithFixedDelay(() -> {
        if (task.isInterrupted()) {
          try {
            pg.cancelQuery();
          } catch (SQLException e) {
            // the connection is going away anyway
          }
        }
      }, WATCH_MILLIS, WATCH_MILLIS, TimeUnit.MILLISECONDS);
    }
    PlannedTypes.verify(connection, spec, shape.checked, where());
    copy = pg.getCopyAPI().copyOut(partition.sql);
  }

  @Override
  public InternalRow get() {
    return rows.row;
  }

  @Override
  public CustomTaskMetric[] currentMetricsValues() {
    return metrics.changed();
  }

  @Override
  public void close() throws IOException {
    if (watch != null) {
      watch.cancel(false);
    }
    if (!reported) {
      reported = true;
      accumulator.add(new UnrepresentableCounts.PartitionCounts(partition.index,
          rows.counts.clone()));
    }
    try {
      CopyConnections.cancelAndClose(copy, connection, where());
    } finally {
      copy = null;
      connection = null;
    }
  }

  private String where() {
    return "sparkpg copy engine, " + spec.label + " partition " + partition.index;
  }
}
