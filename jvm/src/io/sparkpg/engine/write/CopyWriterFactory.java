package io.sparkpg.engine.write;

import java.io.Serializable;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.write.DataWriter;
import org.apache.spark.sql.connector.write.DataWriterFactory;
import org.apache.spark.sql.types.StructType;

/** Serialized to the executors (with the connection properties: never printed). */
final class CopyWriterFactory implements DataWriterFactory, Serializable {
  private static final long serialVersionUID = 1L;
  private final WriteSpec spec;
  private final StructType schema;

  CopyWriterFactory(WriteSpec spec, StructType schema) {
    this.spec = spec;
    this.schema = schema;
  }

  @Override
  public DataWriter<InternalRow> createWriter(int partitionId, long taskId) {
    return new CopyDataWriter(spec, new RowEncoder(schema, spec.tagged), partitionId, taskId);
  }
}
