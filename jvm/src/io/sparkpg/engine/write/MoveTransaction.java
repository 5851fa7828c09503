package io.sparkpg.engine.write;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's one transaction that moves staged rows into the target. It begins with the
 * write's {@code commitSql} (TimeZone, the {@code DELETE} of an overwrite). When the write
 * streams its moves, a thread polls the chunk registry while the tasks run and moves each
 * committed chunk of the first attempt seen per partition, so most of the moving is done when
 * the last task ends. {@link #commit} then moves what is left of the committed attempts: if a
 * chunk already moved belongs to an attempt that did not commit (it failed, or lost to a
 * speculative copy), the transaction is rolled back and begun again, and every committed chunk is
 * moved then. Nothing is visible to others before the commit; a failure rolls everything back.
 * Failures are {@link WriteFailure}s: a refused value (SQLSTATE class 22) in a move is located
 * (its column and row) before the failure is reported. A move and the COMMIT send nothing back
 * until they end, however long they rightly take: they run without the socket timeout, bounded
 * instead by a {@link MoveWatchdog}, which aborts the connection when the server stops answering.
 */
final class MoveTransaction implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MoveTransaction.class);
  private static final long POLL_MILLIS = 20;
  private static final long GAP_NANOS = 5_000_000_000L;
  /** The longest the search for a refused value's row may take (then it is not named). */
  static final String LOCATE_TIMEOUT = "60s";

  private final WriteSpec spec;
  private final Connection connection;
  private final Object wake = new Object();
  /** Partition id -> the attempt whose chunks are moved while the tasks run. */
  private final Map<Integer, Long> chosen = new HashMap<>();
  /** Chunk tags moved in this transaction. */
  private final Set<Long> moved = new HashSet<>();
  private long movedRows;
  /** Every registry seq up to this has been seen; {@link #seen} holds those above it. */
  private long lowWater;
  private final Set<Long> seen = new HashSet<>();
  private long lowWaterSince = System.nanoTime();
  /** The last {@link #lowWater} published to the tasks. */
  private long published;
  private Thread poller;
  private volatile boolean stopping;
  /** Set by {@link #close}: a move that fails now is not located (the write is being ended). */
  private volatile boolean cancelled;
  private volatile Statement running;
  private volatile WriteFailure failure;
  /** Bounds the moves and the COMMIT, which run without a socket timeout; null: no bound. */
  private MoveWatchdog watchdog;

  private MoveTransaction(WriteSpec spec, Connection connection) {
    this.spec = spec;
    this.connection = connection;
  }

  /** Connects and begins the transaction ({@code commitSql}); fails before any task runs. */
  static MoveTransaction begin(WriteSpec spec) throws SQLException {
    Connection connection = spec.connect();
    MoveTransaction transaction = new MoveTransaction(spec, connection);
    try {
      connection.setAutoCommit(false);
      transaction.runCommitSql();
      transaction.watchdog = MoveWatchdog.start(spec, connection);
    } catch (SQLException | RuntimeException e) {
      transaction.close();
      throw e;
    }
    return transaction;
  }

  /** Starts moving committed chunks while the tasks run (a daemon thread). */
  void streamWhileTasksRun() {
    poller = new Thread(this::pollUntilStopped, "sparkpg-move " + spec.label);
    poller.setDaemon(true);
    poller.start();
  }

  private void pollUntilStopped() {
    try {
      while (!stopping) {
        if (!moveNewChunks()) {
          synchronized (wake) {
            if (!stopping) {
              wake.wait(POLL_MILLIS);
            }
          }
        }
      }
    } catch (SQLException | WriteFailure e) {
      // nothing more moves: the tasks stop, commit() reports it if the job gets there, and
      // Python finds it in WriteOutcomes when the job fails first
      failure = e instanceof WriteFailure
          ? (WriteFailure) e : WriteFailure.ofDriver(WriteFailure.MOVING, (SQLException) e, false);
      WriteOutcomes.moveFailed(spec.writeId, failure); // before a stopped task fails the job
      stopTheTasks(failure);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Moves the chunks registered since the last poll; false when there were none. Registry rows
   * can commit out of seq order, so the poll reads every seq above the low-water mark (below it
   * all were seen); a gap left by a chunk that was rolled back is passed after a few seconds
   * (a chunk committed later still is moved by the commit).
   */
  private boolean moveNewChunks() throws SQLException {
    List<Long> fresh = new ArrayList<>();
    try (PreparedStatement poll = connection.prepareStatement(spec.pollSql)) {
      poll.setLong(1, lowWater);
      running = poll;
      try (ResultSet rows = poll.executeQuery()) {
        while (rows.next()) {
          if (!seen.add(rows.getLong(1))) {
            continue;
          }
          long tag = rows.getLong(2);
          Long attempt = chosen.putIfAbsent(rows.getInt(3), AttemptCommitted.attemptOf(tag));
          if (attempt == null || attempt == AttemptCommitted.attemptOf(tag)) {
            fresh.add(tag);
          }
        }
      }
    } finally {
      running = null;
    }
    advanceLowWater();
    if (!fresh.isEmpty() && !stopping) {
      move(fresh);
    }
    publishProgress();
    return !fresh.isEmpty();
  }

  /** Tells the tasks how far the moves are ({@link WriteSpec#progressSql}), when it changed. */
  private void publishProgress() throws SQLException {
    if (lowWater == published) {
      return;
    }
    try (PreparedStatement progress = connection.prepareStatement(spec.progressSql)) {
      progress.setLong(1, lowWater);
      running = progress;
      progress.executeQuery().close();
      published = lowWater;
    } finally {
      running = null;
    }
  }

  private void advanceLowWater() {
    long before = lowWater;
    while (seen.remove(lowWater + 1)) {
      lowWater++;
    }
    if (lowWater != before) {
      lowWaterSince = System.nanoTime();
    } else if (!seen.isEmpty() && System.nanoTime() - lowWaterSince > GAP_NANOS) {
      lowWater = Collections.min(seen) - 1; // pass the gap
      advanceLowWater();
    }
  }

  /**
   * Moves the chunks {@code tags}, each move under the {@link #watchdog} (one may move every row
   * of the write); a failure is a {@link WriteFailure} (phase moving).
   */
  private void move(List<Long> tags) throws SQLException {
    if (spec.streamed()) {
      for (long tag : tags) {
        watched(WriteFailure.MOVING, false, () -> moveChunk(tag));
      }
    } else {
      watched(WriteFailure.MOVING, false, () -> moveTagged(tags));
    }
  }

  /** Runs {@code call} under the {@link #watchdog}, or as it is when there is none. */
  private void watched(String phase, boolean commit, MoveWatchdog.Call call) throws SQLException {
    if (watchdog == null) {
      call.run();
    } else {
      watchdog.run(phase, commit, call);
    }
  }

  private void moveChunk(long tag) {
    try (Statement move = connection.createStatement()) {
      running = move;
      movedRows += move.executeUpdate(WriteSpec.forChunk(spec.moveSql, tag));
      moved.add(tag);
    } catch (SQLException e) {
      throw moveFailure(e, Collections.singletonList(tag));
    } finally {
      running = null;
    }
  }

  private void moveTagged(List<Long> tags) {
    try (PreparedStatement move = connection.prepareStatement(spec.moveSql)) {
      Array array = connection.createArrayOf("int8", tags.toArray(new Long[0]));
      move.setArray(1, array);
      running = move;
      movedRows += move.executeUpdate();
      moved.addAll(tags);
    } catch (SQLException e) {
      throw moveFailure(e, tags);
    } finally {
      running = null;
    }
  }

  /** The failure of a move of {@code tags}; a refused value is {@link #locate}d. */
  private WriteFailure moveFailure(SQLException e, List<Long> tags) {
    WriteFailure failure = WriteFailure.ofDriver(WriteFailure.MOVING, e, false);
    String state = failure.getSqlState();
    if (state != null && state.startsWith("22") && !cancelled) {
      locate(failure, tags);
    }
    return failure;
  }

  /**
   * Names the column, the row's key and the value the move refused: rolls the (failed)
   * transaction back and casts the rows of {@code tags} one by one in a PL/pgSQL loop, whose
   * first failure is raised with the staging column in COLUMN, the key in DETAIL and the value
   * in HINT. Bounded by {@link #LOCATE_TIMEOUT}; when it finds nothing the failure stays as is.
   */
  private void locate(WriteFailure failure, List<Long> tags) {
    StringBuilder selected = new StringBuilder();
    StringBuilder checks = new StringBuilder();
    String key = keyDetail();
    for (WriteSpec.Column c : spec.columns) {
      selected.append(selected.length() == 0 ? "" : ", ").append(c.staged);
      if (!c.cast.isEmpty()) {
        checks.append("BEGIN PERFORM r.").append(c.staged).append("::").append(c.cast)
            .append("; EXCEPTION WHEN data_exception THEN RAISE EXCEPTION USING ")
            .append("ERRCODE = SQLSTATE, MESSAGE = SQLERRM, COLUMN = '").append(c.staged)
            .append("', HINT = left(r.").append(c.staged).append("::text, ")
            .append(WriteFailure.VALUE_CHARS + 1).append(')').append(key).append("; END; ");
      }
    }
    if (checks.length() == 0) {
      return;
    }
    String sql = "DO $sparkpg_locate$ DECLARE r record; BEGIN FOR r IN SELECT " + selected
        + " FROM " + spec.rowsOf(tags) + " LOOP " + checks + "END LOOP; END $sparkpg_locate$";
    try (Statement statement = connection.createStatement()) {
      connection.rollback();
      statement.execute("SET LOCAL statement_timeout = '" + LOCATE_TIMEOUT + "'");
      statement.execute(sql);
    } catch (SQLException located) {
      ServerErrorMessage found = located instanceof PSQLException
          ? ((PSQLException) located).getServerErrorMessage() : null;
      for (WriteSpec.Column c : spec.columns) {
        if (found != null && c.staged.equals(found.getColumn())) {
          failure.naming(c.frame, c.target, found.getDetail(), found.getHint());
        }
      }
    } finally {
      try {
        connection.rollback();
      } catch (SQLException ignored) {
        // the transaction is lost already; the failure is reported as it is
      }
    }
  }

  /** {@code , DETAIL = '(k1, k2)=(' || ... || ')'} over the loop's row, or empty (no key). */
  private String keyDetail() {
    if (spec.key.length == 0) {
      return "";
    }
    StringBuilder names = new StringBuilder();
    StringBuilder values = new StringBuilder();
    for (int k = 0; k < spec.key.length; k++) {
      WriteSpec.Column c = spec.columns.get(spec.key[k]);
      names.append(k == 0 ? "" : ", ").append(c.target.replace("'", "''"));
      values.append(", r.").append(c.staged).append("::text");
    }
    return ", DETAIL = '(" + names + ")=(' || concat_ws(', '" + values + ") || ')'";
  }

  /**
   * A move failed (a constraint, a lock timeout...): the transaction is lost, so roll it back and
   * record why in the registry; each task looks after its next chunk and fails with the reason,
   * instead of staging the rest of its rows for nothing.
   */
  private void stopTheTasks(WriteFailure cause) {
    try {
      connection.rollback();
      try (PreparedStatement record = connection.prepareStatement(spec.failSql)) {
        record.setString(1, cause.getSqlState() == null ? "" : cause.getSqlState());
        record.executeUpdate();
      }
      connection.commit();
    } catch (SQLException ignored) {
      // the tasks finish their rows, and commit() reports the failure
    }
  }

  private void runCommitSql() throws SQLException {
    try (Statement statement = connection.createStatement()) {
      for (String sql : spec.commitSql) {
        statement.execute(sql);
      }
    }
  }

  /**
   * Moves the committed attempts' remaining chunks and commits. Throws a {@link WriteFailure}:
   * phase moving (the transaction rolled back, the target unchanged) when a move failed or the
   * moved rows are not the rows sent; phase committing when the COMMIT failed.
   */
  void commit(List<AttemptCommitted> committed) {
    try {
      moveTheRest(committed);
    } catch (SQLException e) {
      throw WriteFailure.ofDriver(WriteFailure.MOVING, e, false);
    }
    try {
      watched(WriteFailure.COMMITTING, true, connection::commit);
    } catch (SQLException e) {
      throw WriteFailure.ofDriver(WriteFailure.COMMITTING, e, true);
    }
  }

  private void moveTheRest(List<AttemptCommitted> committed) throws SQLException {
    stopPolling(false);
    if (failure != null) {
      throw failure;
    }
    Set<Long> wanted = new HashSet<>();
    long sent = 0;
    for (AttemptCommitted attempt : committed) {
      for (long tag : attempt.tags()) {
        wanted.add(tag);
      }
      sent += attempt.rows;
    }
    if (!wanted.containsAll(moved)) { // moved rows of an attempt that did not commit
      LOG.info("{}: chunks of task attempts that did not commit were moved; rolled back, moving"
          + " the {} chunks of the committed attempts again", spec.label, wanted.size());
      connection.rollback();
      moved.clear();
      movedRows = 0;
      runCommitSql();
    }
    List<Long> rest = new ArrayList<>();
    for (long tag : wanted) {
      if (!moved.contains(tag)) {
        rest.add(tag);
      }
    }
    if (!rest.isEmpty()) {
      move(rest);
    }
    if (spec.streamed() && movedRows != sent) { // an internal check: never seen
      throw new SQLException("moved " + movedRows + " rows, sent " + sent, "XX000");
    }
  }

  private void stopPolling(boolean cancel) {
    stopping = true;
    cancelled = cancel;
    synchronized (wake) {
      wake.notifyAll();
    }
    if (poller == null) {
      return;
    }
    Statement statement = running;
    if (cancel && statement != null) {
      try {
        statement.cancel();
      } catch (SQLException ignored) {
        // the connection is closed next
      }
    }
    try {
      poller.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    poller = null;
  }

  /** Stops the poller (cancelling its statement), rolls back what is not committed, closes. */
  @Override
  public void close() {
    stopPolling(true);
    if (watchdog != null) {
      watchdog.close();
    }
    try {
      if (!connection.getAutoCommit()) {
        connection.rollback();
      }
    } catch (SQLException ignored) {
      // closing the connection ends the transaction on the server as well
    } finally {
      try {
        connection.close();
      } catch (SQLException ignored) {
        // nothing is left to end
      }
    }
  }
}
