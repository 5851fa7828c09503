package io.sparkpg.engine.write;

import io.sparkpg.engine.auth.IamAuthPlugin;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.concurrent.Executor;
import org.postgresql.util.PSQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bound of the move transaction's calls that may rightly run longer than the connection's
 * socket timeout (a move: up to every row of the write; the COMMIT: deferred triggers and
 * constraints), which therefore {@link #run} without one. Every socket timeout while one call
 * runs, a new short-lived session of the write (the same URL and properties, so the connection's
 * connect, login and socket timeouts bound it) checks that the server answers and that the move's
 * backend still runs a statement ({@code pg_stat_activity}). The move's connection is aborted and
 * the call fails with {@link WriteFailure#unanswered} when a check gets no answer (the server is
 * frozen, or the network to it is cut), or when two checks in a row find the backend gone or no
 * longer active while the same call still waits for it (its answer was lost). A server that
 * answers with an error (too many connections...) does not trip it. A single frozen backend on a
 * server that still answers looks active: that is not detected.
 */
final class MoveWatchdog implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MoveWatchdog.class);
  /** Aborts on the calling thread: closing the socket does not block. */
  private static final Executor DIRECT = Runnable::run;
  static final String CHECK_SQL = "SELECT coalesce((SELECT coalesce(state, 'unknown') "
      + "FROM pg_stat_activity WHERE pid = ?), 'gone')";

  /** A call on the watched connection. */
  interface Call {
    void run() throws SQLException;
  }

  private final WriteSpec spec;
  private final Connection watched;
  private final int pid;
  private final int timeoutMillis;
  private final Thread thread;
  private final Object lock = new Object();
  /** Guarded by {@link #lock}: the running call's number (0: none runs), its trip's reason. */
  private long call;
  private long calls;
  private String tripped;
  private boolean closed;

  private MoveWatchdog(WriteSpec spec, Connection watched, int pid, int timeoutMillis) {
    this.spec = spec;
    this.watched = watched;
    this.pid = pid;
    this.timeoutMillis = timeoutMillis;
    thread = new Thread(this::watch, "sparkpg-move-watchdog " + spec.label);
    thread.setDaemon(true);
  }

  /**
   * A watchdog of {@code connection} (its backend {@code pid}), started; null when the
   * connection has no socket timeout (the user asked for no bound).
   */
  static MoveWatchdog start(WriteSpec spec, Connection connection) throws SQLException {
    int timeout = connection.getNetworkTimeout();
    if (timeout <= 0) {
      return null;
    }
    int pid;
    try (PreparedStatement query = connection.prepareStatement("SELECT pg_backend_pid()");
        ResultSet row = query.executeQuery()) {
      row.next();
      pid = row.getInt(1);
    }
    MoveWatchdog watchdog = new MoveWatchdog(spec, connection, pid, timeout);
    watchdog.thread.start();
    return watchdog;
  }

  /**
   * Runs {@code call} without a socket timeout, under the watchdog. When the watchdog aborted the
   * connection, throws {@link WriteFailure#unanswered} for {@code phase} ({@code commit}: the
   * outcome of the COMMIT is unknown), unless the COMMIT's answer came in time.
   */
  void run(String phase, boolean commit, Call work) throws SQLException {
    synchronized (lock) {
      call = ++calls;
    }
    try {
      watched.setNetworkTimeout(DIRECT, 0);
      work.run();
    } catch (SQLException | RuntimeException e) {
      String why = end();
      if (why != null) {
        throw WriteFailure.unanswered(phase, why, commit);
      }
      throw e;
    }
    String why = end();
    if (why != null && !commit) { // its answer came, but the transaction is lost with the socket
      throw WriteFailure.unanswered(phase, why, false);
    }
  }

  /** Ends the running call: its trip's reason, or null (the socket timeout is restored). */
  private String end() {
    String why;
    synchronized (lock) {
      call = 0;
      why = tripped;
    }
    if (why == null) {
      try {
        watched.setNetworkTimeout(DIRECT, timeoutMillis);
      } catch (SQLException ignored) {
        // the connection is closed: nothing more runs on it
      }
    }
    return why;
  }

  private void watch() {
    long checked = 0; // the call the last check was of
    String quiet = null; // that call's backend state when it was not active
    while (true) {
      long running;
      synchronized (lock) {
        long before = call;
        try {
          lock.wait(timeoutMillis);
        } catch (InterruptedException e) {
          return;
        }
        if (closed || tripped != null) {
          return;
        }
        running = call != 0 && call == before ? call : 0; // has run one timeout at least
      }
      if (running == 0) {
        continue;
      }
      String state;
      try {
        state = backendState();
      } catch (SQLException e) {
        if (unanswered(e)) {
          LOG.warn("{}: the server did not answer a check of the move's backend {}: {}",
              spec.label, pid, e.getMessage());
          if (trip(running, "the server did not answer for " + timeoutMillis / 1000 + " s while "
              + "the move's backend " + pid + " ran (a check from a new session had no answer)")) {
            return;
          }
          continue;
        }
        LOG.info("{}: a check of the move's backend {} failed: {}", spec.label, pid, e.getMessage());
        continue;
      }
      if (running(state)) {
        quiet = null;
      } else if (quiet != null && checked == running) {
        if (trip(running, "the move's backend " + pid + " is " + quiet + " then " + state
            + " (pg_stat_activity) while its answer has not come for " + timeoutMillis / 1000
            + " s")) {
          return;
        }
        quiet = null;
      } else {
        quiet = state;
      }
      checked = running;
    }
  }

  /** The move's backend's state in {@code pg_stat_activity}: gone, unknown (hidden) or its own. */
  private String backendState() throws SQLException {
    try (Connection check = IamAuthPlugin.connectRetrying(spec.url, spec.properties);
        PreparedStatement query = check.prepareStatement(CHECK_SQL)) {
      query.setInt(1, pid);
      try (ResultSet row = query.executeQuery()) {
        row.next();
        return row.getString(1);
      }
    }
  }

  /** A backend that runs a statement, or whose state the check may not see. */
  static boolean running(String state) {
    return "active".equals(state) || "unknown".equals(state)
        || "fastpath function call".equals(state);
  }

  /**
   * The server did not answer: no error from the server itself, and an I/O failure (a socket or
   * login timeout, a reset) or a connection SQLSTATE (class 08).
   */
  static boolean unanswered(SQLException e) {
    if (e instanceof PSQLException && ((PSQLException) e).getServerErrorMessage() != null) {
      return false;
    }
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (t instanceof IOException) {
        return true;
      }
    }
    return e.getSQLState() != null && e.getSQLState().startsWith("08");
  }

  /**
   * Aborts the watched connection if the call {@code running} still runs (its call fails at
   * once); false when it ended meanwhile.
   */
  private boolean trip(long running, String why) {
    synchronized (lock) {
      if (call != running) {
        return false;
      }
      tripped = why;
    }
    LOG.warn("{}: aborting the move's connection: {}", spec.label, why);
    try {
      watched.abort(DIRECT);
    } catch (SQLException e) {
      LOG.warn("{}: could not abort the move's connection: {}", spec.label, e.getMessage());
    }
    return true;
  }

  /** Stops watching (a check under way ends on its own, its answer unused). */
  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      lock.notifyAll();
    }
  }
}
