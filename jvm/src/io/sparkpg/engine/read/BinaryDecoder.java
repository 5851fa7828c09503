package io.sparkpg.engine.read;

import java.math.BigDecimal;
import java.math.BigInteger;
import org.apache.spark.sql.execution.vectorized.WritableColumnVector;
import org.apache.spark.sql.types.Decimal;

/**
 * PostgreSQL's binary send formats appended to Spark's column vectors. A value Spark cannot hold
 * is appended as NULL and reported (the reader counts it).
 */
final class BinaryDecoder {
  /** Days and microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
  static final int EPOCH_DAYS = 10957;
  static final long EPOCH_MICROS = 946_684_800_000_000L;

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

  /**
   * Append field {@code len} bytes at {@code off} of a message to {@code v} as its next value:
   * primitives, dates, timestamps and decimals of up to 18 digits written in place, text and bytea
   * copied straight from the message, without an object per value. False when the value is
   * unrepresentable (a NULL is appended instead).
   */
  static boolean append(WritableColumnVector v, ColumnSpec c, byte[] b, int off, int len) {
    switch (c.kind) {
      case DATE: return date(v, int4(b, off));
      case TIMESTAMP:
      case TIMESTAMPTZ: return timestamp(v, int8(b, off));
      case NUMERIC: return numeric(v, c, b, off);
      case ARRAY: return array(v, c, b, off);
      default:
        appendScalar(v, c.kind, b, off, len);
        return true;
    }
  }

  static short int2(byte[] b, int off) {
    return (short) ((b[off] << 8) | (b[off + 1] & 0xFF));
  }

  static int int4(byte[] b, int off) {
    return (b[off] << 24) | ((b[off + 1] & 0xFF) << 16) | ((b[off + 2] & 0xFF) << 8)
        | (b[off + 3] & 0xFF);
  }

  static long int8(byte[] b, int off) {
    return ((long) int4(b, off) << 32) | (int4(b, off + 4) & 0xFFFF_FFFFL);
  }

  /** Days since 2000-01-01; ±infinity (DATEVAL_NOBEGIN/NOEND) is set to NULL (false). */
  private static boolean date(WritableColumnVector v, int days) {
    if (days == Integer.MAX_VALUE || days == Integer.MIN_VALUE) {
      v.appendNull();
      return false;
    }
    v.appendInt(days + EPOCH_DAYS);
    return true;
  }

  /**
   * Microseconds since 2000-01-01; ±infinity, and instants after 294247-01-10 04:00:54.775807
   * (Spark's last microsecond) are set to NULL (false).
   */
  private static boolean timestamp(WritableColumnVector v, long micros) {
    if (micros == Long.MAX_VALUE || micros == Long.MIN_VALUE
        || micros > Long.MAX_VALUE - EPOCH_MICROS) {
      v.appendNull();
      return false;
    }
    v.appendLong(micros + EPOCH_MICROS);
    return true;
  }

  /** Kinds whose values Spark reads from the message's bytes as they are (or a text of them). */
  static boolean staysInMessage(ColumnSpec.Kind kind) {
    return kind == ColumnSpec.Kind.TEXT || kind == ColumnSpec.Kind.BYTEA
        || kind == ColumnSpec.Kind.UUID;
  }

  /**
   * Row {@code row} of a {@link #staysInMessage} column: the {@code len} bytes at {@code off}
   * (NULL when {@code len} is -1), a uuid as its canonical text.
   */
  static void place(MessageBytesColumn v, int row, ColumnSpec.Kind kind, byte[] b, int off,
      int len) {
    if (len < 0) {
      v.setNull(row);
    } else if (kind == ColumnSpec.Kind.UUID) {
      v.set(row, uuid(b, off), 0, 36);
    } else {
      v.set(row, b, off, len);
    }
  }

  /** A value of a kind every value of which Spark holds (array elements included). */
  private static void appendScalar(WritableColumnVector v, ColumnSpec.Kind kind, byte[] b, int off,
      int len) {
    switch (kind) {
      case BOOL: v.appendBoolean(b[off] != 0); return;
      case INT2: v.appendShort(int2(b, off)); return;
      case INT4: v.appendInt(int4(b, off)); return;
      case INT8: v.appendLong(int8(b, off)); return;
      case OID: v.appendLong(int4(b, off) & 0xFFFF_FFFFL); return;
      case FLOAT4: v.appendFloat(Float.intBitsToFloat(int4(b, off))); return;
      case FLOAT8: v.appendDouble(Double.longBitsToDouble(int8(b, off))); return;
      case TEXT:
      case BYTEA: v.appendByteArray(b, off, len); return;
      case UUID: v.appendByteArray(uuid(b, off), 0, 36); return;
      default:
        // numeric, date and timestamps are not array elements (ColumnSpec.fromJson)
        throw new IllegalStateException("no decoder for " + kind);
    }
  }

  /**
   * numeric: int16 ndigits, weight, sign, dscale, then ndigits base-10000 digits; the value is
   * sum(d[i] * 10000^(weight - i)). Exact, or an error if it does not fit DECIMAL(p, s).
   */
  private static boolean numeric(WritableColumnVector v, ColumnSpec c, byte[] b, int off) {
    int ndigits = int2(b, off);
    int weight = int2(b, off + 2);
    int sign = int2(b, off + 4) & 0xFFFF;
    if (sign != 0 && sign != NUMERIC_NEG) {
      v.appendNull(); // NaN, +Infinity, -Infinity
      return false;
    }
    // unscaled = D * 10^e with D the digits as one integer and e = 4*(weight-ndigits+1) + scale
    int e = 4 * (weight - ndigits + 1) + c.scale;
    if (c.precision <= 18 && (ndigits == 0 || (e > -4 && e <= 18))) {
      try {
        long unscaled = ndigits == 0 ? 0 : unscaled(c, b, off, ndigits, e);
        if (unscaled >= POW10[c.precision]) {
          throw tooLarge(c);
        }
        // The unscaled value, stored as WritableColumnVector.putDecimal stores it.
        long signed = sign == 0 ? unscaled : -unscaled;
        if (c.precision <= Decimal.MAX_INT_DIGITS()) {
          v.appendInt((int) signed);
        } else {
          v.appendLong(signed);
        }
        return true;
      } catch (ArithmeticException overflow) {
        // more than 18 digits on the way: exact arithmetic below
      }
    }
    Decimal exact = exactNumeric(c, b, off, ndigits, sign, e);
    v.putDecimal(v.appendNotNull(), exact, c.precision);
    return true;
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

  /**
   * The unscaled value of {@code ndigits} (at least one) base-10000 digits when {@code e} is -3 to
   * 18: long arithmetic, an ArithmeticException past a long.
   */
  private static long unscaled(ColumnSpec c, byte[] b, int off, int ndigits, int e) {
    // e < 0: only the last base-10000 digit holds decimal digits beyond the scale
    int whole = e < 0 ? ndigits - 1 : ndigits;
    long d = 0;
    for (int i = 0; i < whole; i++) {
      d = Math.addExact(Math.multiplyExact(d, 10_000L), int2(b, off + 8 + 2 * i));
    }
    if (e >= 0) {
      return Math.multiplyExact(d, POW10[e]);
    }
    return Math.addExact(Math.multiplyExact(d, POW10[4 + e]),
        lastDigitScaled(c, int2(b, off + 8 + 2 * whole), -e));
  }

  /**
   * The last base-10000 digit without its {@code drop} (1 to 3) trailing decimal digits, which
   * must be zeros; constant divisors, so no division instruction.
   */
  private static int lastDigitScaled(ColumnSpec c, int digit, int drop) {
    int kept;
    switch (drop) {
      case 1: kept = digit / 10; break;
      case 2: kept = digit / 100; break;
      default: kept = digit / 1000; break;
    }
    if (kept * (int) POW10[drop] != digit) {
      throw new IllegalStateException("column " + c.name + ": a value has more fraction digits "
          + "than DECIMAL(" + c.precision + "," + c.scale + ") holds");
    }
    return kept;
  }

  private static IllegalStateException tooLarge(ColumnSpec c) {
    return new IllegalStateException("column " + c.name + ": a value has more digits than DECIMAL("
        + c.precision + "," + c.scale + ") holds");
  }


  /**
   * A 1-D array: int32 ndim, has-nulls flag, element oid, then per dimension size and lower
   * bound, then (int32 length or -1, bytes) per element. Other shapes are unrepresentable.
   */
  private static boolean array(WritableColumnVector v, ColumnSpec c, byte[] b, int off) {
    int ndim = int4(b, off);
    if (ndim == 0) {
      v.appendArray(0);
      return true;
    }
    if (ndim != 1 || int4(b, off + 16) != 1) {
      v.appendNull();
      return false;
    }
    int n = int4(b, off + 12);
    v.appendArray(n); // before its elements: it points at the next element appended
    WritableColumnVector elements = v.arrayData();
    int p = off + 20;
    for (int i = 0; i < n; i++) {
      int len = int4(b, p);
      p += 4;
      if (len < 0) {
        elements.appendNull();
      } else {
        appendScalar(elements, c.element, b, p, len);
        p += len;
      }
    }
    return true;
  }

  private static byte[] uuid(byte[] b, int off) {
    byte[] out = new byte[36];
    int o = 0;
    for (int i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) {
        out[o++] = '-';
      }
      out[o++] = HEX[(b[off + i] >> 4) & 0xF];
      out[o++] = HEX[b[off + i] & 0xF];
    }
    return out;
  }
}
