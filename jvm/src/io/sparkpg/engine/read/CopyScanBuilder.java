package io.sparkpg.engine.read;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.connector.expressions.NullOrdering;
import org.apache.spark.sql.connector.expressions.SortDirection;
import org.apache.spark.sql.connector.expressions.SortOrder;
import org.apache.spark.sql.connector.expressions.aggregate.AggregateFunc;
import org.apache.spark.sql.connector.expressions.aggregate.Aggregation;
import org.apache.spark.sql.connector.expressions.aggregate.Avg;
import org.apache.spark.sql.connector.expressions.filter.Predicate;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.connector.read.SupportsPushDownAggregates;
import org.apache.spark.sql.connector.read.SupportsPushDownLimit;
import org.apache.spark.sql.connector.read.SupportsPushDownOffset;
import org.apache.spark.sql.connector.read.SupportsPushDownRequiredColumns;
import org.apache.spark.sql.connector.read.SupportsPushDownTableSample;
import org.apache.spark.sql.connector.read.SupportsPushDownTopN;
import org.apache.spark.sql.connector.read.SupportsPushDownV2Filters;
import org.apache.spark.sql.internal.SQLConf;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * What Spark pushes into each partition's query: column pruning, the filters whose PostgreSQL
 * meaning is Spark's (FilterSql), aggregates (AggregateSql), LIMIT, top-N on columns PostgreSQL
 * orders as Spark does, OFFSET of a one-partition read, and TABLESAMPLE. Spark pushes in this
 * order: sample, filters, aggregates, limit/top-N, offset, then prunes columns.
 */
final class CopyScanBuilder
    implements ScanBuilder, SupportsPushDownRequiredColumns, SupportsPushDownV2Filters,
        SupportsPushDownAggregates, SupportsPushDownLimit, SupportsPushDownTopN,
        SupportsPushDownOffset, SupportsPushDownTableSample {
  private final ReadSpec spec;
  private final UnrepresentableCounts counts;
  private final CopyScan.Query query = new CopyScan.Query();
  private int[] columns;
  private final List<Predicate> pushed = new ArrayList<>();

  CopyScanBuilder(ReadSpec spec, UnrepresentableCounts counts) {
    this.spec = spec;
    this.counts = counts;
    columns = new int[spec.columns.size()];
    for (int i = 0; i < columns.length; i++) {
      columns[i] = i;
    }
  }

  @Override
  public void pruneColumns(StructType required) {
    StructField[] fields = required.fields();
    int[] kept = new int[fields.length];
    for (int i = 0; i < fields.length; i++) {
      kept[i] = spec.indexOf(fields[i].name());
      if (kept[i] < 0) {
        throw new IllegalStateException("Spark asked for unknown column " + fields[i].name());
      }
    }
    columns = kept;
  }

  @Override
  public Predicate[] pushPredicates(Predicate[] predicates) {
    List<Predicate> rest = new ArrayList<>();
    FilterSql translator = new FilterSql(spec);
    for (Predicate p : predicates) {
      String sql = translator.toSql(p, true);
      if (sql == null) {
        rest.add(p);
      } else {
        pushed.add(p);
        query.filters.add(sql);
      }
    }
    return rest.toArray(new Predicate[0]);
  }

  @Override
  public Predicate[] pushedPredicates() {
    return pushed.toArray(new Predicate[0]);
  }

  /**
   * True when each group lies in one partition: one partition, or grouped by the partition
   * column (whose values, none of them read as NULL, each go to one partition). Also true for an
   * AVG, which {@link #pushAggregation} refuses: answering false would let Spark rewrite it to
   * SUM / COUNT and push that, which rounds differently from Spark's own AVG.
   */
  @Override
  public boolean supportCompletePushDown(Aggregation aggregation) {
    for (AggregateFunc f : aggregation.aggregateExpressions()) {
      if (f instanceof Avg) {
        return true;
      }
    }
    return complete(aggregation);
  }

  private boolean complete(Aggregation aggregation) {
    if (spec.partitions() == 1) {
      return true;
    }
    int key = spec.partitionColumn == null ? -1 : spec.indexOf(spec.partitionColumn);
    if (key < 0 || spec.columns.get(key).kind.counted()) {
      return false;
    }
    for (org.apache.spark.sql.connector.expressions.Expression e
        : aggregation.groupByExpressions()) {
      if (FilterSql.column(spec, e) == spec.columns.get(key)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public boolean pushAggregation(Aggregation aggregation) {
    if (!Pushdown.AGGREGATE.enabled(spec)) {
      return false;
    }
    boolean complete = complete(aggregation);
    query.aggregate = AggregateSql.translate(spec, aggregation, complete,
        SQLConf.get().ansiEnabled());
    query.aggregateComplete = complete;
    return query.aggregate != null;
  }

  @Override
  public boolean pushLimit(int n) {
    if (query.aggregate != null && !query.aggregateComplete) {
      return false;
    }
    query.limit = n;
    return true;
  }

  /** Spark keeps its own limit (and sort) on top unless the read has one partition. */
  @Override
  public boolean isPartiallyPushed() {
    return spec.partitions() > 1;
  }

  @Override
  public boolean pushTopN(SortOrder[] orders, int limit) {
    if (!Pushdown.TOP_N.enabled(spec) || query.aggregate != null) {
      return false;
    }
    List<String> sql = new ArrayList<>();
    for (SortOrder order : orders) {
      ColumnSpec c = FilterSql.column(spec, order.expression());
      if (c == null || c.filter != ColumnSpec.Filter.ORDERING) {
        return false;
      }
      String guard = c.kind.counted() ? FilterSql.representable(c) : null;
      sql.add((guard == null ? c.expr : "(CASE WHEN " + guard + " THEN " + c.expr + " END)")
          + (order.direction() == SortDirection.ASCENDING ? " ASC" : " DESC")
          + (order.nullOrdering() == NullOrdering.NULLS_FIRST ? " NULLS FIRST" : " NULLS LAST"));
    }
    query.orderBy.addAll(sql);
    query.limit = limit;
    return true;
  }

  /** Only for one partition: Spark has pushed LIMIT (limit + offset) first. */
  @Override
  public boolean pushOffset(int offset) {
    if (!Pushdown.OFFSET.enabled(spec) || spec.partitions() > 1 || query.aggregate != null) {
      return false;
    }
    query.offset = offset;
    if (query.limit >= 0) {
      query.limit = Math.max(0, query.limit - offset);
    }
    return true;
  }

  /**
   * {@code df.sample(fraction, seed)} (lower bound 0, no replacement) on a table source as
   * {@code TABLESAMPLE BERNOULLI (100 * fraction) REPEATABLE (seed)}: each row kept with that
   * probability, the same rows for the same seed and table. Other bounds (random splits) and
   * query sources stay in Spark.
   */
  @Override
  public boolean pushTableSample(double lowerBound, double upperBound, boolean withReplacement,
      long seed) {
    if (!Pushdown.TABLE_SAMPLE.enabled(spec) || withReplacement || lowerBound != 0.0
        || !(upperBound > 0.0 && upperBound <= 1.0) || spec.source.startsWith("(")) {
      return false;
    }
    query.sample = "TABLESAMPLE BERNOULLI (" + java.math.BigDecimal.valueOf(upperBound * 100)
        .toPlainString() + ") REPEATABLE (" + seed + ")";
    return true;
  }

  @Override
  public Scan build() {
    RowShape shape = query.aggregate != null ? query.aggregate.shape
        : RowShape.plain(spec, columns);
    return new CopyScan(spec, counts, shape, query.copy(columns));
  }
}
