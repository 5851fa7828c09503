package io.sparkpg.engine;

import io.sparkpg.engine.auth.IamAuthPlugin;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.postgresql.core.BaseConnection;

/**
 * The Spark driver's planning connection as Python uses it (spark_jobs/db/connection.py): open
 * it, read the server's version, run a parameterised query, each in one py4j call. Without
 * this, a connection took a call per property (and a class-path scan for a new pgjdbc
 * {@code Driver}) and a query one per parameter, statement step and value: about 70 calls, a
 * third of the planning time of a table.
 *
 * <p>Properties and parameters cross as one byte array each: an int32 count, then per item a
 * tag byte and, unless {@code n} (NULL), an int32 length and that many bytes. Parameter tags:
 * {@code s} text (UTF-8), {@code i} integer (its decimal digits), {@code f} float (the 8 bytes
 * of the IEEE double), {@code b} boolean ({@code t} or {@code f}). Properties are pairs of
 * {@code s} items, name then value ({@link #pairs}). Integers big-endian. Results:
 * {@link ResultRows}.
 */
public final class DriverQueries {
  private DriverQueries() {}

  /**
   * A connection to {@code url} with {@code properties} (pairs, encoded as above), opened as the
   * engines open theirs ({@link IamAuthPlugin#connectRetrying}).
   */
  public static Connection connect(String url, byte[] properties) throws SQLException {
    Properties props = new Properties();
    props.putAll(pairs(properties));
    return IamAuthPlugin.connectRetrying(url, props);
  }

  /** Name/value pairs encoded as above (connection properties, a data source's options). */
  public static Map<String, String> pairs(byte[] encoded) {
    ByteBuffer in = ByteBuffer.wrap(encoded);
    int count = in.getInt();
    if (count % 2 != 0) {
      throw new IllegalArgumentException("name/value pairs of an odd count: " + count);
    }
    Map<String, String> pairs = new LinkedHashMap<>();
    for (int i = 0; i < count; i += 2) {
      pairs.put(text(in, 's'), text(in, 's'));
    }
    end(in);
    return pairs;
  }

  /** {@code server_version_num} of the connection's server (150004 for 15.4), as pgjdbc read it
   * when connecting: no query. */
  public static int serverVersionNum(Connection connection) throws SQLException {
    return connection.unwrap(BaseConnection.class).getQueryExecutor().getServerVersionNum();
  }

  /** Every row of {@code sql} with {@code parameters} (encoded as above), as {@link ResultRows}
   * packs them; a statement without a result gives no columns and no rows. */
  public static byte[] query(Connection connection, String sql, byte[] parameters)
      throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(sql)) {
      ByteBuffer in = ByteBuffer.wrap(parameters);
      int count = in.getInt();
      for (int index = 1; index <= count; index++) {
        bind(statement, index, in);
      }
      end(in);
      if (!statement.execute()) {
        return ResultRows.empty();
      }
      return ResultRows.encode(statement.getResultSet());
    }
  }

  private static void bind(PreparedStatement statement, int index, ByteBuffer in)
      throws SQLException {
    byte tag = in.get();
    if (tag == 'n') {
      statement.setNull(index, Types.NULL); // the server infers the type
      return;
    }
    byte[] value = new byte[in.getInt()];
    in.get(value);
    switch (tag) {
      case 's':
        statement.setString(index, new String(value, StandardCharsets.UTF_8));
        break;
      case 'i':
        statement.setLong(index, Long.parseLong(new String(value, StandardCharsets.US_ASCII)));
        break;
      case 'f':
        statement.setDouble(index, ByteBuffer.wrap(value).getDouble());
        break;
      case 'b':
        statement.setBoolean(index, value.length == 1 && value[0] == 't');
        break;
      default:
        throw new IllegalArgumentException("parameter " + index + ": unknown tag " + tag);
    }
  }

  private static String text(ByteBuffer in, char tag) {
    if (in.get() != tag) {
      throw new IllegalArgumentException("expected a text item");
    }
    byte[] value = new byte[in.getInt()];
    in.get(value);
    return new String(value, StandardCharsets.UTF_8);
  }

  private static void end(ByteBuffer in) {
    if (in.hasRemaining()) {
      throw new IllegalArgumentException(in.remaining() + " bytes after the last item");
    }
  }
}
