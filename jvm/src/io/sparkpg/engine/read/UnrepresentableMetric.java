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
   * One task's count for one column, read live from {@code counts[column]}: Spark asks for the
   * task's metrics every 100 rows, so one object serves the whole task.
   */
  static CustomTaskMetric taskValue(int column, long[] counts) {
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
