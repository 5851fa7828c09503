package io.sparkpg.engine.read;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.connector.metric.CustomMetric;
import org.apache.spark.sql.connector.read.Batch;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/** One planned read: which columns, which pushed filters, which limit, one COPY per partition. */
public final class CopyScan implements Scan, Batch {
  private final ReadSpec spec;
  private final UnrepresentableCounts counts;
  private final int[] columns;
  private final List<String> filters;
  private final int limit;

  CopyScan(ReadSpec spec, UnrepresentableCounts counts, int[] columns, List<String> filters,
      int limit) {
    this.spec = spec;
    this.counts = counts;
    this.columns = columns;
    this.filters = filters;
    this.limit = limit;
  }

  @Override
  public StructType readSchema() {
    StructField[] all = spec.schema().fields();
    StructField[] out = new StructField[columns.length];
    for (int i = 0; i < columns.length; i++) {
      out[i] = all[columns[i]];
    }
    return new StructType(out);
  }

  /** Shown in plans and the UI: the label, pushed filters and limit; never connection details. */
  @Override
  public String description() {
    return "sparkpg_copy " + spec.label + " PushedFilters: " + filters
        + (limit >= 0 ? " PushedLimit: " + limit : "")
        + " Partitions: " + Math.max(1, spec.predicates.size());
  }

  @Override
  public Batch toBatch() {
    return this;
  }

  @Override
  public InputPartition[] planInputPartitions() {
    List<String> predicates = spec.predicates.isEmpty()
        ? java.util.Collections.<String>singletonList(null) : spec.predicates;
    InputPartition[] out = new InputPartition[predicates.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = new CopyPartition(i, copySql(predicates.get(i)));
    }
    return out;
  }

  /** {@code COPY (SELECT cols FROM source WHERE predicate AND filters LIMIT n) TO STDOUT}. */
  public String copySql(String predicate) {
    StringBuilder sql = new StringBuilder("COPY (SELECT ");
    for (int i = 0; i < columns.length; i++) {
      sql.append(i == 0 ? "" : ", ").append(spec.columns.get(columns[i]).expr);
    }
    sql.append(" FROM ").append(spec.source);
    List<String> where = new ArrayList<>();
    if (predicate != null) {
      where.add("(" + predicate + ")");
    }
    where.addAll(filters);
    if (!where.isEmpty()) {
      sql.append(" WHERE ").append(String.join(" AND ", where));
    }
    if (limit >= 0) {
      sql.append(" LIMIT ").append(limit);
    }
    return sql.append(") TO STDOUT (FORMAT binary)").toString();
  }

  @Override
  public PartitionReaderFactory createReaderFactory() {
    return new CopyReaderFactory(spec, columns, counts);
  }

  @Override
  public CustomMetric[] supportedCustomMetrics() {
    List<CustomMetric> metrics = new ArrayList<>();
    for (int c : columns) {
      ColumnSpec col = spec.columns.get(c);
      if (col.kind.counted()) {
        metrics.add(new UnrepresentableMetric(c, col.name));
      }
    }
    return metrics.toArray(new CustomMetric[0]);
  }
}
