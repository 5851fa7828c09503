package io.sparkpg.engine.read;

import static io.sparkpg.engine.testing.Check.assertContains;
import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertThrows;
import static io.sparkpg.engine.testing.Check.assertTrue;

import io.sparkpg.engine.testing.Wire;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * A binary COPY stream (https://www.postgresql.org/docs/15/sql-copy.html, "Binary Format") as
 * pgjdbc hands it over, one CopyData message at a time, decoded by CopyRows into its reused row.
 */
public final class CopyRowsTest {
  private static final String COLUMNS = "[{'name': 'id', 'kind': 'int8', 'expr': 'id'},"
      + "{'name': 'amount', 'kind': 'numeric', 'precision': 12, 'scale': 2, 'expr': 'amount'},"
      + "{'name': 'note', 'kind': 'text', 'expr': 'note'},"
      + "{'name': 'day', 'kind': 'date', 'expr': 'day'}]";

  private static CopyRows rows() {
    ReadSpec spec = Specs.spec(COLUMNS.replace('\'', '"'));
    return new CopyRows(RowShape.plain(spec, new int[] {0, 1, 2, 3}), 4, "test partition 0");
  }

  /** Signature, int32 flags, int32 header extension length (here 4 bytes of extension). */
  private static Wire header() {
    return new Wire().bytes("PGCOPY\n\377\r\n\0".getBytes(StandardCharsets.ISO_8859_1))
        .int4(0).int4(4).int4(0x01020304);
  }

  /** numeric_send of 12345.67 (digits 1|2345|6700, weight 1, dscale 2). */
  private static Wire amount() {
    return new Wire().int2(3).int2(1).int2(0).int2(2).int2(1).int2(2345).int2(6700);
  }

  public void testAStreamOfRowsIntoOneRowWithNullsAndCounts() throws IOException {
    CopyRows rows = rows();
    assertTrue(!rows.decode(header().toBytes()), "the header alone holds no row");
    byte[] first = new Wire().int2(4).int4(8).int8(7).field(amount()).field(new Wire().utf8("ü"))
        .int4(4).int4(0).toBytes();
    assertTrue(rows.decode(first), "a row");
    assertEquals(7L, rows.row.getLong(0));
    assertEquals(Decimal.apply(new BigDecimal("12345.67"), 12, 2), rows.row.getDecimal(1, 12, 2));
    assertEquals(UTF8String.fromString("ü"), rows.row.getUTF8String(2));
    assertEquals(BinaryDecoder.EPOCH_DAYS, rows.row.getInt(3));
    // NULLs, and a date of infinity: read as NULL and counted in its column.
    byte[] second = new Wire().int2(4).int4(8).int8(8).int4(-1).int4(-1).int4(4)
        .int4(Integer.MAX_VALUE).toBytes();
    assertTrue(rows.decode(second), "a row");
    assertEquals(8L, rows.row.getLong(0));
    for (int i = 1; i < 4; i++) {
      assertTrue(rows.row.isNullAt(i), "field " + i + " NULL");
    }
    assertTrue(!rows.decode(new Wire().int2(-1).toBytes()), "the trailer holds no row");
    assertEquals("[0, 0, 0, 1]", java.util.Arrays.toString(rows.counts));
  }

  public void testTheHeaderComesWithTheFirstRow() throws IOException {
    CopyRows rows = rows();
    assertTrue(rows.decode(header().int2(4).int4(8).int8(-1).int4(-1).int4(-1).int4(-1)
        .toBytes()), "a row after the header");
    assertEquals(-1L, rows.row.getLong(0));
  }

  /** The long-backed DECIMAL(12,2) holds 9999999999.99 and refuses 10000000000 (numeric(13,2)). */
  public void testDecimalsAtThePrecisionBoundary() throws IOException {
    CopyRows rows = rows();
    rows.decode(header().toBytes());
    rows.decode(row(new Wire().int2(4).int2(2).int2(0x4000).int2(2).int2(99).int2(9999)
        .int2(9999).int2(9900)));
    assertEquals(Decimal.apply(new BigDecimal("-9999999999.99"), 12, 2),
        rows.row.getDecimal(1, 12, 2));
    assertContains(assertThrows(IllegalStateException.class,
        () -> rows.decode(row(new Wire().int2(1).int2(2).int2(0).int2(2).int2(100))))
        .getMessage(), "column amount: a value has more digits than DECIMAL(12,2) holds");
  }

  private static byte[] row(Wire amount) {
    return new Wire().int2(4).int4(8).int8(1).field(amount).int4(-1).int4(-1).toBytes();
  }

  public void testBadStreamsNameThePartition() {
    assertContains(assertThrows(IOException.class,
        () -> rows().decode(new Wire().utf8("PGCOPY").toBytes())).getMessage(),
        "test partition 0: not a binary COPY stream");
    CopyRows rows = rows();
    assertContains(assertThrows(IOException.class,
        () -> rows.decode(header().int2(3).toBytes())).getMessage(),
        "test partition 0: COPY sent 3 fields, expected 4");
  }

  /** A field longer than what is left of its message is refused, never read past the message. */
  public void testAFieldPastTheEndOfItsMessageIsRefused() throws IOException {
    for (int cut : new int[] {1, 4, 9}) {
      CopyRows rows = rows();
      rows.decode(header().toBytes());
      byte[] whole = new Wire().int2(4).int4(8).int8(7).int4(-1).field(new Wire().utf8("note"))
          .int4(4).int4(0).toBytes();
      byte[] cutShort = java.util.Arrays.copyOf(whole, whole.length - cut);
      assertContains(assertThrows(IOException.class, () -> rows.decode(cutShort)).getMessage(),
          "test partition 0: a field of the COPY row runs past the end of its message");
    }
  }
}
