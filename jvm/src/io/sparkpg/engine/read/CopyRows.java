package io.sparkpg.engine.read;

import java.io.IOException;
import org.apache.spark.sql.catalyst.expressions.SpecificInternalRow;

/**
 * The CopyData messages of one binary COPY (as pgjdbc's {@code CopyOut.readFromCopy} returns
 * them: the header with the first row, then one row per message, then the trailer) decoded into
 * one reused row, counting per column of the read the values read as NULL. No connection: the
 * partition reader feeds it, and so does the JVM decode benchmark.
 */
final class CopyRows {
  private static final byte[] SIGNATURE = "PGCOPY\n\377\r\n\0".getBytes(
      java.nio.charset.StandardCharsets.ISO_8859_1);

  private final RowShape shape;
  private final FieldsDecoder decoder;
  private final String where;
  /** Values read as NULL so far, per column of the read (all of them, in the read's order). */
  final long[] counts;
  /** Reused for every row: Spark copies each row (UnsafeProjection) before the next call. */
  final SpecificInternalRow row;
  private boolean headerRead;

  CopyRows(RowShape shape, int readColumns, String where) {
    this.shape = shape;
    this.decoder = FieldsDecoders.of(shape, where);
    this.where = where;
    this.counts = new long[readColumns];
    this.row = new SpecificInternalRow(shape.schema());
  }

  /** Decode one message into {@link #row}; false when it held no row (header alone, trailer). */
  boolean decode(byte[] message) throws IOException {
    int pos = headerRead ? 0 : header(message);
    if (pos == message.length) {
      return false; // the header alone
    }
    short fields = BinaryDecoder.int2(message, pos);
    if (fields == -1) {
      return false; // the trailer; readFromCopy returns null next
    }
    if (fields != shape.fields.length + shape.talliesInto.length) {
      throw new IOException(where + ": COPY sent " + fields + " fields, expected "
          + (shape.fields.length + shape.talliesInto.length));
    }
    decodeRow(message, pos + 2);
    return true;
  }

  private int header(byte[] b) throws IOException {
    for (int i = 0; i < SIGNATURE.length; i++) {
      if (i >= b.length || b[i] != SIGNATURE[i]) {
        throw new IOException(where + ": not a binary COPY stream");
      }
    }
    headerRead = true;
    // flags, extension length
    return SIGNATURE.length + 8 + BinaryDecoder.int4(b, SIGNATURE.length + 4);
  }

  private void decodeRow(byte[] b, int pos) throws IOException {
    pos = decoder.decode(row, b, pos, counts);
    if (pos > b.length - 12 * shape.talliesInto.length) {
      throw FieldsDecoders.pastTheEnd(where);
    }
    for (int column : shape.talliesInto) {
      counts[column] += BinaryDecoder.int8(b, pos + 4); // int8, never NULL (a count)
      pos += 12;
    }
  }
}
