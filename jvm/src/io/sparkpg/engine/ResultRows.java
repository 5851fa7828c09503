package io.sparkpg.engine;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * A driver-side query's whole result in one byte array, so that Python fetches it in one py4j
 * call instead of one call per value (spark_jobs/db/connection.py decodes it). Values keep the
 * Python types py4j would give pgjdbc's {@code getObject}: text, integers, floats, decimals,
 * booleans, bytes, and anything else as its {@code toString()}.
 *
 * <p>Layout: int32 column count, int32 row count, then per value a tag byte ({@code n} NULL,
 * {@code s} text, {@code i} integer, {@code f} float, {@code d} decimal, {@code b} boolean,
 * {@code x} bytes, {@code o} other) and, unless NULL, an int32 length and that many bytes (UTF-8
 * text, or the raw bytes for {@code x}). Integers big-endian.
 */
public final class ResultRows {
  private ResultRows() {}

  /** No columns and no rows, encoded as above (a statement without a result). */
  public static byte[] empty() {
    return new byte[8];
  }

  /** Every row of {@code result} (read to its end), encoded as above. */
  public static byte[] encode(ResultSet result) throws SQLException {
    int width = result.getMetaData().getColumnCount();
    ByteArrayOutputStream values = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(values);
    int rows = 0;
    try {
      while (result.next()) {
        rows++;
        for (int i = 1; i <= width; i++) {
          write(out, result.getObject(i));
        }
      }
      ByteArrayOutputStream whole = new ByteArrayOutputStream(values.size() + 8);
      DataOutputStream header = new DataOutputStream(whole);
      header.writeInt(width);
      header.writeInt(rows);
      values.writeTo(whole);
      return whole.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // in-memory streams do not fail
    }
  }

  private static void write(DataOutputStream out, Object value) throws IOException {
    if (value == null) {
      out.writeByte('n');
    } else if (value instanceof String || value instanceof Character) {
      text(out, 's', value.toString());
    } else if (value instanceof Long || value instanceof Integer || value instanceof Short
        || value instanceof Byte || value instanceof BigInteger) {
      text(out, 'i', value.toString());
    } else if (value instanceof Double || value instanceof Float) {
      text(out, 'f', value.toString()); // as py4j: a float4 0.1 is 0.1, not 0.10000000149011612
    } else if (value instanceof BigDecimal) {
      text(out, 'd', value.toString());
    } else if (value instanceof Boolean) {
      text(out, 'b', (Boolean) value ? "t" : "f");
    } else if (value instanceof byte[]) {
      byte[] bytes = (byte[]) value;
      out.writeByte('x');
      out.writeInt(bytes.length);
      out.write(bytes);
    } else {
      text(out, 'o', value.toString());
    }
  }

  private static void text(DataOutputStream out, char tag, String text) throws IOException {
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    out.writeByte(tag);
    out.writeInt(utf8.length);
    out.write(utf8);
  }
}
