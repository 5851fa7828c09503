package io.sparkpg.engine.read;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.spark.sql.connector.metric.CustomMetric;
import org.apache.spark.sql.connector.read.Batch;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.types.StructType;

/** One planned read: the query each partition runs (one COPY each) and the shape of its rows. */
public final class CopyScan implements Scan, Batch {
  /** What the scan builder pushed into each partition's SELECT. */
  static final class Query implements Serializable {
    private static final long serialVersionUID = 1L;
    final List<String> filters = new ArrayList<>();
    final List<String> orderBy = new ArrayList<>();
    AggregateSql.Pushed aggregate;
    boolean aggregateComplete;
    int limit = -1;
    int offset;
    String sample;
    int[] columns;

    /** A copy for one scan, selecting the read's columns {@code columns} unless aggregated. */
    Query copy(int[] columns) {
      Query q = new Query();
      q.filters.addAll(filters);
      q.orderBy.addAll(orderBy);
      q.aggregate = aggregate;
      q.aggregateComplete = aggregateComplete;
      q.limit = limit;
      q.offset = offset;
      q.sample = sample;
      q.columns = columns.clone();
      return q;
    }
  }

  private final ReadSpec spec;
  private final UnrepresentableCounts counts;
  private final RowShape shape;
  private final Query query;

  CopyScan(ReadSpec spec, UnrepresentableCounts counts, RowShape shape, Query query) {
    this.spec = spec;
    this.counts = counts;
    this.shape = shape;
    this.query = query;
  }

  @Override
  public StructType readSchema() {
    return shape.schema();
  }

  /**
   * Shown in plans and the UI: the label and what was pushed (filters, aggregates, top-N, limit,
   * offset, sample); never connection details.
   */
  @Override
  public String description() {
    StringBuilder out = new StringBuilder("sparkpg_copy ").append(spec.label)
        .append(" PushedFilters: ").append(query.filters);
    if (query.aggregate != null) {
      out.append(' ').append(query.aggregate.description);
    }
    if (!query.orderBy.isEmpty()) {
      out.append(" PushedTopN: ORDER BY ").append(String.join(", ", query.orderBy));
    }
    if (query.limit >= 0) {
      out.append(" PushedLimit: ").append(query.limit);
    }
    if (query.offset > 0) {
      out.append(" PushedOffset: ").append(query.offset);
    }
    if (query.sample != null) {
      out.append(" PushedSample: ").append(query.sample);
    }
    return out.append(" Partitions: ").append(spec.partitions()).toString();
  }

  @Override
  public Batch toBatch() {
    return this;
  }

  @Override
  public InputPartition[] planInputPartitions() {
    List<String> predicates = spec.predicates.isEmpty()
        ? Collections.<String>singletonList(null) : spec.predicates;
    InputPartition[] out = new InputPartition[predicates.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = new CopyPartition(i, copySql(predicates.get(i)));
    }
    return out;
  }

  /**
   * {@code COPY (SELECT <columns or groups and aggregates> FROM source [TABLESAMPLE ...]
   * WHERE predicate AND filters [GROUP BY ...] [ORDER BY ...] [LIMIT n] [OFFSET m]) TO STDOUT}.
   */
  public String copySql(String predicate) {
    List<String> select = new ArrayList<>();
    if (query.aggregate != null) {
      select.addAll(query.aggregate.select);
    } else {
      for (int c : query.columns) {
        select.add(spec.columns.get(c).expr);
      }
    }
    StringBuilder sql = new StringBuilder("COPY (SELECT ").append(String.join(", ", select))
        .append(" FROM ").append(spec.source);
    if (query.sample != null) {
      sql.append(' ').append(query.sample);
    }
    List<String> where = new ArrayList<>();
    if (predicate != null) {
      where.add("(" + predicate + ")");
    }
    where.addAll(query.filters);
    if (!where.isEmpty()) {
      sql.append(" WHERE ").append(String.join(" AND ", where));
    }
    if (query.aggregate != null && !query.aggregate.groupBy.isEmpty()) {
      sql.append(" GROUP BY ").append(String.join(", ", query.aggregate.groupBy));
    }
    if (!query.orderBy.isEmpty()) {
      sql.append(" ORDER BY ").append(String.join(", ", query.orderBy));
    }
    if (query.limit >= 0) {
      sql.append(" LIMIT ").append(query.limit);
    }
    if (query.offset > 0) {
      sql.append(" OFFSET ").append(query.offset);
    }
    return sql.append(") TO STDOUT (FORMAT binary)").toString();
  }

  @Override
  public PartitionReaderFactory createReaderFactory() {
    return new CopyReaderFactory(spec, shape, counts);
  }

  @Override
  public CustomMetric[] supportedCustomMetrics() {
    List<CustomMetric> metrics = new ArrayList<>();
    for (int c : shape.countedColumns()) {
      metrics.add(new UnrepresentableMetric(c, spec.columns.get(c).name));
    }
    return metrics.toArray(new CustomMetric[0]);
  }
}
