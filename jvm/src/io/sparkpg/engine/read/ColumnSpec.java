package io.sparkpg.engine.read;

import java.io.Serializable;
import java.util.Map;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * One column of a read: its Spark name, how to decode it, the SQL that selects it, and the source
 * column and type it was planned from (checked before each COPY: {@link PlannedTypes}).
 */
final class ColumnSpec implements Serializable {
  private static final long serialVersionUID = 1L;

  /** How a field of the binary COPY stream is decoded. */
  enum Kind {
    BOOL, INT2, INT4, INT8, OID, FLOAT4, FLOAT8, NUMERIC, TEXT, BYTEA, UUID, DATE, TIMESTAMP,
    TIMESTAMPTZ, ARRAY;

    /** Kinds whose values may be read as NULL because Spark cannot hold them (counted). */
    boolean counted() {
      return this == NUMERIC || this == DATE || this == TIMESTAMP || this == TIMESTAMPTZ
          || this == ARRAY;
    }
  }

  /** Which pushed-down filters are exact on this column (see FilterSql). */
  enum Filter { NONE, EQUALITY, ORDERING }

  final String name;
  final Kind kind;
  final Kind element; // arrays only
  final int precision; // numeric only
  final int scale;
  final String expr;
  final Filter filter;
  final String pgColumn; // the source column; null when pgType is 0
  final long pgType; // its type's oid when planned; 0: not checked
  final String pgTypeName; // that type as format_type wrote it (bigint, numeric(12,2))

  private ColumnSpec(String name, Kind kind, Kind element, int precision, int scale, String expr,
      Filter filter, String pgColumn, long pgType, String pgTypeName) {
    this.name = name;
    this.kind = kind;
    this.element = element;
    this.precision = precision;
    this.scale = scale;
    this.expr = expr;
    this.filter = filter;
    this.pgColumn = pgColumn;
    this.pgType = pgType;
    this.pgTypeName = pgTypeName;
  }

  /** A column computed by a pushed query (an aggregate's result): decoded as {@code kind}. */
  static ColumnSpec computed(String name, Kind kind, int precision, int scale, String expr) {
    return new ColumnSpec(name, kind, null, precision, scale, expr, Filter.NONE, null, 0, null);
  }

  static ColumnSpec fromJson(Map<?, ?> json) {
    String name = string(json, "name", null);
    Kind kind = kind(json, "kind", name);
    Kind element = null;
    if (kind == Kind.ARRAY) {
      element = kind(json, "element", name);
      if (element == Kind.ARRAY || element.counted()) {
        throw new IllegalArgumentException("column " + name + ": arrays of " + element
            + " are not read natively; select them as text");
      }
    }
    int precision = 0;
    int scale = 0;
    if (kind == Kind.NUMERIC) {
      precision = integer(json, "precision", name);
      scale = integer(json, "scale", name);
      if (precision < 1 || precision > 38 || scale < 0 || scale > precision) {
        throw new IllegalArgumentException("column " + name + ": DECIMAL(" + precision + ","
            + scale + ") is not a Spark decimal type (precision 1..38, scale 0..precision)");
      }
    }
    String filter = string(json, "filter", "none");
    Filter pushable;
    try {
      pushable = Filter.valueOf(filter.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("column " + name + ": unknown filter '" + filter
          + "' (expected none, equality or ordering)");
    }
    long pgType = oid(json, name);
    String pgColumn = pgType == 0 ? null : string(json, "pgColumn", null);
    String pgTypeName = pgType == 0 ? null : string(json, "pgTypeName", null);
    return new ColumnSpec(name, kind, element, precision, scale, string(json, "expr", null),
        pushable, pgColumn, pgType, pgTypeName);
  }

  /** {@code pgType}: absent (0, not checked) or a type oid (1..4294967295). */
  private static long oid(Map<?, ?> json, String column) {
    Object value = json.get("pgType");
    if (value == null) {
      return 0;
    }
    long oid = value instanceof Integer || value instanceof Long ? ((Number) value).longValue() : -1;
    if (oid < 1 || oid > 0xFFFF_FFFFL) {
      throw new IllegalArgumentException("column " + column + ": 'pgType' must be a type oid "
          + "(an integer from 1 to 4294967295), not " + value);
    }
    return oid;
  }

  /**
   * A numeric column planned with a declared precision ({@code numeric(p,s)}), which PostgreSQL
   * refuses to let hold ±Infinity: NaN is its only value Spark cannot hold. Each partition checks
   * that it still has one ({@link PlannedTypes}).
   */
  boolean declaredNumeric() {
    return kind == Kind.NUMERIC && pgTypeName != null && pgTypeName.startsWith("numeric(");
  }

  DataType dataType() {
    if (kind == Kind.ARRAY) {
      return DataTypes.createArrayType(scalarType(element), true);
    }
    return kind == Kind.NUMERIC ? DataTypes.createDecimalType(precision, scale) : scalarType(kind);
  }

  private static DataType scalarType(Kind kind) {
    switch (kind) {
      case BOOL: return DataTypes.BooleanType;
      case INT2: return DataTypes.ShortType;
      case INT4: return DataTypes.IntegerType;
      case INT8: case OID: return DataTypes.LongType;
      case FLOAT4: return DataTypes.FloatType;
      case FLOAT8: return DataTypes.DoubleType;
      case TEXT: case UUID: return DataTypes.StringType;
      case BYTEA: return DataTypes.BinaryType;
      case DATE: return DataTypes.DateType;
      case TIMESTAMP: case TIMESTAMPTZ: return DataTypes.TimestampType;
      default: throw new IllegalArgumentException("no scalar Spark type for " + kind);
    }
  }

  private static String string(Map<?, ?> json, String key, String fallback) {
    Object value = json.get(key);
    if (value instanceof String) {
      return (String) value;
    }
    if (value == null && fallback != null) {
      return fallback;
    }
    throw new IllegalArgumentException("column spec " + json.get("name") + ": '" + key
        + "' must be a string");
  }

  private static int integer(Map<?, ?> json, String key, String column) {
    Object value = json.get(key);
    if (!(value instanceof Integer)) {
      throw new IllegalArgumentException("column " + column + ": '" + key + "' must be an integer");
    }
    return (Integer) value;
  }

  private static Kind kind(Map<?, ?> json, String key, String column) {
    String value = string(json, key, null);
    try {
      return Kind.valueOf(value.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("column " + column + ": unknown " + key + " '" + value
          + "' (expected one of " + java.util.Arrays.toString(Kind.values()).toLowerCase(
              java.util.Locale.ROOT) + ")");
    }
  }
}
