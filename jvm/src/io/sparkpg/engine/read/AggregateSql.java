package io.sparkpg.engine.read;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.spark.sql.connector.expressions.Expression;
import org.apache.spark.sql.connector.expressions.aggregate.AggregateFunc;
import org.apache.spark.sql.connector.expressions.aggregate.Aggregation;
import org.apache.spark.sql.connector.expressions.aggregate.Count;
import org.apache.spark.sql.connector.expressions.aggregate.CountStar;
import org.apache.spark.sql.connector.expressions.aggregate.Max;
import org.apache.spark.sql.connector.expressions.aggregate.Min;
import org.apache.spark.sql.connector.expressions.aggregate.Sum;

/**
 * A Spark aggregation as one PostgreSQL {@code SELECT ... GROUP BY}, only where PostgreSQL's
 * answer is the one Spark computes from the same rows as the engine decodes them; {@code null}
 * otherwise (Spark aggregates). Rules (docs/reading.md, "Pushdown"):
 *
 * <ul>
 *   <li>{@code COUNT(*)}; {@code COUNT(col)} on any column selected as a value (a column with
 *       filters, or a plain quoted column: not a SELECT-list item with an alias such as a text
 *       policy's {@code "n"::text AS "n"}); {@code COUNT(DISTINCT col)} on columns whose equality
 *       is Spark's (filter not {@code none}), complete pushdown only;
 *   <li>{@code MIN}/{@code MAX} on {@code ordering} columns (integers, decimals, dates,
 *       timestamps, booleans as {@code bool_and}/{@code bool_or}, strings whose collation
 *       orders bytes),
 *       not floats: -0.0 equals 0.0, and of equal values Spark's {@code MIN} keeps the first it
 *       sees where PostgreSQL's {@code float8smaller} keeps the last, so the sign of a zero
 *       result would depend on the order of rows;
 *   <li>{@code SUM} of integers (bigint; outside ANSI mode wrapped to 64 bits as Spark's long
 *       addition wraps; in ANSI mode smallint/integer only, whose bigint sum PostgreSQL refuses to
 *       overflow as Spark does), of DECIMAL(p,s) with p &lt;= 28 into DECIMAL(p+10,s) (outside ANSI
 *       mode NULL past that precision, as Spark); a partial SUM only of bigint (Spark casts
 *       partial sums back to the column's type); never floats (summation order), never AVG,
 *       variance or other functions (rounding Spark does differently);
 *   <li>{@code GROUP BY} plain columns with Spark's equality, not floats (Spark turns -0.0 into
 *       0.0; PostgreSQL returns the group's first value);
 *   <li>numeric, date and timestamp columns (whose NaN, infinities and far timestamps the decoder
 *       reads as NULL and counts) are aggregated with {@code FILTER (WHERE <representable>)}
 *       and grouped over {@code CASE WHEN <representable> THEN col END}, and each such column
 *       adds a last field counting, per group, the values left out: the reader adds them to the
 *       read's counts, so the report says what a non-pushed read would have said.
 * </ul>
 */
final class AggregateSql {
  /** The largest DECIMAL precision whose SUM's Spark type (p + 10) is not capped at 38. */
  private static final int MAX_SUM_PRECISION = 28;
  private static final String WRAP = "18446744073709551616";
  private static final String HALF = "9223372036854775808";
  private static final java.util.regex.Pattern QUOTED_NAME =
      java.util.regex.Pattern.compile("\"(?:[^\"]|\"\")+\"");

  /** A pushed aggregation: what each partition selects and groups by, and its rows' shape. */
  static final class Pushed implements Serializable {
    private static final long serialVersionUID = 1L;
    final List<String> select;
    final List<String> groupBy;
    final RowShape shape;
    final String description;

    Pushed(List<String> select, List<String> groupBy, RowShape shape, String description) {
      this.select = select;
      this.groupBy = groupBy;
      this.shape = shape;
      this.description = description;
    }
  }

  private final ReadSpec spec;
  private final boolean complete;
  private final boolean ansi;
  private final Set<Integer> guarded = new LinkedHashSet<>();
  private final Set<Integer> checked = new LinkedHashSet<>();

  private AggregateSql(ReadSpec spec, boolean complete, boolean ansi) {
    this.spec = spec;
    this.complete = complete;
    this.ansi = ansi;
  }

  /**
   * {@code aggregation} as SQL, or null. {@code complete}: one partition holds each group (Spark
   * takes the rows as final); {@code ansi}: Spark's {@code spark.sql.ansi.enabled}.
   */
  static Pushed translate(ReadSpec spec, Aggregation aggregation, boolean complete, boolean ansi) {
    return new AggregateSql(spec, complete, ansi).pushed(aggregation);
  }

  private Pushed pushed(Aggregation aggregation) {
    List<String> select = new ArrayList<>();
    List<String> groupBy = new ArrayList<>();
    List<ColumnSpec> fields = new ArrayList<>();
    for (Expression e : aggregation.groupByExpressions()) {
      ColumnSpec c = FilterSql.column(spec, e);
      if (c == null || c.filter == ColumnSpec.Filter.NONE || isFloat(c)) {
        return null;
      }
      String sql = value(c);
      groupBy.add(sql);
      select.add(sql);
      fields.add(ColumnSpec.computed(c.name, c.kind, c.precision, c.scale, sql));
    }
    AggregateFunc[] functions = aggregation.aggregateExpressions();
    for (int i = 0; i < functions.length; i++) {
      ColumnSpec out = function(functions[i], "agg" + i);
      if (out == null) {
        return null;
      }
      select.add(out.expr);
      fields.add(out);
    }
    int[] tallies = new int[guarded.size()];
    int t = 0;
    for (int column : guarded) {
      select.add("count(*) FILTER (WHERE NOT " + FilterSql.representable(spec.columns.get(column))
          + ")");
      tallies[t++] = column;
    }
    ColumnSpec[] sources = new ColumnSpec[checked.size()];
    int s = 0;
    for (int column : checked) {
      sources[s++] = spec.columns.get(column);
    }
    int[] noCounts = new int[fields.size()];
    java.util.Arrays.fill(noCounts, -1);
    RowShape shape = new RowShape(fields.toArray(new ColumnSpec[0]), noCounts, tallies, sources);
    String description = "PushedAggregates: " + java.util.Arrays.toString(functions)
        + ", PushedGroupBy: " + java.util.Arrays.toString(aggregation.groupByExpressions())
        + (complete ? ", complete" : ", partial per partition");
    return new Pushed(select, groupBy, shape, description);
  }

  /** One function's SQL and decoder (its Spark result type), or null. */
  private ColumnSpec function(AggregateFunc f, String name) {
    if (f instanceof CountStar) {
      return ColumnSpec.computed(name, ColumnSpec.Kind.INT8, 0, 0, "count(*)");
    }
    if (f instanceof Count) {
      Count count = (Count) f;
      ColumnSpec c = FilterSql.column(spec, count.column());
      if (c == null || !guardable(c) || !isValue(c)
          || (count.isDistinct() && (!complete || c.filter == ColumnSpec.Filter.NONE))) {
        return null;
      }
      String sql = over("count", (count.isDistinct() ? "DISTINCT " : ""), c);
      return ColumnSpec.computed(name, ColumnSpec.Kind.INT8, 0, 0, sql);
    }
    if (f instanceof Min || f instanceof Max) {
      boolean min = f instanceof Min;
      ColumnSpec c = FilterSql.column(spec, f.children()[0]);
      if (c == null || c.filter != ColumnSpec.Filter.ORDERING || isFloat(c)) {
        return null; // floats: of -0.0 and 0.0 Spark keeps the first, PostgreSQL the last
      }
      String fn = c.kind == ColumnSpec.Kind.BOOL ? (min ? "bool_and" : "bool_or")
          : (min ? "min" : "max");
      return ColumnSpec.computed(name, c.kind, c.precision, c.scale, over(fn, "", c));
    }
    if (f instanceof Sum && !((Sum) f).isDistinct()) {
      return sum(FilterSql.column(spec, ((Sum) f).column()), name);
    }
    return null;
  }

  private ColumnSpec sum(ColumnSpec c, String name) {
    if (c == null) {
      return null;
    }
    switch (c.kind) {
      case INT2:
      case INT4:
        if (!complete) {
          return null; // Spark would cast each partition's sum back to the column's type
        }
        return ColumnSpec.computed(name, ColumnSpec.Kind.INT8, 0, 0,
            ansi ? over("sum", "", c) : wrapped("sum(" + value(c) + "::int8)"));
      case INT8:
        return ansi ? null : ColumnSpec.computed(name, ColumnSpec.Kind.INT8, 0, 0,
            wrapped(over("sum", "", c)));
      case NUMERIC: {
        if (!complete || c.precision > MAX_SUM_PRECISION) {
          return null;
        }
        int precision = c.precision + 10;
        String sum = over("sum", "", c);
        String sql = ansi ? sum : "(CASE WHEN abs(" + sum + ") < 1e" + (precision - c.scale)
            + " THEN " + sum + " END)";
        return ColumnSpec.computed(name, ColumnSpec.Kind.NUMERIC, precision, c.scale, sql);
      }
      default:
        return null;
    }
  }

  /** A numeric sum as Spark's long addition leaves it: modulo 2^64, signed. */
  private static String wrapped(String sum) {
    return "((((" + sum + " + " + HALF + ") % " + WRAP + " + " + WRAP + ") % " + WRAP + ") - "
        + HALF + ")::int8";
  }

  /**
   * {@code fn(prefix column)} over the column's values as Spark reads them: a counted column's
   * values the decoder reads as NULL are left out with a FILTER (noted), which PostgreSQL checks
   * once per row instead of building a CASE value.
   */
  private String over(String fn, String prefix, ColumnSpec c) {
    int index = spec.indexOf(c.name);
    checked.add(index);
    if (!c.kind.counted()) {
      return fn + "(" + prefix + c.expr + ")";
    }
    guarded.add(index);
    return fn + "(" + prefix + c.expr + ") FILTER (WHERE " + FilterSql.representable(c) + ")";
  }

  /** The column's value as Spark reads it: NULL for what the decoder reads as NULL (noted). */
  private String value(ColumnSpec c) {
    int index = spec.indexOf(c.name);
    checked.add(index);
    if (!c.kind.counted()) {
      return c.expr;
    }
    guarded.add(index);
    return "(CASE WHEN " + FilterSql.representable(c) + " THEN " + c.expr + " END)";
  }

  /** Counted columns need a SQL guard (arrays have none: never pushed). */
  private static boolean guardable(ColumnSpec c) {
    return !c.kind.counted() || FilterSql.representable(c) != null;
  }

  /**
   * The column's expr is a value an aggregate can take: a column with filters (jvm/README.md:
   * the plain column, or a cast of it), or a plain quoted column. Any other column's expr is a
   * SELECT-list item that may end with an alias ({@code "n"::text AS "n"}).
   */
  private static boolean isValue(ColumnSpec c) {
    return c.filter != ColumnSpec.Filter.NONE || QUOTED_NAME.matcher(c.expr).matches();
  }

  private static boolean isFloat(ColumnSpec c) {
    return c.kind == ColumnSpec.Kind.FLOAT4 || c.kind == ColumnSpec.Kind.FLOAT8;
  }
}
