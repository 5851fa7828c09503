package io.sparkpg.engine.write;

import org.apache.spark.sql.connector.write.WriterCommitMessage;

/** A task attempt whose rows are complete in the staging table, tagged with its id. */
final class AttemptCommitted implements WriterCommitMessage {
  private static final long serialVersionUID = 1L;
  final long taskAttemptId;

  AttemptCommitted(long taskAttemptId) {
    this.taskAttemptId = taskAttemptId;
  }
}
