package io.sparkpg.engine.write;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.expressions.SpecializedGetters;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.BooleanType;
import org.apache.spark.sql.types.ByteType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.DoubleType;
import org.apache.spark.sql.types.FloatType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.LongType;
import org.apache.spark.sql.types.ShortType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.TimestampNTZType;
import org.apache.spark.sql.types.TimestampType;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Encodes Spark internal rows as PostgreSQL binary COPY rows into a reusable buffer. The staging
 * table's column types are the Spark types' (spark_jobs/write/api.py, {@code STAGING_TYPES}):
 * boolean, int2 (tinyint, smallint), int4, int8, float4, float8, numeric, text, bytea, date,
 * timestamptz (TIMESTAMP), timestamp (TIMESTAMP_NTZ) and one-dimensional arrays of those.
 * Dates: Spark days since 1970 - 10957; timestamps: microseconds since 1970 - 946684800000000
 * (PostgreSQL counts from 2000-01-01; both calendars are proleptic Gregorian).
 */
final class RowEncoder {
  private static final byte[] HEADER = "PGCOPY\n\377\r\n\0".getBytes(StandardCharsets.ISO_8859_1);
  private static final int DAYS_1970_TO_2000 = 10957;
  private static final long MICROS_1970_TO_2000 = 946684800000000L;
  private static final int NUMERIC_NEG = 0x4000;
  private static final int MAX_LONG_DIGITS = 18;
  private static final int[] POW10 = {1, 10, 100, 1000};
  private static final BigInteger GROUP = BigInteger.valueOf(10000);

  private enum Kind { BOOL, INT1, INT2, INT4, INT8, FLOAT4, FLOAT8, NUMERIC, TEXT, BYTEA, DATE,
    TIMESTAMPTZ, TIMESTAMP, ARRAY }

  private final Kind[] kinds;
  private final Kind[] elements;
  private final int[] elementOids;
  private final int[] precisions; // of a decimal column or of an array's decimal elements
  private final int[] scales;
  private final boolean tagged;
  private long tag;
  private byte[] buf = new byte[1 << 17];
  private int[] groups = new int[16];
  private int pos;

  /** {@code tagged}: each row gets a last {@code bigint} field, the current {@link #tag}. */
  RowEncoder(StructType schema, boolean tagged) {
    int n = schema.fields().length;
    kinds = new Kind[n];
    elements = new Kind[n];
    elementOids = new int[n];
    precisions = new int[n];
    scales = new int[n];
    for (int i = 0; i < n; i++) {
      DataType type = schema.fields()[i].dataType();
      kinds[i] = kindOf(type, schema.fields()[i].name());
      if (kinds[i] == Kind.ARRAY) {
        DataType element = ((ArrayType) type).elementType();
        elements[i] = kindOf(element, schema.fields()[i].name());
        if (elements[i] == Kind.ARRAY) {
          throw unsupported(type, schema.fields()[i].name());
        }
        elementOids[i] = oid(elements[i]);
        type = element;
      }
      if (type instanceof DecimalType) {
        precisions[i] = ((DecimalType) type).precision();
        scales[i] = ((DecimalType) type).scale();
      }
    }
    this.tagged = tagged;
  }

  /** Fails, naming the column, when a column's type has no encoding. */
  static void check(StructType schema) {
    new RowEncoder(schema, false);
  }

  private static Kind kindOf(DataType type, String column) {
    if (type instanceof BooleanType) return Kind.BOOL;
    if (type instanceof ByteType) return Kind.INT1;
    if (type instanceof ShortType) return Kind.INT2;
    if (type instanceof IntegerType) return Kind.INT4;
    if (type instanceof LongType) return Kind.INT8;
    if (type instanceof FloatType) return Kind.FLOAT4;
    if (type instanceof DoubleType) return Kind.FLOAT8;
    if (type instanceof DecimalType) return Kind.NUMERIC;
    if (type instanceof StringType) return Kind.TEXT;
    if (type instanceof BinaryType) return Kind.BYTEA;
    if (type instanceof DateType) return Kind.DATE;
    if (type instanceof TimestampType) return Kind.TIMESTAMPTZ;
    if (type instanceof TimestampNTZType) return Kind.TIMESTAMP;
    if (type instanceof ArrayType) return Kind.ARRAY;
    throw unsupported(type, column);
  }

  private static IllegalArgumentException unsupported(DataType type, String column) {
    return new IllegalArgumentException("sparkpg write: column " + column + " has type "
        + type.simpleString() + ", which has no PostgreSQL encoding (docs/writing.md)");
  }

  private static int oid(Kind kind) {
    switch (kind) {
      case BOOL: return 16;
      case INT1: case INT2: return 21;
      case INT4: return 23;
      case INT8: return 20;
      case FLOAT4: return 700;
      case FLOAT8: return 701;
      case NUMERIC: return 1700;
      case TEXT: return 25;
      case BYTEA: return 17;
      case DATE: return 1082;
      case TIMESTAMPTZ: return 1184;
      case TIMESTAMP: return 1114;
      default: throw new IllegalStateException(kind.name());
    }
  }

  /** The tag the next rows carry (a chunk's, {@link AttemptCommitted#tagOf}). */
  void tag(long value) {
    tag = value;
  }

  byte[] bytes() {
    return buf;
  }

  int size() {
    return pos;
  }

  void reset() {
    pos = 0;
  }

  void header() {
    put(HEADER, 0, HEADER.length);
    int4(0); // flags
    int4(0); // header extension length
  }

  void trailer() {
    int2(-1);
  }

  void row(InternalRow row) {
    int2(kinds.length + (tagged ? 1 : 0));
    for (int i = 0; i < kinds.length; i++) {
      if (row.isNullAt(i)) {
        int4(-1);
      } else if (kinds[i] == Kind.ARRAY) {
        int at = reserve();
        array(row.getArray(i), i);
        patch(at);
      } else {
        value(row, i, kinds[i], i);
      }
    }
    if (tagged) {
      int4(8);
      int8(tag);
    }
  }

  private void array(ArrayData data, int column) {
    Kind element = elements[column];
    int elementOid = elementOids[column];
    int n = data.numElements();
    boolean nulls = false;
    for (int j = 0; j < n && !nulls; j++) {
      nulls = data.isNullAt(j);
    }
    if (n == 0) {
      int4(0);
      int4(0);
      int4(elementOid);
      return;
    }
    int4(1);
    int4(nulls ? 1 : 0);
    int4(elementOid);
    int4(n);
    int4(1);
    for (int j = 0; j < n; j++) {
      if (data.isNullAt(j)) {
        int4(-1);
      } else {
        value(data, j, element, column);
      }
    }
  }

  /** Length and bytes of one non-null value. */
  private void value(SpecializedGetters g, int i, Kind kind, int column) {
    switch (kind) {
      case BOOL:
        int4(1);
        ensure(1);
        buf[pos++] = (byte) (g.getBoolean(i) ? 1 : 0);
        return;
      case INT1:
        int4(2);
        int2(g.getByte(i));
        return;
      case INT2:
        int4(2);
        int2(g.getShort(i));
        return;
      case INT4:
        int4(4);
        int4(g.getInt(i));
        return;
      case INT8:
        int4(8);
        int8(g.getLong(i));
        return;
      case FLOAT4:
        int4(4);
        int4(Float.floatToRawIntBits(g.getFloat(i)));
        return;
      case FLOAT8:
        int4(8);
        int8(Double.doubleToRawLongBits(g.getDouble(i)));
        return;
      case NUMERIC:
        numeric(g.getDecimal(i, precisions[column], scales[column]));
        return;
      case TEXT: {
        UTF8String text = g.getUTF8String(i);
        int length = text.numBytes();
        int4(length);
        ensure(length);
        text.writeToMemory(buf, Platform.BYTE_ARRAY_OFFSET + pos); // no copy of its own
        String refusal = refusal(buf, pos, length);
        if (refusal != null) {
          throw new Refused(column, refusal);
        }
        pos += length;
        return;
      }
      case BYTEA: {
        byte[] bytes = g.getBinary(i);
        int4(bytes.length);
        put(bytes, 0, bytes.length);
        return;
      }
      case DATE:
        int4(4);
        int4(g.getInt(i) - DAYS_1970_TO_2000);
        return;
      case TIMESTAMPTZ:
      case TIMESTAMP:
        int4(8);
        int8(g.getLong(i) - MICROS_1970_TO_2000);
        return;
      default:
        throw new IllegalStateException(kind.name());
    }
  }

  /**
   * A string PostgreSQL refuses, found before it is sent so that the failure can name its
   * column and row: {@link #NUL} (text cannot hold the character 0) or {@link #NOT_UTF8}.
   */
  static final class Refused extends RuntimeException {
    private static final long serialVersionUID = 1L;
    /** The column's position in the row. */
    final int column;
    final String refusal;

    Refused(int column, String refusal) {
      super(refusal, null, false, false);
      this.column = column;
      this.refusal = refusal;
    }
  }

  static final String NUL = "nul";
  static final String NOT_UTF8 = "not-utf8";

  /** {@link #NUL}, {@link #NOT_UTF8} or null (valid) for {@code length} bytes at {@code at}. */
  static String refusal(byte[] bytes, int at, int length) {
    int end = at + length;
    for (int i = at; i < end; i++) {
      int b = bytes[i];
      if (b > 0) {
        continue; // ASCII
      }
      if (b == 0) {
        return NUL;
      }
      int lead = b & 0xff;
      int more = lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2
          : lead >= 0xf0 && lead <= 0xf4 ? 3 : -1;
      if (more < 0 || i + more >= end) {
        return NOT_UTF8;
      }
      int second = bytes[i + 1] & 0xff;
      int low = lead == 0xe0 ? 0xa0 : lead == 0xf0 ? 0x90 : 0x80;
      int high = lead == 0xed ? 0x9f : lead == 0xf4 ? 0x8f : 0xbf;
      if (second < low || second > high) {
        return NOT_UTF8;
      }
      for (int k = 2; k <= more; k++) {
        if ((bytes[i + k] & 0xc0) != 0x80) {
          return NOT_UTF8;
        }
      }
      i += more;
    }
    return null;
  }

  /**
   * A Spark decimal as PostgreSQL's binary numeric: base-10000 digits, most significant first,
   * without leading or trailing zero digits, {@code weight} the power of 10000 of the first,
   * {@code dscale} the decimal's scale. Decimals of up to 18 digits are split with long
   * arithmetic (no strings, no BigInteger).
   */
  private void numeric(Decimal value) {
    if (value.precision() <= MAX_LONG_DIGITS && value.scale() >= 0) {
      long unscaled = value.toUnscaledLong();
      numeric(Math.abs(unscaled), null, unscaled < 0, value.scale());
    } else {
      BigDecimal decimal = value.toJavaBigDecimal();
      if (decimal.scale() < 0) {
        decimal = decimal.setScale(0);
      }
      numeric(0, decimal.unscaledValue().abs(), decimal.signum() < 0, decimal.scale());
    }
  }

  /** {@code big} null: the magnitude is {@code small} (below 10^18). */
  private void numeric(long small, BigInteger big, boolean negative, int scale) {
    int pad = (4 - scale % 4) % 4; // decimal digits that align the fraction to whole groups
    int fracGroups = (scale + pad) / 4;
    int n = 0; // groups, least significant first
    if (big == null) {
      long v = small;
      if (pad > 0) {
        groups[n++] = (int) (v % POW10[4 - pad]) * POW10[pad];
        v /= POW10[4 - pad];
      }
      while (v != 0) {
        groups[n++] = (int) (v % 10000);
        v /= 10000;
      }
    } else {
      BigInteger v = big.multiply(BigInteger.TEN.pow(pad));
      while (v.signum() != 0) {
        BigInteger[] qr = v.divideAndRemainder(GROUP);
        if (n == groups.length) {
          groups = Arrays.copyOf(groups, 2 * n);
        }
        groups[n++] = qr[1].intValue();
        v = qr[0];
      }
    }
    int top = Math.max(n, fracGroups) - 1;
    int weight = top - fracGroups;
    while (top >= 0 && group(top, n) == 0) {
      top--;
      weight--;
    }
    int bottom = 0;
    while (bottom <= top && group(bottom, n) == 0) {
      bottom++;
    }
    int count = top - bottom + 1;
    if (count <= 0) {
      count = 0;
      weight = 0;
    }
    int4(8 + 2 * count);
    int2(count);
    int2(weight);
    int2(negative && count > 0 ? NUMERIC_NEG : 0);
    int2(scale);
    for (int k = top; k >= bottom; k--) {
      int2(groups[k]);
    }
  }

  private int group(int k, int n) {
    return k < n ? groups[k] : 0;
  }

  private int reserve() {
    int at = pos;
    int4(0);
    return at;
  }

  private void patch(int at) {
    int len = pos - at - 4;
    buf[at] = (byte) (len >>> 24);
    buf[at + 1] = (byte) (len >>> 16);
    buf[at + 2] = (byte) (len >>> 8);
    buf[at + 3] = (byte) len;
  }

  private void ensure(int n) {
    if (pos + n > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + n));
    }
  }

  private void put(byte[] bytes, int off, int len) {
    ensure(len);
    System.arraycopy(bytes, off, buf, pos, len);
    pos += len;
  }

  private void int2(int v) {
    ensure(2);
    buf[pos++] = (byte) (v >>> 8);
    buf[pos++] = (byte) v;
  }

  private void int4(int v) {
    ensure(4);
    buf[pos++] = (byte) (v >>> 24);
    buf[pos++] = (byte) (v >>> 16);
    buf[pos++] = (byte) (v >>> 8);
    buf[pos++] = (byte) v;
  }

  private void int8(long v) {
    int4((int) (v >>> 32));
    int4((int) v);
  }
}
