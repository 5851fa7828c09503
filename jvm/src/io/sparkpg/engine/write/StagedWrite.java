package io.sparkpg.engine.write;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.connector.write.BatchWrite;
import org.apache.spark.sql.connector.write.DataWriterFactory;
import org.apache.spark.sql.connector.write.PhysicalWriteInfo;
import org.apache.spark.sql.connector.write.Write;
import org.apache.spark.sql.connector.write.WriterCommitMessage;
import org.apache.spark.sql.types.StructType;

/**
 * The driver's side of a write. {@link WriteSpec.Mode#DIRECT}: each task's COPY is final, and
 * {@link #abort} records which partitions had committed ({@link WriteOutcomes}). Otherwise the
 * tasks COPY their rows into staging in chunks, each tagged with its task attempt and chunk
 * number; Spark's commit coordinator lets one attempt per partition commit, and one {@link
 * MoveTransaction} moves exactly those attempts' chunks into the target ({@link
 * WriteSpec.Mode#STREAMED}: mostly while the tasks still run) and commits. {@link #abort} rolls
 * the transaction back. The staging objects are dropped by the Python side, which created them
 * (jvm/README.md, "Writing"). Every failure is a {@link WriteFailure}.
 */
final class StagedWrite implements Write, BatchWrite {
  /**
   * Unmoved chunks per task at which tasks wait (append, overwrite): when the one backend that
   * moves is the bottleneck, tasks that stage far ahead of it only take CPU and I/O from it.
   */
  static final int BACKLOG_PER_TASK = 2;

  private final WriteSpec spec;
  private final StructType schema;
  private MoveTransaction transaction;

  StagedWrite(WriteSpec spec, StructType schema) {
    this.spec = spec;
    this.schema = schema;
    RowEncoder.check(schema); // unsupported types fail before any task runs
  }

  @Override
  public String description() {
    return "sparkpg_write " + spec.label;
  }

  @Override
  public String toString() {
    return description(); // what plans show: the label, never the options
  }

  @Override
  public BatchWrite toBatch() {
    return this;
  }

  @Override
  public DataWriterFactory createBatchWriterFactory(PhysicalWriteInfo info) {
    if (spec.streamed()) {
      transaction = begin();
      transaction.streamWhileTasksRun();
    }
    return new CopyWriterFactory(
        spec, schema, BACKLOG_PER_TASK * Math.max(1, info.numPartitions()));
  }

  private MoveTransaction begin() {
    try {
      return MoveTransaction.begin(spec);
    } catch (SQLException e) {
      throw WriteFailure.ofDriver(WriteFailure.MOVING, e, false);
    }
  }

  @Override
  public boolean useCommitCoordinator() {
    return true; // one committed attempt per partition
  }

  @Override
  public void commit(WriterCommitMessage[] messages) {
    if (spec.mode == WriteSpec.Mode.DIRECT) {
      return; // every task committed its own rows
    }
    List<AttemptCommitted> committed = new ArrayList<>();
    for (WriterCommitMessage m : messages) {
      if (m != null) {
        committed.add((AttemptCommitted) m);
      }
    }
    MoveTransaction moving = transaction != null ? transaction : begin();
    transaction = null;
    try {
      moving.commit(committed);
    } finally {
      moving.close();
    }
  }

  @Override
  public void abort(WriterCommitMessage[] messages) {
    if (transaction != null) {
      transaction.close();
      transaction = null;
    }
    if (spec.mode == WriteSpec.Mode.DIRECT) {
      List<Integer> partitions = new ArrayList<>();
      long rows = 0;
      for (WriterCommitMessage m : messages) {
        if (m != null) {
          partitions.add(((AttemptCommitted) m).partitionId);
          rows += ((AttemptCommitted) m).rows;
        }
      }
      int[] sorted = new int[partitions.size()];
      for (int i = 0; i < sorted.length; i++) {
        sorted[i] = partitions.get(i);
      }
      Arrays.sort(sorted);
      WriteOutcomes.committed(spec.writeId, sorted, rows);
    }
  }
}
