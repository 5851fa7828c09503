package io.sparkpg.engine.write;

import java.io.Serializable;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.write.DataWriter;
import org.apache.spark.sql.connector.write.DataWriterFactory;
import org.apache.spark.sql.types.StructType;

/**
 * Serialized to the executors (with the connection properties: never printed). Each task may be
 * {@link StagedWrite#BACKLOG_PER_TASK} chunks ahead of the moves before it waits for them.
 */
final class CopyWriterFactory implements DataWriterFactory, Serializable {
  private static final long serialVersionUID = 1L;
  private final WriteSpec spec;
  private final StructType schema;
  private final int backlogLimit;

  /** {@code backlogLimit}: unmoved chunks at which a task waits for the moves to catch up. */
  CopyWriterFactory(WriteSpec spec, StructType schema, int backlogLimit) {
    this.spec = spec;
    this.schema = schema;
    this.backlogLimit = backlogLimit;
  }

  @Override
  public DataWriter<InternalRow> createWriter(int partitionId, long taskId) {
    return new CopyDataWriter(spec, schema, partitionId, taskId, backlogLimit);
  }
}
