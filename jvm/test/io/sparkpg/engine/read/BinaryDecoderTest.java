package io.sparkpg.engine.read;

import static io.sparkpg.engine.testing.Check.assertContains;
import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertThrows;
import static io.sparkpg.engine.testing.Check.assertTrue;

import io.sparkpg.engine.testing.Wire;
import java.math.BigDecimal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.LocalDate;
import org.apache.spark.sql.catalyst.expressions.SpecificInternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * PostgreSQL's binary send formats decoded into Spark's internal values (BinaryDecoder). The bytes
 * are written by hand after PostgreSQL's send functions (cited per test; all in src/backend/utils/
 * adt/ of the PostgreSQL 15 source) and the binary COPY format
 * (https://www.postgresql.org/docs/15/sql-copy.html, "Binary Format").
 */
public final class BinaryDecoderTest {
  private static final long DAY_MICROS = 86_400_000_000L;

  /**
   * The field decoded (by the generated decoder of a one-field row) as {@code columnJson} says;
   * {@link BinaryDecoder#UNREPRESENTABLE} when read as NULL.
   */
  private static Object decode(String columnJson, Wire value) {
    ColumnSpec c = Specs.column(columnJson);
    byte[] v = value.toBytes();
    // The field sits inside a message (4 bytes before it, 4 after), as in a CopyData row.
    byte[] bytes = new Wire().int4(0x5A5A5A5A).int4(v.length).bytes(v).int4(0x5A5A5A5A)
        .toBytes();
    RowShape shape = new RowShape(new ColumnSpec[] {c}, new int[] {0}, new int[0],
        new ColumnSpec[0]);
    SpecificInternalRow row = new SpecificInternalRow(shape.schema());
    long[] counts = new long[1];
    try {
      assertEquals(bytes.length - 4, FieldsDecoders.of(shape, "test").decode(row, bytes, 4, counts));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (counts[0] != 0) {
      assertEquals(1L, counts[0]);
      assertTrue(row.isNullAt(0), "an unrepresentable value is set to NULL");
      return BinaryDecoder.UNREPRESENTABLE;
    }
    return row.get(0, c.dataType());
  }

  private static Object scalar(String kind, Wire value) {
    return decode("{'name': 'c', 'kind': '" + kind + "', 'expr': 'c'}", value);
  }

  private static Object numeric(int precision, int scale, Wire value) {
    return decode("{'name': 'amount', 'kind': 'numeric', 'precision': " + precision
        + ", 'scale': " + scale + ", 'expr': 'c'}", value);
  }

  /** numeric_send (numeric.c): int16 ndigits, weight, sign, dscale, then base-10000 digits. */
  private static Wire numericWire(int weight, int sign, int dscale, int... digits) {
    Wire w = new Wire().int2(digits.length).int2(weight).int2(sign).int2(dscale);
    for (int d : digits) {
      w.int2(d);
    }
    return w;
  }

  private static Decimal decimal(String value, int precision, int scale) {
    return Decimal.apply(new BigDecimal(value), precision, scale);
  }

  /** boolsend (bool.c): one byte, 1 or 0. */
  public void testBool() {
    assertEquals(true, scalar("bool", new Wire().int1(1)));
    assertEquals(false, scalar("bool", new Wire().int1(0)));
  }

  /** int2send, int4send (int.c), int8send (int8.c): two's complement, big-endian. */
  public void testIntegers() {
    assertEquals((short) -32768, scalar("int2", new Wire().int2(-32768)));
    assertEquals((short) 32767, scalar("int2", new Wire().int2(32767)));
    assertEquals(Integer.MIN_VALUE, scalar("int4", new Wire().int4(Integer.MIN_VALUE)));
    assertEquals(-3, scalar("int4", new Wire().int4(-3)));
    assertEquals(Long.MAX_VALUE, scalar("int8", new Wire().int8(Long.MAX_VALUE)));
    assertEquals(Long.MIN_VALUE, scalar("int8", new Wire().int8(Long.MIN_VALUE)));
  }

  /** oidsend (oid.c): an unsigned int32, read as a bigint. */
  public void testOidIsUnsigned() {
    assertEquals(4294967295L, scalar("oid", new Wire().int4(-1)));
    assertEquals(0L, scalar("oid", new Wire().int4(0)));
  }

  /** float4send, float8send (float.c): the IEEE 754 bits (pq_sendfloat4/8). */
  public void testFloatsIncludingNanAndInfinities() {
    assertEquals(1.5f, scalar("float4", new Wire().int4(Float.floatToIntBits(1.5f))));
    assertEquals(Float.POSITIVE_INFINITY,
        scalar("float4", new Wire().int4(Float.floatToIntBits(Float.POSITIVE_INFINITY))));
    assertEquals(Float.NEGATIVE_INFINITY, scalar("float4", new Wire().int4(0xFF800000)));
    assertTrue(Float.isNaN((Float) scalar("float4", new Wire().int4(0x7FC00000))), "float4 NaN");
    assertEquals(-0.0, scalar("float8", new Wire().int8(0x8000000000000000L)));
    assertEquals(1.7976931348623157e308,
        scalar("float8", new Wire().int8(Double.doubleToLongBits(Double.MAX_VALUE))));
    assertEquals(Double.POSITIVE_INFINITY, scalar("float8", new Wire().int8(0x7FF0000000000000L)));
    assertEquals(Double.NEGATIVE_INFINITY, scalar("float8", new Wire().int8(0xFFF0000000000000L)));
    assertTrue(Double.isNaN((Double) scalar("float8", new Wire().int8(0x7FF8000000000000L))),
        "float8 NaN");
  }

  /** numeric_send: 12345.67 is digits 1|2345|6700, weight 1 (10000^1 for the first), dscale 2. */
  public void testNumeric() {
    assertEquals(decimal("12345.67", 12, 2), numeric(12, 2, numericWire(1, 0, 2, 1, 2345, 6700)));
    assertEquals(decimal("-12345.67", 12, 2),
        numeric(12, 2, numericWire(1, 0x4000, 2, 1, 2345, 6700)));
    assertEquals(decimal("0.01", 12, 2), numeric(12, 2, numericWire(-1, 0, 2, 100)));
    assertEquals(decimal("0.00", 12, 2), numeric(12, 2, numericWire(0, 0, 2))); // no digits
    // Trailing zero groups are not sent: 10000 is one digit 1 of weight 1.
    assertEquals(decimal("10000.00", 12, 2), numeric(12, 2, numericWire(1, 0, 0, 1)));
    // numeric(5,-2) is read as DECIMAL(7,0): 9999900 = 999|9900.
    assertEquals(decimal("9999900", 7, 0), numeric(7, 0, numericWire(1, 0, 0, 999, 9900)));
  }

  /**
   * The last base-10000 digit holding 1, 2 or 3 decimal digits beyond the scale (which must be
   * zeros), the long arithmetic's largest values, and zero at any scale: the same values as the
   * exact BigDecimal arithmetic.
   */
  public void testNumericFractionDigitsAndStorage() {
    // 1.2 = 1 . 2000: scale 3 drops 1 digit, scale 2 drops 2, scale 1 drops 3.
    assertEquals(decimal("1.200", 9, 3), numeric(9, 3, numericWire(0, 0, 1, 1, 2000)));
    assertEquals(decimal("1.20", 18, 2), numeric(18, 2, numericWire(0, 0, 1, 1, 2000)));
    assertEquals(decimal("-1.2", 4, 1), numeric(4, 1, numericWire(0, 0x4000, 1, 1, 2000)));
    for (int scale = 1; scale <= 3; scale++) {
      int s = scale;
      // 0.0001 has more fraction digits than any of these scales.
      assertContains(assertThrows(IllegalStateException.class,
          () -> numeric(10, s, numericWire(-1, 0, 4, 1))).getMessage(),
          "more fraction digits than DECIMAL(10," + s + ")");
    }
    assertEquals(decimal("999999999.999999999", 18, 9),
        numeric(18, 9, numericWire(2, 0, 9, 9, 9999, 9999, 9999, 9999, 9000)));
    assertEquals(decimal("0", 18, 17), numeric(18, 17, numericWire(0, 0, 0)));
    assertEquals(decimal("0", 38, 20), numeric(38, 20, numericWire(0, 0, 0)));
  }

  /** numeric_send beyond a long: the BigDecimal path, exact. */
  public void testHugeNumeric() {
    // 1234567890123456789012345678.0123456789 = 1234|5678|9012|3456|7890|1234|5678 . 0123|4567|8900
    Object v = numeric(38, 10, numericWire(6, 0, 10, 1234, 5678, 9012, 3456, 7890, 1234, 5678,
        123, 4567, 8900));
    assertEquals(new BigDecimal("1234567890123456789012345678.0123456789"),
        ((Decimal) v).toJavaBigDecimal());
    assertEquals(new BigDecimal("-99999999999999999999999999999999999999"),
        ((Decimal) numeric(38, 0, numericWire(9, 0x4000, 0, 99, 9999, 9999, 9999, 9999, 9999,
            9999, 9999, 9999, 9999))).toJavaBigDecimal());
  }

  /**
   * Random numeric_send values (0 to 6 base-10000 digits, any weight and sign) into random
   * DECIMAL(p, s): the decoded value, or the error, is what exact BigDecimal arithmetic says.
   */
  public void testNumericMatchesExactArithmetic() {
    java.util.Random random = new java.util.Random(23);
    for (int n = 0; n < 20_000; n++) {
      int[] digits = new int[random.nextInt(7)];
      for (int k = 0; k < digits.length; k++) {
        digits[k] = random.nextInt(4) == 0 ? 0 : random.nextInt(10_000);
      }
      int weight = random.nextInt(9) - 4;
      int sign = random.nextBoolean() ? 0 : 0x4000;
      int precision = 1 + random.nextInt(random.nextBoolean() ? 18 : 38);
      int scale = random.nextInt(precision + 1);
      BigDecimal exact = BigDecimal.ZERO;
      for (int k = 0; k < digits.length; k++) {
        exact = exact.add(BigDecimal.valueOf(digits[k]).scaleByPowerOfTen(4 * (weight - k)));
      }
      if (sign != 0) {
        exact = exact.negate();
      }
      String what = exact.toPlainString() + " as DECIMAL(" + precision + "," + scale + ")";
      Wire wire = numericWire(weight, sign, 0, digits);
      BigDecimal scaled;
      try {
        scaled = exact.setScale(scale, java.math.RoundingMode.UNNECESSARY);
      } catch (ArithmeticException inexact) {
        assertContains(assertThrows(IllegalStateException.class,
            () -> numeric(precision, scale, wire)).getMessage(), "more fraction digits");
        continue;
      }
      if (scaled.signum() != 0 && scaled.precision() > precision) {
        assertContains(assertThrows(IllegalStateException.class,
            () -> numeric(precision, scale, wire)).getMessage(), "more digits");
        continue;
      }
      Object v = numeric(precision, scale, wire);
      assertEquals(what + ": " + scaled.toPlainString(),
          what + ": " + ((Decimal) v).toJavaBigDecimal().toPlainString());
    }
  }

  /** NUMERIC_NAN 0xC000, NUMERIC_PINF 0xD000, NUMERIC_NINF 0xF000 (numeric.c) are read as NULL. */
  public void testNumericNanAndInfinitiesAreUnrepresentable() {
    for (int sign : new int[] {0xC000, 0xD000, 0xF000}) {
      assertEquals(BinaryDecoder.UNREPRESENTABLE, numeric(12, 2, numericWire(0, sign, 0)));
    }
  }

  public void testNumericThatDoesNotFitTheDecimalIsAnErrorNamingTheColumn() {
    assertContains(assertThrows(IllegalStateException.class,
        () -> numeric(5, 2, numericWire(1, 0, 2, 1, 2345, 6700))).getMessage(),
        "column amount: a value has more digits than DECIMAL(5,2) holds");
    assertContains(assertThrows(IllegalStateException.class,
        () -> numeric(12, 1, numericWire(1, 0, 2, 1, 2345, 6700))).getMessage(),
        "column amount: a value has more fraction digits than DECIMAL(12,1) holds");
    assertContains(assertThrows(IllegalStateException.class,
        () -> numeric(38, 0, numericWire(9, 0, 0, 100))).getMessage(),
        "more digits than DECIMAL(38,0)"); // 100 * 10000^9 = 10^38
    assertContains(assertThrows(IllegalStateException.class,
        () -> numeric(38, 2, numericWire(-6, 0, 30, 1))).getMessage(),
        "more fraction digits than DECIMAL(38,2)");
  }

  /** textsend (varlena.c): the bytes in the client encoding (UTF-8 for pgjdbc). */
  public void testText() {
    assertEquals(UTF8String.fromString("héllo ✓ 😀"), scalar("text", new Wire().utf8("héllo ✓ 😀")));
    assertEquals(UTF8String.fromString(""), scalar("text", new Wire()));
  }

  /** byteasend (varlena.c): the raw bytes. */
  public void testBytea() {
    assertEquals(new byte[] {0, (byte) 0xFF, 0x10},
        scalar("bytea", new Wire().int1(0).int1(0xFF).int1(0x10)));
    assertEquals(new byte[0], scalar("bytea", new Wire()));
  }

  /** uuid_send (uuid.c): the 16 bytes; read as canonical lower-case text. */
  public void testUuid() {
    Wire w = new Wire().int8(0xA0EEBC999C0B4EF8L).int8(0xBB6D6BB9BD380A11L);
    assertEquals(UTF8String.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), scalar("uuid", w));
  }

  /**
   * date_send (date.c): int32 days since 2000-01-01; DATEVAL_NOBEGIN/NOEND (PG_INT32_MIN/MAX,
   * utils/datetime.h) are -infinity/infinity.
   */
  public void testDates() {
    assertEquals(10957, scalar("date", new Wire().int4(0)));
    assertEquals(0, scalar("date", new Wire().int4(-10957)));
    int last = (int) LocalDate.of(5874897, 12, 31).toEpochDay();
    assertEquals(last, scalar("date", new Wire().int4(last - 10957)));
    int first = (int) LocalDate.of(-4712, 11, 24).toEpochDay(); // 4713-11-24 BC, Julian day 0
    assertEquals(first, scalar("date", new Wire().int4(first - 10957)));
    assertEquals(BinaryDecoder.UNREPRESENTABLE, scalar("date", new Wire().int4(Integer.MAX_VALUE)));
    assertEquals(BinaryDecoder.UNREPRESENTABLE, scalar("date", new Wire().int4(Integer.MIN_VALUE)));
  }

  /**
   * timestamp_send, timestamptz_send (timestamp.c): int64 microseconds since 2000-01-01 00:00 (UTC
   * for timestamptz); DT_NOBEGIN/DT_NOEND (PG_INT64_MIN/MAX, datatype/timestamp.h) are ±infinity.
   */
  public void testTimestamps() {
    for (String kind : new String[] {"timestamp", "timestamptz"}) {
      assertEquals(946684800000000L, scalar(kind, new Wire().int8(0)));
      assertEquals(-1L, scalar(kind, new Wire().int8(-946684800000001L)));
      long gregorianChange = LocalDate.of(1582, 10, 10).toEpochDay() * DAY_MICROS;
      assertEquals(gregorianChange, scalar(kind, new Wire().int8(gregorianChange
          - 946684800000000L)));
      assertEquals(BinaryDecoder.UNREPRESENTABLE, scalar(kind, new Wire().int8(Long.MAX_VALUE)));
      assertEquals(BinaryDecoder.UNREPRESENTABLE, scalar(kind, new Wire().int8(Long.MIN_VALUE)));
      // Spark's last microsecond (294247-01-10 04:00:54.775807) reads; the next one cannot.
      long last = Long.MAX_VALUE - 946684800000000L;
      assertEquals(Long.MAX_VALUE, scalar(kind, new Wire().int8(last)));
      assertEquals(BinaryDecoder.UNREPRESENTABLE, scalar(kind, new Wire().int8(last + 1)));
    }
  }

  /**
   * array_send (arrayfuncs.c): int32 ndim, int32 flags (1: has NULLs), element type oid, per
   * dimension int32 size and lower bound, then per element int32 length (-1: NULL) and bytes.
   */
  private static Wire arrayWire(int elementOid, int[] dims, int[] lowerBounds, Wire... elements) {
    boolean nulls = false;
    for (Wire e : elements) {
      nulls |= e == null;
    }
    Wire w = new Wire().int4(dims.length).int4(nulls ? 1 : 0).int4(elementOid);
    for (int d = 0; d < dims.length; d++) {
      w.int4(dims[d]).int4(lowerBounds[d]);
    }
    for (Wire e : elements) {
      if (e == null) {
        w.int4(-1);
      } else {
        w.field(e);
      }
    }
    return w;
  }

  private static Object array(String element, Wire value) {
    return decode("{'name': 'a', 'kind': 'array', 'element': '" + element + "', 'expr': 'a'}",
        value);
  }

  public void testArraysWithNullElements() {
    ArrayData ints = (ArrayData) array("int4", arrayWire(23, new int[] {3}, new int[] {1},
        new Wire().int4(1), null, new Wire().int4(-3)));
    assertEquals(3, ints.numElements());
    assertEquals(1, ints.getInt(0));
    assertTrue(ints.isNullAt(1), "NULL element");
    assertEquals(-3, ints.getInt(2));
    ArrayData texts = (ArrayData) array("text", arrayWire(25, new int[] {2}, new int[] {1},
        new Wire().utf8("ü"), new Wire()));
    assertEquals(UTF8String.fromString("ü"), texts.getUTF8String(0));
    assertEquals(UTF8String.fromString(""), texts.getUTF8String(1));
    ArrayData uuids = (ArrayData) array("uuid", arrayWire(2950, new int[] {1}, new int[] {1},
        new Wire().int8(0).int8(1)));
    assertEquals(UTF8String.fromString("00000000-0000-0000-0000-000000000001"),
        uuids.getUTF8String(0));
  }

  public void testFixedWidthArraysAreSparksUnsafeArraysWithTheirNulls() {
    ArrayData bools = (ArrayData) array("bool", arrayWire(16, new int[] {3}, new int[] {1},
        new Wire().int1(1), null, new Wire().int1(0)));
    assertTrue(bools instanceof UnsafeArrayData, "no boxed elements");
    assertEquals(true, bools.getBoolean(0));
    assertTrue(bools.isNullAt(1), "NULL element");
    assertEquals(false, bools.getBoolean(2));
    ArrayData shorts = (ArrayData) array("int2", arrayWire(21, new int[] {2}, new int[] {1},
        new Wire().int2(-32768), new Wire().int2(32767)));
    assertEquals((short) -32768, shorts.getShort(0));
    assertEquals((short) 32767, shorts.getShort(1));
    ArrayData longs = (ArrayData) array("int8", arrayWire(20, new int[] {2}, new int[] {1},
        null, new Wire().int8(Long.MIN_VALUE)));
    assertTrue(longs.isNullAt(0) && !longs.isNullAt(1), "NULL then a value");
    assertEquals(Long.MIN_VALUE, longs.getLong(1));
    ArrayData oids = (ArrayData) array("oid", arrayWire(26, new int[] {1}, new int[] {1},
        new Wire().int4(-1)));
    assertEquals(4294967295L, oids.getLong(0));
    ArrayData floats = (ArrayData) array("float4", arrayWire(700, new int[] {2}, new int[] {1},
        new Wire().int4(Float.floatToRawIntBits(Float.NaN)), new Wire().int4(
            Float.floatToRawIntBits(-0.0f))));
    assertTrue(Float.isNaN(floats.getFloat(0)), "NaN");
    assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(floats.getFloat(1)));
    ArrayData doubles = (ArrayData) array("float8", arrayWire(701, new int[] {65},
        new int[] {1}, manyDoubles(65)));
    assertEquals(65, doubles.numElements()); // past one word of null bits
    assertEquals(64.5, doubles.getDouble(64));
    assertTrue(doubles.isNullAt(63) && !doubles.isNullAt(62), "the 64th element is NULL");
  }

  /** {@code n} float8 elements i + 0.5, the 64th NULL. */
  private static Wire[] manyDoubles(int n) {
    Wire[] out = new Wire[n];
    for (int i = 0; i < n; i++) {
      out[i] = i == 63 ? null : new Wire().int8(Double.doubleToRawLongBits(i + 0.5));
    }
    return out;
  }

  public void testAnArrayThatDoesNotFitItsFieldIsAnError() {
    // An element of the wrong width, and more elements than the field has bytes for.
    assertThrows(ArrayIndexOutOfBoundsException.class, () -> array("int4", arrayWire(23,
        new int[] {1}, new int[] {1}, new Wire().int8(1))));
    assertThrows(ArrayIndexOutOfBoundsException.class, () -> array("int8", arrayWire(20,
        new int[] {1000}, new int[] {1}, new Wire().int8(1))));
  }

  public void testAnEmptyArrayHasNoDimensions() {
    assertEquals(0, ((ArrayData) array("int8", arrayWire(20, new int[0], new int[0])))
        .numElements());
  }

  public void testOtherShapesAreUnrepresentable() {
    // Two dimensions ({{1},{2}}) and a lower bound other than 1 ('[0:0]={7}').
    assertEquals(BinaryDecoder.UNREPRESENTABLE, array("int4", arrayWire(23, new int[] {2, 1},
        new int[] {1, 1}, new Wire().int4(1), new Wire().int4(2))));
    assertEquals(BinaryDecoder.UNREPRESENTABLE, array("int4", arrayWire(23, new int[] {1},
        new int[] {0}, new Wire().int4(7))));
  }
}
