package io.sparkpg.engine.read;

import static io.sparkpg.engine.testing.Check.assertEquals;

import java.time.LocalDate;
import org.apache.spark.sql.connector.expressions.Expression;
import org.apache.spark.sql.connector.expressions.Expressions;
import org.apache.spark.sql.connector.expressions.LiteralValue;
import org.apache.spark.sql.connector.expressions.filter.Predicate;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Spark predicates as PostgreSQL SQL (FilterSql): every pushed kind, literals and quoting, NULL
 * handling, the guards of counted columns, and what stays in Spark (null).
 */
public final class FilterSqlTest {
  private static final ReadSpec SPEC = Specs.spec(("["
      + "{'name': 'i', 'kind': 'int4', 'expr': '@i@', 'filter': 'ordering'},"
      + "{'name': 'l', 'kind': 'int8', 'expr': '@l@', 'filter': 'ordering'},"
      + "{'name': 'o', 'kind': 'oid', 'expr': '@o@', 'filter': 'ordering'},"
      + "{'name': 'b', 'kind': 'bool', 'expr': '@b@', 'filter': 'ordering'},"
      + "{'name': 'f', 'kind': 'float4', 'expr': '@f@', 'filter': 'ordering'},"
      + "{'name': 'd8', 'kind': 'float8', 'expr': '@d8@', 'filter': 'ordering'},"
      + "{'name': 'n', 'kind': 'numeric', 'precision': 12, 'scale': 2, 'expr': '@n@', "
      + "'filter': 'ordering'},"
      + "{'name': 's', 'kind': 'text', 'expr': '@s@', 'filter': 'equality'},"
      + "{'name': 'c', 'kind': 'text', 'expr': '@c@', 'filter': 'ordering'},"
      + "{'name': 'p', 'kind': 'text', 'expr': '@p@::text', 'filter': 'none'},"
      + "{'name': 'd', 'kind': 'date', 'expr': '@d@', 'filter': 'ordering'},"
      + "{'name': 'ts', 'kind': 'timestamp', 'expr': '@ts@', 'filter': 'ordering'},"
      + "{'name': 'tz', 'kind': 'timestamptz', 'expr': '@tz@', 'filter': 'ordering'}"
      + "]").replace('\'', '"').replace("@", "\\\""));
  private static final String NUMERIC_GUARD = "((\"n\" - \"n\") = 0)";

  private static String sql(Predicate p) {
    return new FilterSql(SPEC).toSql(p, true);
  }

  private static Predicate p(String name, Expression... args) {
    return new Predicate(name, args);
  }

  private static Expression col(String name) {
    return Expressions.column(name);
  }

  private static Expression lit(Object value, DataType type) {
    return new LiteralValue<>(value, type);
  }

  private static Expression str(String value) {
    return lit(UTF8String.fromString(value), DataTypes.StringType);
  }

  private static Expression i(int value) {
    return lit(value, DataTypes.IntegerType);
  }

  public void testEqualityAndNullSafeEquality() {
    assertEquals("(\"i\" = (5))", sql(p("=", col("i"), i(5))));
    assertEquals("(\"i\" IS NOT DISTINCT FROM (-7))", sql(p("<=>", col("i"), i(-7))));
    assertEquals("(\"l\" = (9223372036854775807))",
        sql(p("=", col("l"), lit(Long.MAX_VALUE, DataTypes.LongType))));
  }

  /**
   * An oid is unsigned: PostgreSQL casts the integer -1 to oid 4294967295 and refuses 2^32, where
   * Spark compares longs. Literals outside 0..4294967295 stay in Spark.
   */
  public void testOidLiteralsInItsRangeOnly() {
    assertEquals("(\"o\" = '4294967295'::oid)",
        sql(p("=", col("o"), lit(4294967295L, DataTypes.LongType))));
    assertEquals("(\"o\" IN ('0'::oid, '7'::oid))", sql(p("IN", col("o"),
        lit(0L, DataTypes.LongType), lit(7L, DataTypes.LongType))));
    assertEquals(null, sql(p(">", col("o"), lit(-1L, DataTypes.LongType))));
    assertEquals(null, sql(p("<", col("o"), lit(4294967296L, DataTypes.LongType))));
  }

  public void testOrderingOperators() {
    for (String op : new String[] {"<", "<=", ">", ">="}) {
      assertEquals("(\"i\" " + op + " (1))", sql(p(op, col("i"), i(1))));
    }
  }

  public void testAStringIsQuotedWithDoubledQuotes() {
    assertEquals("(\"s\" = 'it''s \\ ''')", sql(p("=", col("s"), str("it's \\ '"))));
    assertEquals("(\"s\" = '')", sql(p("=", col("s"), str(""))));
    assertEquals("(\"s\" = 'héllo ✓')", sql(p("=", col("s"), str("héllo ✓"))));
  }

  public void testAStringWithNulStaysInSpark() {
    assertEquals(null, sql(p("=", col("s"), str("a\0b"))));
  }

  public void testStringRangesOnlyUnderAnOrderingCollation() {
    assertEquals(null, sql(p("<", col("s"), str("m"))));
    assertEquals("(\"c\" < 'm')", sql(p("<", col("c"), str("m"))));
  }

  public void testAColumnWithoutFiltersOrUnknownStaysInSpark() {
    assertEquals(null, sql(p("=", col("p"), str("x"))));
    assertEquals(null, sql(p("IS_NULL", col("p"))));
    assertEquals(null, sql(p("=", col("nope"), i(1))));
    assertEquals(null, sql(p("=", Expressions.column("i.x"), i(1)))); // a nested field
  }

  public void testALiteralOfAnotherTypeOrNullStaysInSpark() {
    assertEquals(null, sql(p("=", col("i"), lit(5L, DataTypes.LongType))));
    assertEquals(null, sql(p("=", col("l"), i(5))));
    assertEquals(null, sql(p("=", col("i"), lit(null, DataTypes.IntegerType))));
    assertEquals(null, sql(p("=", col("i"), col("l")))); // two columns
    assertEquals(null, sql(p("=", col("n"),
        lit(Decimal.apply("1.5"), DataTypes.createDecimalType(12, 1)))));
  }

  public void testIn() {
    assertEquals("(\"i\" IN ((1), (2), (3)))", sql(p("IN", col("i"), i(1), i(2), i(3))));
    assertEquals("(\"s\" IN ('a', 'b''c'))", sql(p("IN", col("s"), str("a"), str("b'c"))));
    assertEquals(null, sql(p("IN", col("i"), i(1), lit(null, DataTypes.IntegerType))));
    assertEquals(null, sql(p("IN", col("i"), i(1), col("i"))));
    assertEquals(null, sql(p("IN", col("i"))));
  }

  public void testIsNullAndIsNotNull() {
    assertEquals("(\"i\" IS NULL)", sql(p("IS_NULL", col("i"))));
    assertEquals("(\"s\" IS NOT NULL)", sql(p("IS_NOT_NULL", col("s"))));
    // Values read as NULL count as NULL.
    assertEquals("(\"n\" IS NULL OR NOT " + NUMERIC_GUARD + ")", sql(p("IS_NULL", col("n"))));
    assertEquals("(\"d\" IS NOT NULL AND pg_catalog.isfinite(\"d\"))",
        sql(p("IS_NOT_NULL", col("d"))));
  }

  public void testACountedColumnIsGuardedAndNeverNegated() {
    Predicate gt = p(">", col("n"), lit(Decimal.apply("1.50"), DataTypes.createDecimalType(12, 2)));
    assertEquals("(\"n\" > '1.50'::numeric AND " + NUMERIC_GUARD + ")", sql(gt));
    assertEquals(null, sql(p("NOT", gt)));
    assertEquals(null, new FilterSql(SPEC).toSql(p("IN", col("d"),
        lit((int) LocalDate.of(2024, 2, 29).toEpochDay(), DataTypes.DateType)), false));
    assertEquals("(\"ts\" = '1970-01-01 00:00:00.000000'::timestamp AND "
        + "(\"ts\" > '-infinity'::timestamp AND \"ts\" <= '294247-01-10 04:00:54.775807'::timestamp))",
        sql(p("=", col("ts"), lit(0L, DataTypes.TimestampType))));
  }

  public void testNotAndOr() {
    Predicate eq = p("=", col("i"), i(5));
    Predicate lt = p("<", col("l"), lit(3L, DataTypes.LongType));
    assertEquals("(NOT (\"i\" = (5)))", sql(p("NOT", eq)));
    assertEquals("((\"i\" = (5)) AND (\"l\" < (3)))", sql(p("AND", eq, lt)));
    assertEquals("((\"i\" = (5)) OR (\"l\" < (3)))", sql(p("OR", eq, lt)));
    Predicate kept = p("STARTS_WITH", col("s"), str("a"));
    assertEquals(null, sql(p("AND", eq, kept)));
    assertEquals(null, sql(p("OR", kept, eq)));
    assertEquals(null, sql(kept));
    assertEquals(null, sql(p("ALWAYS_TRUE")));
  }

  public void testBooleanAndFloatLiterals() {
    assertEquals("(\"b\" = TRUE)", sql(p("=", col("b"), lit(true, DataTypes.BooleanType))));
    assertEquals("(\"b\" <=> FALSE)".replace("<=>", "IS NOT DISTINCT FROM"),
        sql(p("<=>", col("b"), lit(false, DataTypes.BooleanType))));
    assertEquals("(\"f\" = '1.5'::float4)", sql(p("=", col("f"), lit(1.5f, DataTypes.FloatType))));
    assertEquals("(\"d8\" < 'NaN'::float8)",
        sql(p("<", col("d8"), lit(Double.NaN, DataTypes.DoubleType))));
    assertEquals("(\"d8\" > '-Infinity'::float8)",
        sql(p(">", col("d8"), lit(Double.NEGATIVE_INFINITY, DataTypes.DoubleType))));
    assertEquals("(\"d8\" = '1.0E-300'::float8)",
        sql(p("=", col("d8"), lit(1e-300, DataTypes.DoubleType))));
  }

  public void testNumericLiteralIsPlainText() {
    assertEquals("(\"n\" = '-12345678.90'::numeric AND " + NUMERIC_GUARD + ")",
        sql(p("=", col("n"), lit(Decimal.apply("-12345678.90"),
            DataTypes.createDecimalType(12, 2)))));
  }

  public void testDateLiteralsIncludingBeforeChrist() {
    String guard = " AND pg_catalog.isfinite(\"d\"))";
    assertEquals("(\"d\" = DATE '2024-02-29'" + guard, sql(p("=", col("d"),
        lit((int) LocalDate.of(2024, 2, 29).toEpochDay(), DataTypes.DateType))));
    // Proleptic year 0 is 1 BC, year -4712 is 4713 BC.
    assertEquals("(\"d\" = DATE '0001-12-31 BC'" + guard, sql(p("=", col("d"),
        lit((int) LocalDate.of(0, 12, 31).toEpochDay(), DataTypes.DateType))));
    assertEquals("(\"d\" = DATE '4713-01-01 BC'" + guard, sql(p("=", col("d"),
        lit((int) LocalDate.of(-4712, 1, 1).toEpochDay(), DataTypes.DateType))));
  }

  /** Years after 9999 have no ISO '+'; dates PostgreSQL cannot hold stay in Spark. */
  public void testDateLiteralsAtPostgresqlsLimits() {
    String guard = " AND pg_catalog.isfinite(\"d\"))";
    String[][] cases = {
        {"10000-01-01", "DATE '10000-01-01'"},
        {"5874897-12-31", "DATE '5874897-12-31'"},
        {"-4713-11-24", "DATE '4714-11-24 BC'"},
    };
    for (String[] c : cases) {
      LocalDate date = LocalDate.parse(c[0].startsWith("-") ? c[0] : "+" + c[0]);
      assertEquals("(\"d\" >= " + c[1] + guard,
          sql(p(">=", col("d"), lit((int) date.toEpochDay(), DataTypes.DateType))));
    }
    for (LocalDate outside : new LocalDate[] {LocalDate.of(5874898, 1, 1),
        LocalDate.of(-4713, 11, 23)}) {
      assertEquals(null, sql(p("<", col("d"),
          lit((int) outside.toEpochDay(), DataTypes.DateType))));
    }
  }

  public void testTimestampLiterals() {
    String tzGuard = " AND (\"tz\" > '-infinity'::timestamptz AND \"tz\" <= "
        + "'294247-01-10 04:00:54.775807+00'::timestamptz))";
    assertEquals("(\"tz\" >= '2024-01-02 03:04:05.000006+00'::timestamptz" + tzGuard,
        sql(p(">=", col("tz"), lit(1704164645000006L, DataTypes.TimestampType))));
    assertEquals("(\"tz\" < '1969-12-31 23:59:59.999999+00'::timestamptz" + tzGuard,
        sql(p("<", col("tz"), lit(-1L, DataTypes.TimestampType))));
    long bc = LocalDate.of(0, 1, 1).toEpochDay() * 86_400_000_000L;
    assertEquals("(\"tz\" = '0001-01-01 00:00:00.000000+00 BC'::timestamptz" + tzGuard,
        sql(p("=", col("tz"), lit(bc, DataTypes.TimestampType))));
    // Before PostgreSQL's first timestamp (4713 BC): stays in Spark.
    long tooEarly = LocalDate.of(-4713, 1, 1).toEpochDay() * 86_400_000_000L;
    assertEquals(null, sql(p("=", col("tz"), lit(tooEarly, DataTypes.TimestampType))));
    // TIMESTAMP_NTZ literals are another type than the column's TIMESTAMP.
    assertEquals(null, sql(p("=", col("ts"), lit(0L, DataTypes.TimestampNTZType))));
  }

  /**
   * numeric(p,s) cannot hold ±Infinity (PostgreSQL: "A field with precision 12, scale 2 cannot
   * hold an infinite value"), so its guard is one comparison with NaN; a numeric planned without
   * a declared precision (or through a domain) keeps the guard that also excludes infinities.
   */
  public void testADeclaredNumericIsGuardedAgainstNaNAlone() {
    ColumnSpec declared = Specs.column("{'name': 'n', 'kind': 'numeric', 'precision': 12, "
        + "'scale': 2, 'expr': '\\\"n\\\"', 'pgColumn': 'n', 'pgType': 1700, "
        + "'pgTypeName': 'numeric(12,2)'}");
    assertEquals("(\"n\" <> 'NaN'::numeric)", FilterSql.representable(declared));
    ColumnSpec domain = Specs.column("{'name': 'n', 'kind': 'numeric', 'precision': 12, "
        + "'scale': 2, 'expr': '\\\"n\\\"', 'pgColumn': 'n', 'pgType': 16385, "
        + "'pgTypeName': 'money_amount'}");
    assertEquals(NUMERIC_GUARD, FilterSql.representable(domain));
  }
}
