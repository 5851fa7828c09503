package io.sparkpg.engine.read;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * PostgreSQL's binary send formats to Spark's internal values. Values Spark cannot hold come back
 * as {@link #UNREPRESENTABLE} (the reader counts them and sets NULL).
 */
final class BinaryDecoder {
  /** Returned for a value the column's Spark type cannot hold. */
  static final Object UNREPRESENTABLE = new Object();

  /** Days and microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
  static final int EPOCH_DAYS = 10957;
  static final long EPOCH_MICROS = 946_684_800_000_000L;

  private static final boolean LITTLE_ENDIAN =
      ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
  private static final int NUMERIC_NEG = 0x4000;
  private static final byte[] HEX = "0123456789abcdef".getBytes();
  /** 10^0 .. 10^18. */
  private static final long[] POW10 = new long[19];

  static {
    POW10[0] = 1;
    for (int i = 1; i < POW10.length; i++) {
      POW10[i] = POW10[i - 1] * 10;
    }
  }

  private BinaryDecoder() {}

  /*
   * A field's value into a row (FieldsDecoders generates, per row shape, the code that calls
   * these): primitives, text, dates and timestamps in the generated code itself, decimals that
   * fit a long without boxing, everything else as an object. Each returns false when the value is
   * unrepresentable (the field is then set to NULL).
   */

  /** A numeric field, {@code c}'s DECIMAL(p, s). */
  static boolean numericInto(InternalRow row, int i, ColumnSpec c, byte[] b, int off) {
    long unscaled = shortNumeric(c, b, off);
    if (unscaled != NOT_SHORT) {
      row.update(i, Decimal.createUnsafe(unscaled, c.precision, c.scale));
      return true;
    }
    return update(row, i, numeric(c, b, off));
  }

  /** A field whose Spark value is an object (bytea, uuid, arrays): {@code len} bytes. */
  static boolean objectInto(InternalRow row, int i, ColumnSpec c, byte[] b, int off, int len) {
    return update(row, i, c.kind == ColumnSpec.Kind.ARRAY
        ? array(c, b, off, len) : scalar(c, c.kind, b, off, len));
  }

  /** Set field {@code i} to {@code v}, or to NULL (false) when it is unrepresentable. */
  private static boolean update(InternalRow row, int i, Object v) {
    if (v == UNREPRESENTABLE) {
      row.setNullAt(i);
      return false;
    }
    row.update(i, v);
    return true;
  }

  static short int2(byte[] b, int off) {
    return (short) ((b[off] << 8) | (b[off + 1] & 0xFF));
  }

  /*
   * int4 and int8 are one load each (Spark's Platform, bounds checked here), not one per byte:
   * a fifth of the decoding's CPU time (DecodeBench). The wire is big-endian.
   */

  static int int4(byte[] b, int off) {
    if (off < 0 || off > b.length - 4) {
      throw outside(b, off);
    }
    int v = Platform.getInt(b, Platform.BYTE_ARRAY_OFFSET + off);
    return LITTLE_ENDIAN ? Integer.reverseBytes(v) : v;
  }

  static long int8(byte[] b, int off) {
    if (off < 0 || off > b.length - 8) {
      throw outside(b, off);
    }
    long v = Platform.getLong(b, Platform.BYTE_ARRAY_OFFSET + off);
    return LITTLE_ENDIAN ? Long.reverseBytes(v) : v;
  }

  private static ArrayIndexOutOfBoundsException outside(byte[] b, int off) {
    return new ArrayIndexOutOfBoundsException("offset " + off + " of a " + b.length
        + "-byte message");
  }

  /** Days since 2000-01-01; ±infinity (DATEVAL_NOBEGIN/NOEND) is set to NULL (false). */
  static boolean date(InternalRow row, int i, int days) {
    if (days == Integer.MAX_VALUE || days == Integer.MIN_VALUE) {
      row.setNullAt(i);
      return false;
    }
    row.setInt(i, days + EPOCH_DAYS);
    return true;
  }

  /**
   * Microseconds since 2000-01-01; ±infinity, and instants after 294247-01-10 04:00:54.775807
   * (Spark's last microsecond) are set to NULL (false).
   */
  static boolean timestamp(InternalRow row, int i, long micros) {
    if (micros == Long.MAX_VALUE || micros == Long.MIN_VALUE
        || micros > Long.MAX_VALUE - EPOCH_MICROS) {
      row.setNullAt(i);
      return false;
    }
    row.setLong(i, micros + EPOCH_MICROS);
    return true;
  }

  private static Object scalar(ColumnSpec c, ColumnSpec.Kind kind, byte[] b, int off, int len) {
    switch (kind) {
      case BOOL: return b[off] != 0;
      case INT2: return int2(b, off);
      case INT4: return int4(b, off);
      case INT8: return int8(b, off);
      case OID: return int4(b, off) & 0xFFFF_FFFFL;
      case FLOAT4: return Float.intBitsToFloat(int4(b, off));
      case FLOAT8: return Double.longBitsToDouble(int8(b, off));
      case TEXT: return UTF8String.fromBytes(b, off, len);
      case BYTEA: return Arrays.copyOfRange(b, off, off + len);
      case UUID: return uuid(b, off);
      case NUMERIC: return numeric(c, b, off);
      default:
        // date and timestamps are not array elements (ColumnSpec.fromJson) and not boxed here
        throw new IllegalStateException("no decoder for " + kind);
    }
  }

  /** {@link #shortNumeric}'s answer for a value it leaves to {@link #numeric}. */
  private static final long NOT_SHORT = Long.MIN_VALUE;

  /**
   * The unscaled long of a finite numeric of at most 4 base-10000 digits (16 decimal digits) that
   * fits {@code c}'s DECIMAL(p &lt;= 18, s) exactly, without overflow checks or 64-bit division;
   * {@link #NOT_SHORT} for any other value (NaN, infinities, longer, or one that does not fit:
   * {@link #numeric} decides those).
   */
  private static long shortNumeric(ColumnSpec c, byte[] b, int off) {
    int ndigits = int2(b, off);
    int sign = int2(b, off + 4) & 0xFFFF;
    if (ndigits > 4 || c.precision > 18 || (sign != 0 && sign != NUMERIC_NEG)) {
      return NOT_SHORT;
    }
    if (ndigits == 0) {
      return 0;
    }
    long d = 0;
    for (int k = 0; k < ndigits - 1; k++) {
      d = d * 10_000 + int2(b, off + 8 + 2 * k);
    }
    int last = int2(b, off + 8 + 2 * (ndigits - 1));
    int e = 4 * (int2(b, off + 2) - ndigits + 1) + c.scale;
    long unscaled;
    if (e >= 0) {
      if (e > 2) {
        return NOT_SHORT; // 10^16 * 10^3 might not fit a long
      }
      unscaled = (d * 10_000 + last) * POW10[e];
    } else if (e >= -4) {
      int divisor = (int) POW10[-e];
      if (last % divisor != 0) {
        return NOT_SHORT;
      }
      unscaled = d * POW10[4 + e] + last / divisor;
    } else {
      return NOT_SHORT;
    }
    if (unscaled >= POW10[c.precision]) {
      return NOT_SHORT;
    }
    return sign == 0 ? unscaled : -unscaled;
  }

  /**
   * numeric: int16 ndigits, weight, sign, dscale, then ndigits base-10000 digits; the value is
   * sum(d[i] * 10000^(weight - i)). Exact, or an error if it does not fit DECIMAL(p, s).
   */
  private static Object numeric(ColumnSpec c, byte[] b, int off) {
    int ndigits = int2(b, off);
    int weight = int2(b, off + 2);
    int sign = int2(b, off + 4) & 0xFFFF;
    if (sign != 0 && sign != NUMERIC_NEG) {
      return UNREPRESENTABLE; // NaN, +Infinity, -Infinity
    }
    // unscaled = D * 10^e with D the digits as one integer and e = 4*(weight-ndigits+1) + scale
    int e = 4 * (weight - ndigits + 1) + c.scale;
    try {
      long d = 0;
      for (int i = 0; i < ndigits; i++) {
        d = Math.addExact(Math.multiplyExact(d, 10_000L), int2(b, off + 8 + 2 * i));
      }
      if (c.precision <= 18 && e >= -4 && e <= 18) {
        long unscaled = e >= 0 ? Math.multiplyExact(d, POW10[e]) : exactDivide(c, d, POW10[-e]);
        if (unscaled >= POW10[c.precision]) {
          throw tooLarge(c);
        }
        // A long-backed Decimal, as Decimal.set(long, precision, scale) makes after this check.
        return Decimal.createUnsafe(sign == 0 ? unscaled : -unscaled, c.precision, c.scale);
      }
    } catch (ArithmeticException overflow) {
      // more than 18 digits on the way: exact arithmetic below
    }
    return exactNumeric(c, b, off, ndigits, sign, e);
  }

  /** numeric beyond a long on the way: BigInteger arithmetic, then Spark's Decimal of it. */
  private static Decimal exactNumeric(ColumnSpec c, byte[] b, int off, int ndigits, int sign,
      int e) {
    BigInteger d = BigInteger.ZERO;
    BigInteger base = BigInteger.valueOf(10_000L);
    for (int i = 0; i < ndigits; i++) {
      d = d.multiply(base).add(BigInteger.valueOf(int2(b, off + 8 + 2 * i)));
    }
    BigInteger unscaled;
    if (e >= 0) {
      unscaled = d.multiply(BigInteger.TEN.pow(e));
    } else {
      BigInteger[] qr = d.divideAndRemainder(BigInteger.TEN.pow(-e));
      if (qr[1].signum() != 0) {
        throw new IllegalStateException("column " + c.name + ": a value has more fraction digits "
            + "than DECIMAL(" + c.precision + "," + c.scale + ") holds");
      }
      unscaled = qr[0];
    }
    BigDecimal value = new BigDecimal(sign == 0 ? unscaled : unscaled.negate(), c.scale);
    if (value.precision() > c.precision && value.signum() != 0) {
      throw tooLarge(c);
    }
    return Decimal.apply(value, c.precision, c.scale);
  }

  private static long exactDivide(ColumnSpec c, long d, long divisor) {
    if (d % divisor != 0) {
      throw new IllegalStateException("column " + c.name + ": a value has more fraction digits "
          + "than DECIMAL(" + c.precision + "," + c.scale + ") holds");
    }
    return d / divisor;
  }

  private static IllegalStateException tooLarge(ColumnSpec c) {
    return new IllegalStateException("column " + c.name + ": a value has more digits than DECIMAL("
        + c.precision + "," + c.scale + ") holds");
  }

  /**
   * array_send: int32 ndim, int32 flags (1: has NULLs), element type oid, per dimension int32 size
   * and lower bound, then per element int32 length (-1: NULL) and bytes. One dimension with lower
   * bound 1, or none (empty); other shapes are unrepresentable.
   */
  private static Object array(ColumnSpec c, byte[] b, int off, int len) {
    int ndim = int4(b, off);
    if (ndim == 0) {
      return new GenericArrayData(new Object[0]);
    }
    if (ndim != 1 || int4(b, off + 16) != 1) {
      return UNREPRESENTABLE;
    }
    int n = int4(b, off + 12);
    if (n < 0 || n > (len - 20) / 4) { // every element has at least its length
      throw new ArrayIndexOutOfBoundsException("an array of " + n + " elements in " + len
          + " bytes");
    }
    int size = fixedWidth(c.element);
    if (size > 0) {
      return fixedWidthArray(c.element, size, n, b, off + 20, off + len);
    }
    Object[] out = new Object[n];
    int p = off + 20;
    for (int i = 0; i < n; i++) {
      int length = int4(b, p);
      p += 4;
      if (length >= 0) {
        out[i] = scalar(c, c.element, b, p, length);
        p += length;
      }
    }
    return new GenericArrayData(out);
  }

  /** The bytes of an element of Spark's type for {@code kind} when fixed, else 0. */
  private static int fixedWidth(ColumnSpec.Kind kind) {
    switch (kind) {
      case BOOL: return 1;
      case INT2: return 2;
      case INT4:
      case FLOAT4: return 4;
      case INT8:
      case OID:
      case FLOAT8: return 8;
      default: return 0;
    }
  }

  /**
   * Fixed-width elements written straight into Spark's {@link UnsafeArrayData}: no boxing, and
   * the projection into the row copies it whole instead of element by element.
   */
  private static UnsafeArrayData fixedWidthArray(ColumnSpec.Kind kind, int size, int n, byte[] b,
      int p, int end) {
    UnsafeArrayData out = UnsafeArrayData.createFreshArray(n, size);
    for (int i = 0; i < n; i++) {
      int length = int4(b, p);
      p += 4;
      if (length < 0) {
        out.setNullAt(i);
        continue;
      }
      if (length != (kind == ColumnSpec.Kind.OID ? 4 : size) || length > end - p) {
        throw new ArrayIndexOutOfBoundsException("a " + length + "-byte " + kind
            + " array element");
      }
      switch (kind) {
        case BOOL: out.setBoolean(i, b[p] != 0); break;
        case INT2: out.setShort(i, int2(b, p)); break;
        case INT4: out.setInt(i, int4(b, p)); break;
        case FLOAT4: out.setFloat(i, Float.intBitsToFloat(int4(b, p))); break;
        case INT8: out.setLong(i, int8(b, p)); break;
        case OID: out.setLong(i, int4(b, p) & 0xFFFF_FFFFL); break;
        default: out.setDouble(i, Double.longBitsToDouble(int8(b, p))); break;
      }
      p += length;
    }
    return out;
  }

  private static UTF8String uuid(byte[] b, int off) {
    byte[] out = new byte[36];
    int o = 0;
    for (int i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) {
        out[o++] = '-';
      }
      out[o++] = HEX[(b[off + i] >> 4) & 0xF];
      out[o++] = HEX[b[off + i] & 0xF];
    }
    return UTF8String.fromBytes(out);
  }
}
