package io.sparkpg.engine.read;

import static io.sparkpg.engine.testing.Check.assertContains;
import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertThrows;
import static io.sparkpg.engine.testing.Check.assertTrue;

import io.sparkpg.engine.testing.Wire;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * A binary COPY stream (https://www.postgresql.org/docs/15/sql-copy.html, "Binary Format") as
 * pgjdbc hands it over, one CopyData message at a time, decoded by CopyBatches into its reused
 * columnar batch.
 */
public final class CopyBatchesTest {
  private static final String COLUMNS = "[{'name': 'id', 'kind': 'int8', 'expr': 'id'},"
      + "{'name': 'amount', 'kind': 'numeric', 'precision': 12, 'scale': 2, 'expr': 'amount'},"
      + "{'name': 'note', 'kind': 'text', 'expr': 'note'},"
      + "{'name': 'day', 'kind': 'date', 'expr': 'day'}]";

  private static CopyBatches rows() {
    return batches(COLUMNS);
  }

  private static CopyBatches batches(String columns) {
    ReadSpec spec = Specs.spec(columns.replace('\'', '"'));
    int[] all = new int[spec.columns.size()];
    for (int i = 0; i < all.length; i++) {
      all[i] = i;
    }
    return new CopyBatches(RowShape.plain(spec, all), all.length, "test partition 0");
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

  public void testAStreamOfRowsIntoOneBatchWithNullsAndCounts() throws IOException {
    CopyBatches rows = rows();
    rows.clear();
    assertTrue(!rows.decode(header().toBytes()), "the header alone holds no row");
    byte[] first = new Wire().int2(4).int4(8).int8(7).field(amount()).field(new Wire().utf8("ü"))
        .int4(4).int4(0).toBytes();
    assertTrue(rows.decode(first), "a row");
    // NULLs, and a date of infinity: read as NULL and counted in its column.
    byte[] second = new Wire().int2(4).int4(8).int8(8).int4(-1).int4(-1).int4(4)
        .int4(Integer.MAX_VALUE).toBytes();
    assertTrue(rows.decode(second), "a row");
    byte[] third = new Wire().int2(4).int4(8).int8(9).field(amount()).field(new Wire().utf8("z"))
        .int4(4).int4(-1).toBytes();
    assertTrue(rows.decode(third), "a row");
    assertTrue(!rows.decode(new Wire().int2(-1).toBytes()), "the trailer holds no row");
    ColumnarBatch batch = rows.finish();
    assertEquals(3, batch.numRows());
    InternalRow row = batch.getRow(0);
    assertEquals(7L, row.getLong(0));
    assertEquals(Decimal.apply(new BigDecimal("12345.67"), 12, 2), row.getDecimal(1, 12, 2));
    assertEquals(UTF8String.fromString("ü"), row.getUTF8String(2));
    assertEquals(BinaryDecoder.EPOCH_DAYS, row.getInt(3));
    row = batch.getRow(1);
    assertEquals(8L, row.getLong(0));
    for (int i = 1; i < 4; i++) {
      assertTrue(row.isNullAt(i), "field " + i + " NULL");
    }
    row = batch.getRow(2);
    assertEquals(9L, row.getLong(0));
    assertEquals(UTF8String.fromString("z"), row.getUTF8String(2));
    assertEquals(BinaryDecoder.EPOCH_DAYS - 1, row.getInt(3));
    assertEquals("[0, 0, 0, 1]", java.util.Arrays.toString(rows.counts));
  }

  public void testTheHeaderComesWithTheFirstRow() throws IOException {
    CopyBatches rows = rows();
    rows.clear();
    assertTrue(rows.decode(header().int2(4).int4(8).int8(-1).int4(-1).int4(-1).int4(-1)
        .toBytes()), "a row after the header");
    assertEquals(-1L, rows.finish().getRow(0).getLong(0));
  }

  /** A batch ends at MAX_ROWS rows; clear() starts the next one empty, NULL flags included. */
  public void testBatchesEndAtTheirRowBoundAndStartEmpty() throws IOException {
    CopyBatches rows = rows();
    rows.clear();
    rows.decode(header().toBytes());
    for (int i = 0; i < CopyBatches.MAX_ROWS; i++) {
      assertTrue(!rows.full(), "not full after " + i + " rows");
      rows.decode(new Wire().int2(4).int4(8).int8(i).int4(-1).int4(-1).int4(-1).toBytes());
    }
    assertTrue(rows.full(), "full at MAX_ROWS rows");
    assertEquals(CopyBatches.MAX_ROWS - 1L, rows.finish().getRow(CopyBatches.MAX_ROWS - 1)
        .getLong(0));
    rows.clear();
    assertEquals(0, rows.rows());
    rows.decode(new Wire().int2(4).int4(8).int8(42).field(amount()).field(new Wire().utf8("a"))
        .int4(4).int4(1).toBytes());
    InternalRow row = rows.finish().getRow(0);
    assertEquals(1, rows.finish().numRows());
    assertTrue(!row.isNullAt(1) && !row.isNullAt(2) && !row.isNullAt(3), "no stale NULLs");
    assertEquals(UTF8String.fromString("a"), row.getUTF8String(2));
  }

  /** A batch also ends after the row that brings it to MAX_BYTES bytes: wide rows, few per batch. */
  public void testBatchesOfWideRowsEndAtTheirByteBound() throws IOException {
    CopyBatches rows = rows();
    rows.clear();
    rows.decode(header().toBytes());
    byte[] text = new byte[CopyBatches.MAX_BYTES / 4];
    java.util.Arrays.fill(text, (byte) 'x');
    int n = 0;
    while (!rows.full()) {
      rows.decode(new Wire().int2(4).int4(8).int8(n++).int4(-1).field(new Wire().bytes(text))
          .int4(-1).toBytes());
    }
    assertEquals(4, n);
    assertEquals(text.length, rows.finish().getRow(3).getUTF8String(2).numBytes());
  }

  /** Arrays and wide decimals of several rows in one batch: each row keeps its own elements. */
  public void testArraysAndWideDecimalsAcrossRows() throws IOException {
    CopyBatches rows = batches("[{'name': 'a', 'kind': 'array', 'element': 'text', 'expr': 'a'},"
        + "{'name': 'n', 'kind': 'numeric', 'precision': 30, 'scale': 0, 'expr': 'n'}]");
    rows.clear();
    rows.decode(header().toBytes());
    Wire ab = new Wire().int4(1).int4(1).int4(25).int4(3).int4(1).field(new Wire().utf8("a"))
        .int4(-1).field(new Wire().utf8("bc"));
    // numeric_send of 10^20 (digit 1, weight 5) and of -7.
    Wire big = new Wire().int2(1).int2(5).int2(0).int2(0).int2(1);
    Wire seven = new Wire().int2(1).int2(0).int2(0x4000).int2(0).int2(7);
    rows.decode(new Wire().int2(2).field(ab).field(big).toBytes());
    rows.decode(new Wire().int2(2).int4(-1).int4(-1).toBytes());
    rows.decode(new Wire().int2(2).field(new Wire().int4(0).int4(0).int4(25)).field(seven)
        .toBytes());
    rows.decode(new Wire().int2(2).field(new Wire().int4(1).int4(0).int4(25).int4(1).int4(1)
        .field(new Wire().utf8("d"))).field(big).toBytes());
    ColumnarBatch batch = rows.finish();
    ArrayData first = batch.getRow(0).getArray(0);
    assertEquals(3, first.numElements());
    assertEquals(UTF8String.fromString("a"), first.getUTF8String(0));
    assertTrue(first.isNullAt(1), "a NULL element");
    assertEquals(UTF8String.fromString("bc"), first.getUTF8String(2));
    assertTrue(batch.getRow(1).isNullAt(0) && batch.getRow(1).isNullAt(1), "NULL array, numeric");
    assertEquals(0, batch.getRow(2).getArray(0).numElements());
    assertEquals(Decimal.apply(new BigDecimal("-7"), 30, 0), batch.getRow(2).getDecimal(1, 30, 0));
    ArrayData last = batch.getRow(3).getArray(0);
    assertEquals(1, last.numElements());
    assertEquals(UTF8String.fromString("d"), last.getUTF8String(0));
    assertEquals(Decimal.apply(new BigDecimal("100000000000000000000"), 30, 0),
        batch.getRow(3).getDecimal(1, 30, 0));
  }

  /** The long-backed DECIMAL(12,2) holds 9999999999.99 and refuses 10000000000 (numeric(13,2)). */
  public void testDecimalsAtThePrecisionBoundary() throws IOException {
    CopyBatches rows = rows();
    rows.clear();
    rows.decode(header().toBytes());
    rows.decode(row(new Wire().int2(4).int2(2).int2(0x4000).int2(2).int2(99).int2(9999)
        .int2(9999).int2(9900)));
    assertEquals(Decimal.apply(new BigDecimal("-9999999999.99"), 12, 2),
        rows.finish().getRow(0).getDecimal(1, 12, 2));
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
    CopyBatches rows = rows();
    assertContains(assertThrows(IOException.class,
        () -> rows.decode(header().int2(3).toBytes())).getMessage(),
        "test partition 0: COPY sent 3 fields, expected 4");
  }
}
