package io.sparkpg.engine.read;

import java.io.Serializable;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkContext$;
import org.apache.spark.util.AccumulatorV2;

/**
 * Per-column counts of the values a read returned as NULL because Spark cannot hold them.
 *
 * <p>An accumulator of {@code partition -> counts}: each task adds the counts of its partition
 * when it finishes, the driver keeps, per partition and column, the largest count any successful
 * task reported. So task retries, speculative copies and repeated actions do not count twice, and
 * a partial read (a limit) never hides a complete one: {@link #counts} is, per column, the sum over
 * partitions of the most complete read seen so far (cumulative over actions, never double).
 * Failed tasks' updates are dropped by Spark. The driver keeps one instance per read id
 * ({@link #register}); Python asks {@link #counts(String)} through py4j.
 */
public final class UnrepresentableCounts
    extends AccumulatorV2<UnrepresentableCounts.PartitionCounts, Map<Integer, long[]>> {
  private static final long serialVersionUID = 1L;
  private static final Map<String, UnrepresentableCounts> READS = new ConcurrentHashMap<>();

  /** What one task adds: its partition and a count per column of the read. */
  static final class PartitionCounts implements Serializable {
    private static final long serialVersionUID = 1L;
    final int partition;
    final long[] counts;

    PartitionCounts(int partition, long[] counts) {
      this.partition = partition;
      this.counts = counts;
    }
  }

  private final int width;
  private final HashMap<Integer, long[]> byPartition = new HashMap<>();

  private UnrepresentableCounts(int width) {
    this.width = width;
  }

  /**
   * A new accumulator for {@code readId}, registered with the active SparkContext (driver). A
   * stopped context (the job was interrupted while planning) is an error: creating a new one
   * here would start a second Spark inside a job that is shutting down.
   */
  static UnrepresentableCounts register(String readId, int width) {
    UnrepresentableCounts acc = new UnrepresentableCounts(width);
    scala.Option<SparkContext> active = SparkContext$.MODULE$.getActive();
    if (active.isEmpty()) {
      throw new IllegalStateException("sparkpg copy engine: the SparkContext is stopped");
    }
    active.get().register(acc);
    if (!readId.isEmpty()) {
      READS.put(readId, acc);
    }
    return acc;
  }

  /** Per column (in the read's column order) the values read as NULL, or null for an unknown id. */
  public static long[] counts(String readId) {
    UnrepresentableCounts acc = READS.get(readId);
    return acc == null ? null : acc.total();
  }

  /** True once a task of {@code readId} has reported its partition's counts (an action ran). */
  public static boolean reported(String readId) {
    UnrepresentableCounts acc = READS.get(readId);
    return acc != null && !acc.isZero();
  }

  /** Forget {@code readId} (the DataFrame keeps counting, nobody can ask any more). */
  public static void release(String readId) {
    READS.remove(readId);
  }

  synchronized long[] total() {
    long[] sum = new long[width];
    for (long[] counts : byPartition.values()) {
      for (int i = 0; i < width; i++) {
        sum[i] += counts[i];
      }
    }
    return sum;
  }

  @Override
  public synchronized boolean isZero() {
    return byPartition.isEmpty();
  }

  @Override
  public synchronized AccumulatorV2<PartitionCounts, Map<Integer, long[]>> copy() {
    UnrepresentableCounts other = new UnrepresentableCounts(width);
    for (Map.Entry<Integer, long[]> e : byPartition.entrySet()) {
      other.byPartition.put(e.getKey(), e.getValue().clone());
    }
    return other;
  }

  @Override
  public synchronized void reset() {
    byPartition.clear();
  }

  @Override
  public synchronized void add(PartitionCounts v) {
    keepLargest(v.partition, v.counts);
  }

  @Override
  public void merge(AccumulatorV2<PartitionCounts, Map<Integer, long[]>> other) {
    for (Map.Entry<Integer, long[]> e : other.value().entrySet()) {
      synchronized (this) {
        keepLargest(e.getKey(), e.getValue());
      }
    }
  }

  @Override
  public synchronized Map<Integer, long[]> value() {
    return new HashMap<>(byPartition);
  }

  private void keepLargest(int partition, long[] counts) {
    long[] kept = byPartition.get(partition);
    if (kept == null) {
      byPartition.put(partition, counts.clone());
      return;
    }
    for (int i = 0; i < width; i++) {
      kept[i] = Math.max(kept[i], counts[i]);
    }
  }
}
