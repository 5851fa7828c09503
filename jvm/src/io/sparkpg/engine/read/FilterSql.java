package io.sparkpg.engine.read;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.connector.expressions.Expression;
import org.apache.spark.sql.connector.expressions.Literal;
import org.apache.spark.sql.connector.expressions.NamedReference;
import org.apache.spark.sql.connector.expressions.filter.Predicate;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Spark predicates as PostgreSQL SQL, for the cases where both mean the same; {@code null} for
 * everything else (Spark evaluates it). Rules:
 *
 * <ul>
 *   <li>a column only with a literal of exactly the column's Spark type, and one PostgreSQL
 *       holds in the column's type (an oid from 0 to 4294967295, a date from 4714-11-24 BC to
 *       5874897-12-31, a timestamp from 4713 BC);
 *   <li>{@code =, <=>, IN, IS [NOT] NULL} on columns marked {@code equality} or {@code ordering};
 *       {@code <, <=, >, >=} only on {@code ordering} columns (numbers, dates, timestamps, booleans,
 *       strings whose collation orders bytes);
 *   <li>columns whose unrepresentable values are read as NULL (numeric, date, timestamp) are
 *       compared only where they cannot be negated, with a guard that excludes those values
 *       (false and NULL filter alike there); IS [NOT] NULL counts those values as NULL.
 * </ul>
 *
 * Literals are written in PostgreSQL's standard syntax ('' doubles a quote; the reader sets
 * standard_conforming_strings on).
 */
final class FilterSql {
  /** Spark's largest timestamp, the last one PostgreSQL can hold that Spark can read. */
  private static final String MAX_TIMESTAMP = "294247-01-10 04:00:54.775807";
  /** PostgreSQL's first and last dates, 4714-11-24 BC and 5874897-12-31, in days from 1970. */
  private static final int FIRST_DATE = -2440588;
  private static final int LAST_DATE = 2145042905;
  private static final long MAX_OID = 0xFFFF_FFFFL;

  private final ReadSpec spec;

  FilterSql(ReadSpec spec) {
    this.spec = spec;
  }

  /** The SQL of {@code p}, or null when it cannot be pushed; {@code positive}: not under NOT. */
  String toSql(Predicate p, boolean positive) {
    Expression[] args = p.children();
    switch (p.name()) {
      case "AND":
      case "OR": {
        String l = toSql((Predicate) args[0], positive);
        String r = toSql((Predicate) args[1], positive);
        return l == null || r == null ? null : "(" + l + " " + p.name() + " " + r + ")";
      }
      case "NOT": {
        String inner = toSql((Predicate) args[0], false);
        return inner == null ? null : "(NOT " + inner + ")";
      }
      case "IS_NULL":
      case "IS_NOT_NULL": {
        ColumnSpec c = column(args[0], ColumnSpec.Filter.EQUALITY);
        if (c == null) {
          return null;
        }
        String readable = representable(c);
        if (p.name().equals("IS_NULL")) {
          return readable == null ? "(" + c.expr + " IS NULL)"
              : "(" + c.expr + " IS NULL OR NOT " + readable + ")";
        }
        return readable == null ? "(" + c.expr + " IS NOT NULL)"
            : "(" + c.expr + " IS NOT NULL AND " + readable + ")";
      }
      case "=":
      case "<=>":
        return comparison(p.name().equals("=") ? "=" : "IS NOT DISTINCT FROM", args,
            ColumnSpec.Filter.EQUALITY, positive);
      case "<":
      case "<=":
      case ">":
      case ">=":
        return comparison(p.name(), args, ColumnSpec.Filter.ORDERING, positive);
      case "IN":
        return in(args, positive);
      default:
        return null;
    }
  }

  private String comparison(String op, Expression[] args, ColumnSpec.Filter needs,
      boolean positive) {
    ColumnSpec c = column(args[0], needs);
    if (c == null || !(args[1] instanceof Literal) || (c.kind.counted() && !positive)) {
      return null;
    }
    String literal = literal(c, (Literal<?>) args[1]);
    return literal == null ? null : guarded(c, c.expr + " " + op + " " + literal);
  }

  private String in(Expression[] args, boolean positive) {
    ColumnSpec c = column(args[0], ColumnSpec.Filter.EQUALITY);
    if (c == null || (c.kind.counted() && !positive) || args.length < 2) {
      return null;
    }
    List<String> values = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      String literal = args[i] instanceof Literal ? literal(c, (Literal<?>) args[i]) : null;
      if (literal == null) {
        return null;
      }
      values.add(literal);
    }
    return guarded(c, c.expr + " IN (" + String.join(", ", values) + ")");
  }

  /** Excludes the values read as NULL, so PostgreSQL returns no row Spark would not keep. */
  private static String guarded(ColumnSpec c, String comparison) {
    String readable = representable(c);
    return readable == null ? "(" + comparison + ")"
        : "(" + comparison + " AND " + readable + ")";
  }

  /**
   * SQL that is true for the values Spark can hold, false for those read as NULL (and NULL for
   * NULL); null when every value of the column is representable.
   */
  static String representable(ColumnSpec c) {
    switch (c.kind) {
      case NUMERIC:
        // numeric(p,s) holds no infinities, and NaN equals only NaN: one comparison. Otherwise
        // NaN - NaN and Infinity - Infinity are NaN (any server version).
        return c.declaredNumeric() ? "(" + c.expr + " <> 'NaN'::numeric)"
            : "((" + c.expr + " - " + c.expr + ") = 0)";
      case DATE:
        return "pg_catalog.isfinite(" + c.expr + ")";
      case TIMESTAMP:
      case TIMESTAMPTZ:
        // two comparisons of 64-bit integers: +infinity is above Spark's last microsecond
        return "(" + c.expr + " > " + timestampLiteral(c.kind, "-infinity") + " AND " + c.expr
            + " <= " + timestampLiteral(c.kind, MAX_TIMESTAMP
                + (c.kind == ColumnSpec.Kind.TIMESTAMPTZ ? "+00" : "")) + ")";
      default:
        return null;
    }
  }

  private ColumnSpec column(Expression e, ColumnSpec.Filter needs) {
    ColumnSpec c = column(spec, e);
    if (c == null) {
      return null;
    }
    boolean ok = c.filter == ColumnSpec.Filter.ORDERING
        || (c.filter == ColumnSpec.Filter.EQUALITY && needs == ColumnSpec.Filter.EQUALITY);
    return ok ? c : null;
  }

  /** The read's column that {@code e} names (a plain top-level column), or null. */
  static ColumnSpec column(ReadSpec spec, Expression e) {
    if (!(e instanceof NamedReference) || ((NamedReference) e).fieldNames().length != 1) {
      return null;
    }
    int i = spec.indexOf(((NamedReference) e).fieldNames()[0]);
    return i < 0 ? null : spec.columns.get(i);
  }

  /** The literal as PostgreSQL SQL of the column's type, or null (types differ, out of range). */
  static String literal(ColumnSpec c, Literal<?> lit) {
    Object v = lit.value();
    DataType t = lit.dataType();
    if (v == null || !t.equals(c.dataType())) {
      return null;
    }
    switch (c.kind) {
      case BOOL:
        return ((Boolean) v) ? "TRUE" : "FALSE";
      case INT2:
      case INT4:
      case INT8:
        return "(" + v + ")";
      case OID: {
        // PostgreSQL would cast an integer to oid: -1 to 4294967295 (binary), 2^32 to an error
        long oid = (Long) v;
        return oid < 0 || oid > MAX_OID ? null : "'" + oid + "'::oid";
      }
      case FLOAT4:
        return "'" + Float.toString((Float) v) + "'::float4";
      case FLOAT8:
        return "'" + Double.toString((Double) v) + "'::float8";
      case NUMERIC:
        return "'" + ((Decimal) v).toJavaBigDecimal().toPlainString() + "'::numeric";
      case TEXT: {
        String s = ((UTF8String) v).toString();
        return s.indexOf('\0') >= 0 ? null : "'" + s.replace("'", "''") + "'";
      }
      case DATE: {
        int days = (Integer) v;
        if (days < FIRST_DATE || days > LAST_DATE) {
          return null; // outside PostgreSQL's dates: it would refuse the literal
        }
        LocalDate d = LocalDate.ofEpochDay(days);
        return "DATE '" + String.format("%04d-%02d-%02d", d.getYear() <= 0 ? 1 - d.getYear()
            : d.getYear(), d.getMonthValue(), d.getDayOfMonth())
            + (d.getYear() <= 0 ? " BC" : "") + "'";
      }
      case TIMESTAMP:
      case TIMESTAMPTZ: {
        long micros = (Long) v;
        LocalDateTime t0 = LocalDateTime.ofEpochSecond(Math.floorDiv(micros, 1_000_000L),
            (int) Math.floorMod(micros, 1_000_000L) * 1000, ZoneOffset.UTC);
        if (t0.getYear() < -4712) {
          return null; // before PostgreSQL's first timestamp (4713 BC)
        }
        String text = String.format("%04d-%02d-%02d %02d:%02d:%02d.%06d",
            t0.getYear() <= 0 ? 1 - t0.getYear() : t0.getYear(), t0.getMonthValue(),
            t0.getDayOfMonth(), t0.getHour(), t0.getMinute(), t0.getSecond(),
            t0.getNano() / 1000);
        return timestampLiteral(c.kind, text + (c.kind == ColumnSpec.Kind.TIMESTAMPTZ ? "+00" : "")
            + (t0.getYear() <= 0 ? " BC" : ""));
      }
      default:
        return null;
    }
  }

  /** {@code text} must carry the zone (+00) for timestamptz. */
  private static String timestampLiteral(ColumnSpec.Kind kind, String text) {
    return "'" + text + (kind == ColumnSpec.Kind.TIMESTAMP ? "'::timestamp" : "'::timestamptz");
  }

}
