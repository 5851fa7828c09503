package io.sparkpg.engine.read;

import java.io.IOException;
import org.apache.spark.sql.execution.vectorized.OnHeapColumnVector;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * The CopyData messages of one binary COPY (as pgjdbc's {@code CopyOut.readFromCopy} returns
 * them: the header with the first row, then one row per message, then the trailer) decoded into
 * one reused columnar batch, counting per column of the read the values read as NULL: text, uuid
 * and bytea stay in their messages ({@link MessageBytesColumn}), every other kind is decoded into
 * Spark's {@link OnHeapColumnVector}. A batch
 * holds at most {@link #MAX_ROWS} rows and ends after the row that brings it to
 * {@link #MAX_BYTES} bytes of messages, so its memory stays bounded whatever the rows' widths.
 * No connection: the partition reader feeds it, and so does the JVM decode benchmark.
 */
final class CopyBatches implements AutoCloseable {
  static final int MAX_ROWS = 4096;
  /** Small enough for a batch to stay in the CPU's cache until Spark has read it. */
  static final int MAX_BYTES = 1 << 20;
  private static final byte[] SIGNATURE = "PGCOPY\n\377\r\n\0".getBytes(
      java.nio.charset.StandardCharsets.ISO_8859_1);

  private final RowShape shape;
  private final ColumnSpec[] columns;
  private final String where;
  /** Per field: the vector it is decoded into, or null when it stays in the message. */
  private final OnHeapColumnVector[] decoded;
  /** Per field: the column pointing into the messages, or null when it is decoded. */
  private final MessageBytesColumn[] inMessage;
  /** Values read as NULL so far, per column of the read (all of them, in the read's order). */
  final long[] counts;
  /** Reused for every batch: Spark is done with a batch before it asks for the next. */
  final ColumnarBatch batch;
  private boolean headerRead;
  private int rows;
  private long bytes;

  CopyBatches(RowShape shape, int readColumns, String where) {
    this.shape = shape;
    this.columns = shape.fields;
    this.where = where;
    this.counts = new long[readColumns];
    this.decoded = new OnHeapColumnVector[columns.length];
    this.inMessage = new MessageBytesColumn[columns.length];
    ColumnVector[] vectors = new ColumnVector[columns.length];
    for (int i = 0; i < columns.length; i++) {
      DataType type = columns[i].dataType();
      if (BinaryDecoder.staysInMessage(columns[i].kind)) {
        vectors[i] = inMessage[i] = new MessageBytesColumn(type, MAX_ROWS);
      } else {
        vectors[i] = decoded[i] = new OnHeapColumnVector(MAX_ROWS, type);
      }
    }
    this.batch = new ColumnarBatch(vectors, 0);
  }

  /** Empty the batch for the next rows. */
  void clear() {
    for (int i = 0; i < columns.length; i++) {
      if (decoded[i] != null) {
        decoded[i].reset();
      } else {
        inMessage[i].reset();
      }
    }
    rows = 0;
    bytes = 0;
  }

  /** True once the batch holds {@link #MAX_ROWS} rows or {@link #MAX_BYTES} bytes. */
  boolean full() {
    return rows >= MAX_ROWS || bytes >= MAX_BYTES;
  }

  /** The rows decoded since {@link #clear}. */
  int rows() {
    return rows;
  }

  /** The batch of the rows decoded since {@link #clear}. */
  ColumnarBatch finish() {
    batch.setNumRows(rows);
    return batch;
  }

  /** Decode one message, appending its row to the batch; false when it held no row. */
  boolean decode(byte[] message) throws IOException {
    int pos = headerRead ? 0 : header(message);
    if (pos == message.length) {
      return false; // the header alone
    }
    short fields = BinaryDecoder.int2(message, pos);
    if (fields == -1) {
      return false; // the trailer; readFromCopy returns null next
    }
    if (fields != columns.length + shape.talliesInto.length) {
      throw new IOException(where + ": COPY sent " + fields + " fields, expected "
          + (columns.length + shape.talliesInto.length));
    }
    decodeRow(message, pos + 2);
    rows++;
    bytes += message.length;
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

  private void decodeRow(byte[] b, int pos) {
    int row = rows;
    for (int i = 0; i < columns.length; i++) {
      int len = BinaryDecoder.int4(b, pos);
      pos += 4;
      OnHeapColumnVector v = decoded[i];
      if (v == null) {
        BinaryDecoder.place(inMessage[i], row, columns[i].kind, b, pos, len);
      } else if (len < 0) {
        v.appendNull();
      } else if (!BinaryDecoder.append(v, columns[i], b, pos, len)) {
        counts[shape.fieldCountsInto[i]]++;
      }
      pos += Math.max(len, 0);
    }
    for (int column : shape.talliesInto) {
      counts[column] += BinaryDecoder.int8(b, pos + 4); // int8, never NULL (a count)
      pos += 12;
    }
  }

  @Override
  public void close() {
    batch.close();
  }
}
