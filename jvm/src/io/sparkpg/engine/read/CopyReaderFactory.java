package io.sparkpg.engine.read;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReader;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;

/** Sent to executors with the task: the read (password included) and the counts accumulator. */
final class CopyReaderFactory implements PartitionReaderFactory {
  private static final long serialVersionUID = 1L;
  private final ReadSpec spec;
  private final RowShape shape;
  private final UnrepresentableCounts counts;

  CopyReaderFactory(ReadSpec spec, RowShape shape, UnrepresentableCounts counts) {
    this.spec = spec;
    this.shape = shape;
    this.counts = counts;
  }

  @Override
  public PartitionReader<InternalRow> createReader(InputPartition partition) {
    return new CopyPartitionReader(spec, shape, (CopyPartition) partition, counts);
  }
}
