package io.sparkpg.engine.write;

import io.sparkpg.engine.EngineOptions;
import java.io.Serializable;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The options of one write, parsed (the contract is in jvm/README.md, "Writing"). The connection
 * properties hold the password: this class has no toString, and nothing prints them.
 */
final class WriteSpec implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final String WHO = "sparkpg write";

  final String url;
  final Properties properties;
  /** The placeholder of a chunk's tag in {@link #createSql}, {@link #copySql}, {@link #moveSql}. */
  static final String TAG = "{tag}";

  /**
   * Each task attempt runs this, then streams its rows (plus the attempt tag when tagged); with
   * {@link #TAG}, once per chunk, into the chunk's own table.
   */
  final String copySql;
  /** Run before each chunk's COPY, in its transaction: creates the chunk's table; or empty. */
  final String createSql;
  /** True: each row carries the task attempt's id as a last bigint field. */
  final boolean tagged;
  /** Run by the driver's commit in one transaction, before {@link #moveSql}. */
  final List<String> commitSql;
  /**
   * The move: with {@link #TAG}, one statement per chunk (its table); otherwise one {@code ?}
   * bound to chunk tags (bigint[]). Empty: direct write.
   */
  final String moveSql;
  /**
   * Registers a committed chunk: {@code ?} tag (bigint), {@code ?} partition id (int). Empty:
   * each task attempt writes one chunk and nothing moves before the commit.
   */
  final String chunkSql;
  /** The driver's poll of the registry: {@code ?} the last seq seen; rows (seq, tag, partition). */
  final String pollSql;
  /** COPY bytes after which a task attempt commits its chunk and starts the next. */
  final long chunkBytes;
  /** True: the moves must insert exactly the rows the committed attempts sent (append). */
  final boolean exactCount;
  /** The driver records why a move failed: {@code ?} the message (a registry row, committed). */
  final String failSql;
  /** A task's look for that record after each chunk: the message, or no row. */
  final String failedSql;
  /** The driver publishes, after each move, the registry seq up to which it has seen every chunk
   * ({@code ?}); non-transactional (a sequence's {@code setval}), so the tasks see it at once. */
  final String progressSql;
  /** A task's look, after each chunk, at how many registered chunks the driver has not moved. */
  final String backlogSql;
  /** Run after the commit and on abort (autocommit): drops the staging table. */
  final String dropSql;
  final String label;

  private WriteSpec(Map<String, String> options) {
    url = EngineOptions.required(options, "url", WHO);
    properties = EngineOptions.connectionProperties(options);
    copySql = EngineOptions.required(options, "copySql", WHO);
    createSql = options.getOrDefault("createSql", "");
    tagged = Boolean.parseBoolean(options.getOrDefault("tagged", "true"));
    commitSql = EngineOptions.strings(options, "commitSql", WHO);
    moveSql = options.getOrDefault("moveSql", "");
    chunkSql = options.getOrDefault("chunkSql", "");
    pollSql = options.getOrDefault("pollSql", "");
    chunkBytes = Long.parseLong(options.getOrDefault("chunkBytes", String.valueOf(4L << 20)));
    exactCount = Boolean.parseBoolean(options.getOrDefault("exactCount", "false"));
    failSql = options.getOrDefault("failSql", "");
    failedSql = options.getOrDefault("failedSql", "");
    progressSql = options.getOrDefault("progressSql", "");
    backlogSql = options.getOrDefault("backlogSql", "");
    dropSql = options.getOrDefault("dropSql", "");
    label = options.getOrDefault("label", "sparkpg write");
  }

  /** Task attempts write chunks, each committed with its registry row. */
  boolean chunked() {
    return !chunkSql.isEmpty();
  }

  /** The driver moves committed chunks while the tasks run (append and overwrite). */
  boolean streamsMoves() {
    return chunked() && !pollSql.isEmpty();
  }

  /** Each chunk has its own table, created by {@link #createSql}, moved whole. */
  boolean chunkTables() {
    return moveSql.contains(TAG);
  }

  /** {@code sql} for the chunk tagged {@code tag}. */
  static String forChunk(String sql, long tag) {
    return sql.replace(TAG, Long.toString(tag));
  }

  /** Parse case-sensitive options (pgjdbc property names are case-sensitive). */
  static WriteSpec parse(Map<String, String> options) {
    return new WriteSpec(options);
  }

  Connection connect() throws SQLException {
    Connection connection = new org.postgresql.Driver().connect(url, properties);
    if (connection == null) {
      throw new SQLException(label + ": the url is not a jdbc:postgresql: URL");
    }
    return connection;
  }
}
