package io.sparkpg.engine.read;

import static io.sparkpg.engine.testing.Check.assertContains;
import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertThrows;
import static io.sparkpg.engine.testing.Check.assertTrue;

import io.sparkpg.engine.testing.Wire;
import java.io.IOException;
import org.apache.spark.sql.catalyst.expressions.SpecificInternalRow;

/**
 * The row decoders generated per row shape (FieldsDecoders): compiled once per shape, built from
 * kinds and positions only (a column's name never reaches the generated source), counting values
 * read as NULL only into the column the shape names. Each kind's values: BinaryDecoderTest; rows
 * of several fields: CopyRowsTest.
 */
public final class FieldsDecodersTest {
  private static final String HOSTILE = "x\"); System.exit(3); //\n*/ \\u0022";

  private static RowShape shape(int[] countsInto, String... columnsJson) {
    ColumnSpec[] fields = new ColumnSpec[columnsJson.length];
    for (int i = 0; i < fields.length; i++) {
      fields[i] = Specs.column(columnsJson[i]);
    }
    return new RowShape(fields, countsInto, new int[0], new ColumnSpec[0]);
  }

  private static String column(String name, String kind) {
    return "{'name': '" + name.replace("\"", "\\\"").replace("\n", "\\n").replace("\\u", "\\\\u")
        + "', 'kind': '" + kind + "', 'expr': 'c'}";
  }

  public void testOneCompiledClassPerShape() {
    RowShape a = shape(new int[] {-1, 1}, column("a", "int8"), column("b", "date"));
    RowShape same = shape(new int[] {-1, 1}, column("other", "int8"), column("names", "date"));
    RowShape counted = shape(new int[] {-1, 0}, column("a", "int8"), column("b", "date"));
    Class<?> compiled = FieldsDecoders.of(a, "p0").getClass();
    assertTrue(compiled == FieldsDecoders.of(same, "p1").getClass(),
        "the same kinds and counts: the same class");
    assertTrue(compiled != FieldsDecoders.of(counted, "p0").getClass(),
        "another count column: another class");
  }

  /** The compiled classes are bounded: the least recently used shape is compiled again. */
  public void testTheLeastRecentlyUsedShapesAreDropped() {
    int n = FieldsDecoders.CACHED_SHAPES + 1;
    Class<?>[] first = new Class<?>[n];
    for (int k = 0; k < n; k++) { // one field counted into column k: n shapes
      first[k] = FieldsDecoders.of(shape(new int[] {k}, column("d", "date")), "p").getClass();
    }
    Class<?> newest = FieldsDecoders.of(shape(new int[] {n - 1}, column("d", "date")), "p")
        .getClass();
    assertTrue(newest == first[n - 1], "the newest shape is kept");
    Class<?> oldest = FieldsDecoders.of(shape(new int[] {0}, column("d", "date")), "p")
        .getClass();
    assertTrue(oldest != first[0], "the oldest shape was dropped and is compiled again");
  }

  public void testNamesNeverReachTheGeneratedSource() throws IOException {
    RowShape shape = shape(new int[] {-1, -1}, column(HOSTILE, "text"), column(HOSTILE, "int4"));
    String source = FieldsDecoders.source(shape.fields, shape.fieldCountsInto);
    assertTrue(!source.contains("exit") && !source.contains(HOSTILE.substring(0, 3)),
        "no name in the source");
    byte[] message = new Wire().field(new Wire().utf8("v")).int4(4).int4(42).toBytes();
    SpecificInternalRow row = new SpecificInternalRow(shape.schema());
    assertEquals(message.length, FieldsDecoders.of(shape, "p0").decode(row, message, 0,
        new long[0]));
    assertEquals("v", row.getUTF8String(0).toString());
    assertEquals(42, row.getInt(1));
  }

  /** A value Spark cannot hold is NULL; it is counted only into the column the shape names. */
  public void testValuesReadAsNullAreCountedWhereTheShapeSays() throws IOException {
    RowShape shape = shape(new int[] {2, -1}, column("d", "date"), column("e", "date"));
    long[] counts = new long[3];
    byte[] infinity = new Wire().int4(4).int4(Integer.MAX_VALUE).int4(4).int4(Integer.MIN_VALUE)
        .toBytes();
    SpecificInternalRow row = new SpecificInternalRow(shape.schema());
    FieldsDecoders.of(shape, "p0").decode(row, infinity, 0, counts);
    assertTrue(row.isNullAt(0) && row.isNullAt(1), "both infinities are NULL");
    assertEquals("[0, 0, 1]", java.util.Arrays.toString(counts));
  }

  /**
   * Wide rows (PostgreSQL allows 1,600 columns) decode through several generated methods, each
   * small enough for HotSpot to compile; the fields keep their order across the methods.
   */
  public void testRowsOfUpTo1600FieldsAreSplitIntoCompilableMethods() throws IOException {
    for (int n : new int[] {0, 1, 32, 33, 1600}) {
      String[] json = new String[n];
      int[] countsInto = new int[n];
      Wire message = new Wire();
      for (int i = 0; i < n; i++) {
        json[i] = column("c" + i, i % 3 == 2 ? "text" : "int4");
        countsInto[i] = -1;
        message = i % 3 == 2 ? message.field(new Wire().utf8("t" + i)) : message.int4(4).int4(i);
      }
      RowShape shape = shape(countsInto, json);
      String source = FieldsDecoders.source(shape.fields, shape.fieldCountsInto);
      int methods = (n + FieldsDecoders.FIELDS_PER_METHOD - 1) / FieldsDecoders.FIELDS_PER_METHOD;
      // one method: decode itself; more: decode calls each
      assertEquals(methods <= 1 ? 0 : methods, source.split("private int fields", -1).length - 1);
      byte[] bytes = message.toBytes();
      SpecificInternalRow row = new SpecificInternalRow(shape.schema());
      assertEquals(bytes.length, FieldsDecoders.of(shape, "p0").decode(row, bytes, 0,
          new long[0]));
      for (int i = 0; i < n; i++) {
        assertEquals(i % 3 == 2 ? "t" + i : String.valueOf(i),
            i % 3 == 2 ? row.getUTF8String(i).toString() : String.valueOf(row.getInt(i)));
      }
    }
  }

  public void testAFieldPastTheEndNamesWhere() {
    RowShape shape = shape(new int[] {-1}, column("a", "int8"));
    FieldsDecoder decoder = FieldsDecoders.of(shape, "sparkpg copy engine, t partition 7");
    SpecificInternalRow row = new SpecificInternalRow(shape.schema());
    for (byte[] cut : new byte[][] {new Wire().int2(0).toBytes(),
        new Wire().int4(8).int4(1).toBytes()}) {
      assertContains(assertThrows(IOException.class, () -> decoder.decode(row, cut, 0,
          new long[0])).getMessage(), "t partition 7: a field of the COPY row runs past the end");
    }
  }
}
