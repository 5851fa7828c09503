package io.sparkpg.engine.read;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.connector.expressions.filter.Predicate;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.connector.read.SupportsPushDownLimit;
import org.apache.spark.sql.connector.read.SupportsPushDownRequiredColumns;
import org.apache.spark.sql.connector.read.SupportsPushDownV2Filters;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/** Column pruning, the filters whose PostgreSQL meaning is Spark's (FilterSql), and LIMIT. */
final class CopyScanBuilder
    implements ScanBuilder, SupportsPushDownRequiredColumns, SupportsPushDownV2Filters,
        SupportsPushDownLimit {
  private final ReadSpec spec;
  private final UnrepresentableCounts counts;
  private int[] columns;
  private final List<Predicate> pushed = new ArrayList<>();
  private final List<String> pushedSql = new ArrayList<>();
  private int limit = -1;

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
        pushedSql.add(sql);
      }
    }
    return rest.toArray(new Predicate[0]);
  }

  @Override
  public Predicate[] pushedPredicates() {
    return pushed.toArray(new Predicate[0]);
  }

  @Override
  public boolean pushLimit(int n) {
    limit = n;
    return true;
  }

  @Override
  public Scan build() {
    return new CopyScan(spec, counts, columns, new ArrayList<>(pushedSql), limit);
  }
}
