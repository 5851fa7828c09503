package io.sparkpg.engine.write;

import io.sparkpg.engine.EngineOptions;
import java.io.Serializable;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * The options of one write, parsed and checked against its {@link Mode} (the contract is in
 * jvm/README.md, "Writing"): each mode takes exactly its options, and a missing one, or one of
 * another mode, is an error naming it. The connection properties hold the password: this class
 * has no toString, and nothing prints them.
 */
final class WriteSpec implements Serializable {
  private static final long serialVersionUID = 2L;
  private static final String WHO = "sparkpg write";

  /** How the rows reach the target. */
  enum Mode {
    /** Each task COPYs into the target and commits on its own (atomic=False). */
    DIRECT,
    /** Tasks stage tagged rows; the commit moves the committed attempts' rows in one statement. */
    STAGED,
    /** Tasks stage chunk tables; the driver moves committed chunks while the tasks run. */
    STREAMED
  }

  /** The options every mode takes (besides {@code property.*}), required then optional. */
  private static final List<String> COMMON = Arrays.asList("url", "mode", "label", "writeId",
      "copySql", "columns");
  private static final List<String> COMMON_OPTIONAL = Arrays.asList("sessionSql", "key");
  private static final List<String> MOVING = Arrays.asList("commitSql", "moveSql", "rowsSql");
  private static final List<String> STREAMING = Arrays.asList("createSql", "chunkSql", "pollSql",
      "failSql", "failedSql", "progressSql", "backlogSql");
  private static final List<String> STREAMING_OPTIONAL = Collections.singletonList("chunkBytes");

  /** The placeholder of a chunk's tag in {@link #createSql}, {@link #copySql}, {@link #moveSql}. */
  static final String TAG = "{tag}";
  /** The placeholder of the committed chunks' tags (a bigint[] literal) in {@link #rowsSql}. */
  static final String TAGS = "{tags}";

  final Mode mode;
  final String url;
  final Properties properties;
  final String label;
  /** The write's id: the key of its outcome in {@link WriteOutcomes}. */
  final String writeId;
  /** Run first on every connection of the write (its lock_timeout...). */
  final List<String> sessionSql;
  /** The DataFrame's columns, in order: their target columns and staging names and types. */
  final List<Column> columns;
  /** Positions in {@link #columns} of the write's key (option {@code key}: target column names
   * of upsert and insert-missing), or none. */
  final int[] key;

  /**
   * Each task attempt runs this, then streams its rows (plus the chunk's tag in {@link
   * Mode#STAGED}); with {@link #TAG}, once per chunk, into the chunk's own table.
   */
  final String copySql;
  /** Run by the driver's move transaction first, before {@link #moveSql}. */
  final List<String> commitSql;
  /**
   * The move: {@link Mode#STREAMED}, one statement per chunk (its table, {@link #TAG});
   * {@link Mode#STAGED}, one {@code ?} bound to the committed chunks' tags (bigint[]).
   */
  final String moveSql;
  /** The FROM item of the rows a move reads (with {@link #TAG} or {@link #TAGS}). */
  final String rowsSql;
  /** Run before each chunk's COPY, in its transaction: creates the chunk's table. */
  final String createSql;
  /** Registers a committed chunk: {@code ?} tag (bigint), {@code ?} partition id (int). */
  final String chunkSql;
  /** The driver's poll of the registry: {@code ?} the last seq seen; rows (seq, tag, partition). */
  final String pollSql;
  /** COPY bytes after which a task attempt commits its chunk and starts the next. */
  final long chunkBytes;
  /** The driver records that a move failed: {@code ?} its SQLSTATE (a registry row, committed). */
  final String failSql;
  /** A task's look for that record after each chunk: the SQLSTATE, or no row. */
  final String failedSql;
  /** The driver publishes, after each move, the registry seq up to which it has seen every chunk
   * ({@code ?}); non-transactional (a sequence's {@code setval}), so the tasks see it at once. */
  final String progressSql;
  /** A task's look, after each chunk, at how many registered chunks the driver has not moved. */
  final String backlogSql;

  /** A DataFrame column: its target column, and its staging column and the move's cast. */
  static final class Column implements Serializable {
    private static final long serialVersionUID = 1L;
    final String frame;
    final String target;
    /** {@code c0}...: the staging column (empty in {@link Mode#DIRECT}). */
    final String staged;
    /** The target column's type, which the move casts to (empty in {@link Mode#DIRECT}). */
    final String cast;

    Column(String frame, String target, String staged, String cast) {
      this.frame = frame;
      this.target = target;
      this.staged = staged;
      this.cast = cast;
    }
  }

  private WriteSpec(Map<String, String> options) {
    String name = EngineOptions.required(options, "mode", WHO);
    try {
      mode = Mode.valueOf(name.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(WHO + ": option 'mode' is '" + name
          + "': expected direct, staged or streamed");
    }
    checkOptions(options, mode);
    url = EngineOptions.required(options, "url", WHO);
    properties = EngineOptions.connectionProperties(options);
    label = EngineOptions.required(options, "label", WHO);
    writeId = EngineOptions.required(options, "writeId", WHO);
    copySql = EngineOptions.required(options, "copySql", WHO);
    sessionSql = EngineOptions.strings(options, "sessionSql", WHO);
    columns = columns(options);
    key = key(options, columns);
    boolean moves = mode != Mode.DIRECT;
    boolean streams = mode == Mode.STREAMED;
    commitSql = moves ? EngineOptions.strings(options, "commitSql", WHO) : Collections.emptyList();
    moveSql = moves ? EngineOptions.required(options, "moveSql", WHO) : "";
    rowsSql = moves ? EngineOptions.required(options, "rowsSql", WHO) : "";
    createSql = streams ? EngineOptions.required(options, "createSql", WHO) : "";
    chunkSql = streams ? EngineOptions.required(options, "chunkSql", WHO) : "";
    pollSql = streams ? EngineOptions.required(options, "pollSql", WHO) : "";
    failSql = streams ? EngineOptions.required(options, "failSql", WHO) : "";
    failedSql = streams ? EngineOptions.required(options, "failedSql", WHO) : "";
    progressSql = streams ? EngineOptions.required(options, "progressSql", WHO) : "";
    backlogSql = streams ? EngineOptions.required(options, "backlogSql", WHO) : "";
    chunkBytes = Long.parseLong(options.getOrDefault("chunkBytes", String.valueOf(4L << 20)));
    if (streams && !(moveSql.contains(TAG) && createSql.contains(TAG) && rowsSql.contains(TAG))) {
      throw new IllegalArgumentException(WHO + ": mode 'streamed' needs " + TAG
          + " in options 'moveSql', 'createSql' and 'rowsSql'");
    }
    if (mode == Mode.STAGED && !rowsSql.contains(TAGS)) {
      throw new IllegalArgumentException(WHO + ": mode 'staged' needs " + TAGS
          + " in option 'rowsSql'");
    }
  }

  /** Every option the mode needs is present; none of another mode's is. */
  private static void checkOptions(Map<String, String> options, Mode mode) {
    Set<String> allowed = new HashSet<>(COMMON);
    allowed.addAll(COMMON_OPTIONAL);
    List<String> required = new ArrayList<>(COMMON);
    if (mode != Mode.DIRECT) {
      required.addAll(MOVING);
    }
    if (mode == Mode.STREAMED) {
      required.addAll(STREAMING);
      allowed.addAll(STREAMING_OPTIONAL);
    }
    allowed.addAll(required);
    for (String option : required) {
      if (!options.containsKey(option)) {
        throw new IllegalArgumentException(WHO + ": mode '" + modeName(mode) + "' needs option '"
            + option + "'");
      }
    }
    Set<String> vocabulary = new HashSet<>(COMMON);
    vocabulary.addAll(COMMON_OPTIONAL);
    vocabulary.addAll(MOVING);
    vocabulary.addAll(STREAMING);
    vocabulary.addAll(STREAMING_OPTIONAL);
    for (String option : options.keySet()) {
      if (vocabulary.contains(option) && !allowed.contains(option)) {
        throw new IllegalArgumentException(WHO + ": option '" + option + "' is not an option of "
            + "mode '" + modeName(mode) + "'");
      }
    }
  }

  static String modeName(Mode mode) {
    return mode.name().toLowerCase(Locale.ROOT);
  }

  private static List<Column> columns(Map<String, String> options) {
    List<Column> out = new ArrayList<>();
    for (Object item : EngineOptions.list(options, "columns", WHO)) {
      if (!(item instanceof Map)) {
        throw new IllegalArgumentException(WHO + ": option 'columns' must be a JSON array of "
            + "objects {frame, target, staged, cast}");
      }
      Map<?, ?> c = (Map<?, ?>) item;
      out.add(new Column(text(c, "frame"), text(c, "target"), text(c, "staged"), text(c, "cast")));
    }
    return Collections.unmodifiableList(out);
  }

  private static String text(Map<?, ?> column, String field) {
    Object value = column.get(field);
    return value == null ? "" : value.toString();
  }

  private static int[] key(Map<String, String> options, List<Column> columns) {
    List<String> names = EngineOptions.strings(options, "key", WHO);
    int[] out = new int[names.size()];
    for (int k = 0; k < out.length; k++) {
      out[k] = -1;
      for (int i = 0; i < columns.size(); i++) {
        if (columns.get(i).target.equals(names.get(k))) {
          out[k] = i;
        }
      }
      if (out[k] < 0) {
        throw new IllegalArgumentException(WHO + ": option 'key' names '" + names.get(k)
            + "', which is not in option 'columns'");
      }
    }
    return out;
  }

  /** Task attempts write chunks, each committed with its registry row; the moves stream. */
  boolean streamed() {
    return mode == Mode.STREAMED;
  }

  /** Each row carries its chunk's tag as a last bigint field. */
  boolean tagged() {
    return mode == Mode.STAGED;
  }

  /** {@code sql} for the chunk tagged {@code tag}. */
  static String forChunk(String sql, long tag) {
    return sql.replace(TAG, Long.toString(tag));
  }

  /** {@link #rowsSql} for a move of {@code tags}. */
  String rowsOf(List<Long> tags) {
    if (mode == Mode.STREAMED) {
      return forChunk(rowsSql, tags.get(0));
    }
    StringBuilder array = new StringBuilder("'{");
    for (int i = 0; i < tags.size(); i++) {
      array.append(i == 0 ? "" : ",").append(tags.get(i));
    }
    return rowsSql.replace(TAGS, array.append("}'::bigint[]").toString());
  }

  /** Parse case-sensitive options (pgjdbc property names are case-sensitive). */
  static WriteSpec parse(Map<String, String> options) {
    return new WriteSpec(options);
  }

  /** A new connection of the write, its {@link #sessionSql} run (autocommit on). */
  Connection connect() throws SQLException {
    Connection connection = io.sparkpg.engine.auth.IamAuthPlugin.connectRetrying(url, properties);
    if (connection == null) {
      throw new SQLException(label + ": the url is not a jdbc:postgresql: URL", "08001");
    }
    try (Statement statement = connection.createStatement()) {
      for (String sql : sessionSql) {
        statement.execute(sql);
      }
    } catch (SQLException e) {
      connection.close();
      throw e;
    }
    return connection;
  }
}
