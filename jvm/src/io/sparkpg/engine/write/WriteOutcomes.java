package io.sparkpg.engine.write;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the driver knows about a failed write once Spark has thrown, kept by write id for Python
 * to {@link #take}: the failure of the driver's move (the tasks only know that it failed), and,
 * for a direct write, the partitions whose tasks had committed their rows. Only failed writes
 * leave an entry, and {@link #take} removes it.
 */
public final class WriteOutcomes {
  private static final Map<String, WriteOutcomes> BY_WRITE = new ConcurrentHashMap<>();

  private final WriteFailure moveFailure;
  private final int[] committedPartitions;
  private final long committedRows;

  private WriteOutcomes(WriteFailure moveFailure, int[] committedPartitions, long committedRows) {
    this.moveFailure = moveFailure;
    this.committedPartitions = committedPartitions;
    this.committedRows = committedRows;
  }

  /** Records that the driver's move of write {@code writeId} failed. */
  static void moveFailed(String writeId, WriteFailure failure) {
    BY_WRITE.put(writeId, new WriteOutcomes(failure, new int[0], 0));
  }

  /** Records the partitions of a failed direct write whose tasks committed, and their rows. */
  static void committed(String writeId, int[] partitions, long rows) {
    BY_WRITE.put(writeId, new WriteOutcomes(null, partitions, rows));
  }

  /** The outcome of the failed write {@code writeId}, removed; null when nothing was recorded. */
  public static WriteOutcomes take(String writeId) {
    return BY_WRITE.remove(writeId);
  }

  /** The failure of the driver's move, or null. */
  public WriteFailure getMoveFailure() {
    return moveFailure;
  }

  /** The partitions (sorted) whose direct-write tasks committed before the write failed. */
  public int[] getCommittedPartitions() {
    return committedPartitions.clone();
  }

  /** The rows those tasks committed. */
  public long getCommittedRows() {
    return committedRows;
  }
}
