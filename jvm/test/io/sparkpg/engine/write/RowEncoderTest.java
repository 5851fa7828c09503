package io.sparkpg.engine.write;

import static io.sparkpg.engine.testing.Check.assertContains;
import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertThrows;

import io.sparkpg.engine.testing.Wire;
import java.math.BigDecimal;
import java.util.Arrays;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Spark internal rows as PostgreSQL binary COPY rows (RowEncoder), checked byte by byte against
 * the receive functions' formats (src/backend/utils/adt/: boolrecv, int2recv, int4recv, int8recv,
 * float4recv, float8recv, numeric_recv, textrecv, bytearecv, date_recv, timestamp_recv,
 * array_recv) and https://www.postgresql.org/docs/15/sql-copy.html ("Binary Format").
 */
public final class RowEncoderTest {
  private static byte[] encode(DataType type, Object value) {
    return encodeRow(new StructType().add("c", type), false, value);
  }

  private static byte[] encodeRow(StructType schema, boolean tagged, Object... values) {
    RowEncoder encoder = new RowEncoder(schema, tagged);
    encoder.row(new GenericInternalRow(values));
    return Arrays.copyOf(encoder.bytes(), encoder.size());
  }

  /** A one-field row: int16 field count 1, then the field. */
  private static byte[] row(Wire field) {
    return new Wire().int2(1).field(field).toBytes();
  }

  public void testHeaderAndTrailer() {
    RowEncoder encoder = new RowEncoder(new StructType().add("c", DataTypes.IntegerType), false);
    encoder.header();
    encoder.trailer();
    // Signature PGCOPY\n\377\r\n\0, int32 flags 0, int32 header extension length 0; trailer -1.
    assertEquals(new Wire().utf8("PGCOPY\n").int1(0xFF).utf8("\r\n").int1(0).int4(0).int4(0)
        .int2(-1).toBytes(), Arrays.copyOf(encoder.bytes(), encoder.size()));
    encoder.reset();
    assertEquals(0, encoder.size());
  }

  public void testBooleansAndIntegers() {
    assertEquals(row(new Wire().int1(1)), encode(DataTypes.BooleanType, true));
    assertEquals(row(new Wire().int1(0)), encode(DataTypes.BooleanType, false));
    assertEquals(row(new Wire().int2(-128)), encode(DataTypes.ByteType, (byte) -128)); // int2
    assertEquals(row(new Wire().int2(-32768)), encode(DataTypes.ShortType, (short) -32768));
    assertEquals(row(new Wire().int4(Integer.MAX_VALUE)),
        encode(DataTypes.IntegerType, Integer.MAX_VALUE));
    assertEquals(row(new Wire().int8(Long.MIN_VALUE)), encode(DataTypes.LongType, Long.MIN_VALUE));
  }

  public void testFloatsKeepTheirBits() {
    assertEquals(row(new Wire().int4(0x7FC00000)), encode(DataTypes.FloatType, Float.NaN));
    assertEquals(row(new Wire().int4(0xFF800000)),
        encode(DataTypes.FloatType, Float.NEGATIVE_INFINITY));
    assertEquals(row(new Wire().int8(0x8000000000000000L)), encode(DataTypes.DoubleType, -0.0));
    assertEquals(row(new Wire().int8(Double.doubleToRawLongBits(1.5))),
        encode(DataTypes.DoubleType, 1.5));
  }

  private static byte[] numericRow(int weight, int sign, int dscale, int... digits) {
    Wire w = new Wire().int2(digits.length).int2(weight).int2(sign).int2(dscale);
    for (int d : digits) {
      w.int2(d);
    }
    return row(w);
  }

  private static byte[] encodeDecimal(String value, int precision, int scale) {
    return encode(DataTypes.createDecimalType(precision, scale),
        Decimal.apply(new BigDecimal(value), precision, scale));
  }

  /** numeric_recv: int16 ndigits, weight, sign (0x4000 negative), dscale, base-10000 digits. */
  public void testNumeric() {
    assertEquals(numericRow(1, 0, 2, 1, 2345, 6700), encodeDecimal("12345.67", 12, 2));
    assertEquals(numericRow(1, 0x4000, 2, 1, 2345, 6700), encodeDecimal("-12345.67", 12, 2));
    assertEquals(numericRow(-1, 0, 2, 100), encodeDecimal("0.01", 12, 2));
    assertEquals(numericRow(1, 0, 0, 1), encodeDecimal("10000", 10, 0)); // no trailing zero digit
    assertEquals(numericRow(0, 0, 3), encodeDecimal("0.000", 10, 3)); // zero: no digits
    assertEquals(numericRow(6, 0, 10, 1234, 5678, 9012, 3456, 7890, 1234, 5678, 123, 4567, 8900),
        encodeDecimal("1234567890123456789012345678.0123456789", 38, 10));
  }

  public void testTextAndBytea() {
    assertEquals(row(new Wire().utf8("héllo ✓ 😀")),
        encode(DataTypes.StringType, UTF8String.fromString("héllo ✓ 😀")));
    assertEquals(row(new Wire()), encode(DataTypes.StringType, UTF8String.fromString("")));
    assertEquals(row(new Wire().int1(0).int1(0xFF)),
        encode(DataTypes.BinaryType, new byte[] {0, (byte) 0xFF}));
  }

  /** date_recv: days since 2000-01-01; timestamp(tz)_recv: microseconds since 2000-01-01. */
  public void testDatesAndTimestamps() {
    assertEquals(row(new Wire().int4(-10957)), encode(DataTypes.DateType, 0));
    assertEquals(row(new Wire().int4(0)), encode(DataTypes.DateType, 10957));
    assertEquals(row(new Wire().int8(-946684800000000L)), encode(DataTypes.TimestampType, 0L));
    assertEquals(row(new Wire().int8(1L)),
        encode(DataTypes.TimestampNTZType, 946684800000001L));
  }

  /** array_recv: ndim, has-nulls flag, element oid, size and lower bound 1, then elements. */
  public void testArrays() {
    DataType ints = DataTypes.createArrayType(DataTypes.IntegerType, true);
    assertEquals(row(new Wire().int4(1).int4(1).int4(23).int4(3).int4(1)
        .field(new Wire().int4(1)).int4(-1).field(new Wire().int4(-3))),
        encode(ints, new GenericArrayData(new Object[] {1, null, -3})));
    assertEquals(row(new Wire().int4(0).int4(0).int4(23)),
        encode(ints, new GenericArrayData(new Object[0])));
    DataType texts = DataTypes.createArrayType(DataTypes.StringType, true);
    assertEquals(row(new Wire().int4(1).int4(0).int4(25).int4(1).int4(1)
        .field(new Wire().utf8("ü"))),
        encode(texts, new GenericArrayData(new Object[] {UTF8String.fromString("ü")})));
  }

  public void testNullFieldsAndTheTag() {
    StructType schema = new StructType().add("a", DataTypes.IntegerType)
        .add("b", DataTypes.StringType);
    RowEncoder encoder = new RowEncoder(schema, true);
    encoder.tag(0x1234_5678_9ABCL);
    encoder.row(new GenericInternalRow(new Object[] {null, UTF8String.fromString("x")}));
    assertEquals(new Wire().int2(3).int4(-1).field(new Wire().utf8("x"))
        .field(new Wire().int8(0x1234_5678_9ABCL)).toBytes(),
        Arrays.copyOf(encoder.bytes(), encoder.size()));
  }

  public void testATypeWithoutEncodingIsRefusedNamingTheColumn() {
    for (DataType type : new DataType[] {DataTypes.CalendarIntervalType,
        DataTypes.createArrayType(DataTypes.createArrayType(DataTypes.IntegerType)),
        new StructType().add("x", DataTypes.IntegerType)}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> RowEncoder.check(new StructType().add("Bad Col", type)));
      assertContains(e.getMessage(), "sparkpg write: column Bad Col has type ",
          "which has no PostgreSQL encoding (docs/writing.md)");
    }
  }
}
