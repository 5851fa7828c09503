package io.sparkpg.engine.read;

import java.util.Arrays;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarArray;
import org.apache.spark.sql.vectorized.ColumnarMap;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * A text, uuid or bytea column of a batch whose values stay where they arrived: each row points
 * into its CopyData message (pgjdbc allocates one array per message), so a string is not copied
 * until Spark copies it into its own row. Holds at most one batch of messages.
 */
final class MessageBytesColumn extends ColumnVector {
  private final byte[][] arrays;
  private final int[] offsets;
  /** A value's length; -1 for NULL. */
  private final int[] lengths;
  private int nulls;

  MessageBytesColumn(DataType type, int capacity) {
    super(type);
    arrays = new byte[capacity][];
    offsets = new int[capacity];
    lengths = new int[capacity];
  }

  /** Row {@code row} is the {@code length} bytes at {@code offset} of {@code array}. */
  void set(int row, byte[] array, int offset, int length) {
    arrays[row] = array;
    offsets[row] = offset;
    lengths[row] = length;
  }

  void setNull(int row) {
    arrays[row] = null;
    lengths[row] = -1;
    nulls++;
  }

  /** Forget the batch's messages (the next batch sets every row it holds). */
  void reset() {
    Arrays.fill(arrays, null);
    nulls = 0;
  }

  @Override
  public boolean isNullAt(int row) {
    return lengths[row] < 0;
  }

  @Override
  public boolean hasNull() {
    return nulls > 0;
  }

  @Override
  public int numNulls() {
    return nulls;
  }

  @Override
  public UTF8String getUTF8String(int row) {
    return lengths[row] < 0 ? null : UTF8String.fromBytes(arrays[row], offsets[row], lengths[row]);
  }

  @Override
  public byte[] getBinary(int row) {
    return lengths[row] < 0 ? null
        : Arrays.copyOfRange(arrays[row], offsets[row], offsets[row] + lengths[row]);
  }

  @Override
  public void close() {
    reset();
  }

  @Override
  public boolean getBoolean(int row) {
    throw notA("boolean");
  }

  @Override
  public byte getByte(int row) {
    throw notA("byte");
  }

  @Override
  public short getShort(int row) {
    throw notA("short");
  }

  @Override
  public int getInt(int row) {
    throw notA("int");
  }

  @Override
  public long getLong(int row) {
    throw notA("long");
  }

  @Override
  public float getFloat(int row) {
    throw notA("float");
  }

  @Override
  public double getDouble(int row) {
    throw notA("double");
  }

  @Override
  public ColumnarArray getArray(int row) {
    throw notA("array");
  }

  @Override
  public ColumnarMap getMap(int row) {
    throw notA("map");
  }

  @Override
  public Decimal getDecimal(int row, int precision, int scale) {
    throw notA("decimal");
  }

  @Override
  public ColumnVector getChild(int ordinal) {
    throw notA("struct");
  }

  private UnsupportedOperationException notA(String what) {
    return new UnsupportedOperationException("a " + dataType().simpleString()
        + " column has no " + what + " values");
  }
}
