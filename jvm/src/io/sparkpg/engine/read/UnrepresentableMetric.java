package io.sparkpg.engine.read;

import org.apache.spark.sql.connector.metric.CustomSumMetric;
import org.apache.spark.sql.connector.metric.CustomTaskMetric;

/**
 * A column's count of values read as NULL, summed over tasks in the SQL tab. Spark aggregates
 * through a no-argument instance, so the class has one; the column is in name and description.
 */
public final class UnrepresentableMetric extends CustomSumMetric {
  private final String name;
  private final String description;

  public UnrepresentableMetric() {
    this("unrepresentable", "values read as NULL");
  }

  UnrepresentableMetric(int column, String columnName) {
    this(metricName(column), "values read as NULL in " + columnName);
  }

  private UnrepresentableMetric(String name, String description) {
    this.name = name;
    this.description = description;
  }

  static String metricName(int column) {
    return "sparkpg_unrepresentable_" + column;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String description() {
    return description;
  }

  /**
   * One task's counts for the counted columns, read live from {@code counts}, as the partition
   * reader answers Spark's {@code currentMetricsValues}.
   */
  static final class TaskValues {
    private static final CustomTaskMetric[] UNCHANGED = new CustomTaskMetric[0];

    private final int[] columns;
    private final long[] counts;
    private final long[] answered;
    private final CustomTaskMetric[] metrics;

    /** {@code columns}: the counted columns, indexes into {@code counts}. */
    TaskValues(int[] columns, long[] counts) {
      this.columns = columns.clone();
      this.counts = counts;
      this.answered = new long[columns.length];
      this.metrics = new CustomTaskMetric[columns.length];
      for (int k = 0; k < columns.length; k++) {
        metrics[k] = taskValue(columns[k], counts);
      }
    }

    /**
     * Every counted column's count when one changed since the last answer, else none: Spark
     * asks every 100 rows (and once when the task ends, however it ends) and keeps the last
     * value it was given, so an empty answer leaves it right. Answering every time cost about
     * 5% of a narrow read's task CPU (a map lookup per metric in Spark).
     */
    CustomTaskMetric[] changed() {
      boolean changed = false;
      for (int k = 0; k < columns.length; k++) {
        long count = counts[columns[k]];
        if (count != answered[k]) {
          answered[k] = count;
          changed = true;
        }
      }
      return changed ? metrics : UNCHANGED;
    }
  }

  private static CustomTaskMetric taskValue(int column, long[] counts) {
    final String metric = metricName(column);
    return new CustomTaskMetric() {
      @Override
      public String name() {
        return metric;
      }

      @Override
      public long value() {
        return counts[column];
      }
    };
  }
}
