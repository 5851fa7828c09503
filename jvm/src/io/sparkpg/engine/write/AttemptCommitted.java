package io.sparkpg.engine.write;

import org.apache.spark.sql.connector.write.WriterCommitMessage;

/**
 * A task attempt whose rows are complete in the staging table: {@code chunks} chunks, each
 * committed on its own and tagged {@link #tagOf}(attempt, chunk), {@code rows} rows in all.
 */
final class AttemptCommitted implements WriterCommitMessage {
  private static final long serialVersionUID = 2L;
  /** Bits of a tag that number the chunk; the task attempt id is shifted above them. */
  static final int CHUNK_BITS = 20;
  /** The last chunk number: an attempt that reaches it writes the rest into that chunk. */
  static final int LAST_CHUNK = (1 << CHUNK_BITS) - 1;

  final int partitionId;
  final long taskAttemptId;
  final int chunks;
  final long rows;

  AttemptCommitted(int partitionId, long taskAttemptId, int chunks, long rows) {
    this.partitionId = partitionId;
    this.taskAttemptId = taskAttemptId;
    this.chunks = chunks;
    this.rows = rows;
  }

  /** The tag of a chunk's rows (the staging table's {@code _sparkpg_attempt} column). */
  static long tagOf(long taskAttemptId, int chunk) {
    return (taskAttemptId << CHUNK_BITS) | chunk;
  }

  /** The task attempt that wrote the chunk tagged {@code tag}. */
  static long attemptOf(long tag) {
    return tag >>> CHUNK_BITS;
  }

  /** The tags of all this attempt's chunks. */
  long[] tags() {
    long[] tags = new long[chunks];
    for (int chunk = 0; chunk < chunks; chunk++) {
      tags[chunk] = tagOf(taskAttemptId, chunk);
    }
    return tags;
  }
}
