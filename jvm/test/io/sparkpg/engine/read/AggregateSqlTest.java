package io.sparkpg.engine.read;

import static io.sparkpg.engine.testing.Check.assertEquals;

import org.apache.spark.sql.connector.expressions.Expression;
import org.apache.spark.sql.connector.expressions.Expressions;
import org.apache.spark.sql.connector.expressions.aggregate.AggregateFunc;
import org.apache.spark.sql.connector.expressions.aggregate.Aggregation;
import org.apache.spark.sql.connector.expressions.aggregate.Avg;
import org.apache.spark.sql.connector.expressions.aggregate.Count;
import org.apache.spark.sql.connector.expressions.aggregate.CountStar;
import org.apache.spark.sql.connector.expressions.aggregate.Max;
import org.apache.spark.sql.connector.expressions.aggregate.Min;
import org.apache.spark.sql.connector.expressions.aggregate.Sum;

/** Aggregations as SQL (AggregateSql): guards, tallies, result types, and what is refused. */
public final class AggregateSqlTest {
  private static final ReadSpec SPEC = Specs.spec(("["
      + "{'name': 'i', 'kind': 'int4', 'expr': '@i@', 'filter': 'ordering'},"
      + "{'name': 'l', 'kind': 'int8', 'expr': '@l@', 'filter': 'ordering'},"
      + "{'name': 'b', 'kind': 'bool', 'expr': '@b@', 'filter': 'ordering'},"
      + "{'name': 'f', 'kind': 'float8', 'expr': '@f@', 'filter': 'ordering'},"
      + "{'name': 'n', 'kind': 'numeric', 'precision': 12, 'scale': 2, 'expr': '@n@', "
      + "'filter': 'ordering'},"
      + "{'name': 's', 'kind': 'text', 'expr': '@s@', 'filter': 'equality'},"
      + "{'name': 'c', 'kind': 'text', 'expr': '@c@', 'filter': 'none'},"
      + "{'name': 'x', 'kind': 'text', 'expr': '@x@::text AS @x@', 'filter': 'none'}"
      + "]").replace('\'', '"').replace("@", "\\\""));

  private static AggregateSql.Pushed push(boolean complete, boolean ansi, Expression[] groups,
      AggregateFunc... functions) {
    return AggregateSql.translate(SPEC, new Aggregation(functions, groups), complete, ansi);
  }

  private static Expression col(String name) {
    return Expressions.column(name);
  }

  public void testCountsMinMaxAndGuardedGroupsWithTallies() {
    AggregateSql.Pushed p = push(false, false, new Expression[] {col("n")}, new CountStar(),
        new Min(col("b")), new Max(col("i")), new Count(col("s"), false));
    String n = "(CASE WHEN ((\"n\" - \"n\") = 0) THEN \"n\" END)";
    assertEquals(java.util.Arrays.asList(n, "count(*)", "bool_and(\"b\")", "max(\"i\")",
        "count(\"s\")", "count(*) FILTER (WHERE NOT ((\"n\" - \"n\") = 0))"), p.select);
    assertEquals(java.util.Collections.singletonList(n), p.groupBy);
    assertEquals(1, p.shape.talliesInto.length);
    assertEquals(4, p.shape.talliesInto[0]);
    assertEquals("struct<n:decimal(12,2),agg0:bigint,agg1:boolean,agg2:int,agg3:bigint>",
        p.shape.schema().simpleString());
  }

  /** A guarded column is aggregated over its representable values with a FILTER. */
  public void testAggregatesOfAGuardedColumnFilterItsUnrepresentableValues() {
    String guard = "FILTER (WHERE ((\"n\" - \"n\") = 0))";
    AggregateSql.Pushed p = push(true, false, new Expression[0], new Min(col("n")),
        new Count(col("n"), true), new Sum(col("n"), false));
    assertEquals(java.util.Arrays.asList("min(\"n\") " + guard,
        "count(DISTINCT \"n\") " + guard,
        "(CASE WHEN abs(sum(\"n\") " + guard + ") < 1e20 THEN sum(\"n\") " + guard + " END)",
        "count(*) FILTER (WHERE NOT ((\"n\" - \"n\") = 0))"), p.select);
  }

  public void testSumsFollowSparkTypesAndOverflow() {
    Expression[] none = new Expression[0];
    assertEquals("((((sum(\"l\") + 9223372036854775808) % 18446744073709551616 + "
        + "18446744073709551616) % 18446744073709551616) - 9223372036854775808)::int8",
        push(false, false, none, new Sum(col("l"), false)).select.get(0));
    assertEquals("sum(\"i\")", push(true, true, none, new Sum(col("i"), false)).select.get(0));
    AggregateSql.Pushed decimal = push(true, false, none, new Sum(col("n"), false));
    assertEquals("struct<agg0:decimal(22,2)>", decimal.shape.schema().simpleString());
    assertEquals(null, push(false, false, none, new Sum(col("i"), false))); // partial int
    assertEquals(null, push(true, true, none, new Sum(col("l"), false))); // ANSI bigint
    assertEquals(null, push(false, false, none, new Sum(col("n"), false))); // partial decimal
    assertEquals(null, push(true, false, none, new Sum(col("f"), false)));
  }

  /** A column without filters is counted when it is selected as a plain column, no alias. */
  public void testCountOfAColumnSelectedWithAnAliasStaysInSpark() {
    Expression[] none = new Expression[0];
    assertEquals("count(\"c\")",
        push(false, false, none, new Count(col("c"), false)).select.get(0));
    assertEquals(null, push(false, false, none, new Count(col("x"), false)));
  }

  public void testRefusals() {
    Expression[] none = new Expression[0];
    assertEquals(null, push(true, false, none, new Avg(col("i"), false)));
    assertEquals(null, push(true, false, none, new Min(col("s")))); // collated text
    assertEquals(null, push(true, false, none, new Max(col("f")))); // float: -0.0 or 0.0
    assertEquals(null, push(true, false, new Expression[] {col("f")}, new CountStar()));
    assertEquals(null, push(false, false, none, new Count(col("i"), true))); // partial distinct
    assertEquals(null, push(true, false, none, new Max(col("nope"))));
  }
}
