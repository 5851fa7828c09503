package io.sparkpg.engine.read;

import org.apache.spark.sql.connector.read.InputPartition;

/** One partition: its index (for the counts) and the COPY statement it runs. */
final class CopyPartition implements InputPartition {
  private static final long serialVersionUID = 1L;
  final int index;
  final String sql;

  CopyPartition(int index, String sql) {
    this.index = index;
    this.sql = sql;
  }
}
