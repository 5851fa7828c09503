package io.sparkpg.engine.read;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReader;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.apache.spark.sql.vectorized.ColumnarBatch;

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

  /** Every partition is read as columnar batches: no per-row object, no per-row projection. */
  @Override
  public boolean supportColumnarReads(InputPartition partition) {
    return true;
  }

  @Override
  public PartitionReader<ColumnarBatch> createColumnarReader(InputPartition partition) {
    return new CopyPartitionReader(spec, shape, (CopyPartition) partition, counts);
  }

  /** Never called: {@link #supportColumnarReads} is true for every partition. */
  @Override
  public PartitionReader<InternalRow> createReader(InputPartition partition) {
    throw new UnsupportedOperationException("the sparkpg COPY engine reads columnar batches");
  }
}
