package io.sparkpg.engine.read;

import static io.sparkpg.engine.testing.Check.assertEquals;

import org.apache.spark.sql.connector.metric.CustomTaskMetric;

/**
 * What a partition reader answers Spark's {@code currentMetricsValues} (asked every 100 rows and
 * once more when the task ends; Spark keeps the last value it was given per metric).
 */
public final class UnrepresentableMetricTest {
  private static String answer(CustomTaskMetric[] metrics) {
    StringBuilder out = new StringBuilder();
    for (CustomTaskMetric metric : metrics) {
      out.append(metric.name()).append('=').append(metric.value()).append(' ');
    }
    return out.toString().trim();
  }

  public void testEveryCountIsAnsweredAfterAnyChangeAndNothingWhileNoneChanges() {
    long[] counts = new long[4];
    UnrepresentableMetric.TaskValues values =
        new UnrepresentableMetric.TaskValues(new int[] {1, 3}, counts);
    assertEquals("", answer(values.changed())); // all zero: Spark's starting value
    counts[3] = 2;
    assertEquals("sparkpg_unrepresentable_1=0 sparkpg_unrepresentable_3=2",
        answer(values.changed()));
    assertEquals("", answer(values.changed()));
    counts[0] = 9; // not a counted column
    assertEquals("", answer(values.changed()));
    counts[1] = 1;
    counts[3] = 5;
    assertEquals("sparkpg_unrepresentable_1=1 sparkpg_unrepresentable_3=5",
        answer(values.changed()));
    assertEquals("", answer(values.changed()));
  }

  public void testATaskWithoutCountedColumnsAnswersNothing() {
    UnrepresentableMetric.TaskValues values =
        new UnrepresentableMetric.TaskValues(new int[0], new long[2]);
    assertEquals(0, values.changed().length);
  }
}
