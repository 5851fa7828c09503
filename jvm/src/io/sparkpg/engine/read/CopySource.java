package io.sparkpg.engine.read;

import io.sparkpg.engine.DriverQueries;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableProvider;
import org.apache.spark.sql.connector.expressions.Transform;
import org.apache.spark.sql.sources.DataSourceRegister;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * Spark data source {@code io.sparkpg.engine.read.CopySource} (short name {@code sparkpg_copy}): reads
 * PostgreSQL through binary COPY, one pgjdbc connection per partition. Options: jvm/README.md.
 */
public final class CopySource implements TableProvider, DataSourceRegister {
  @Override
  public String shortName() {
    return "sparkpg_copy";
  }

  /**
   * {@code spark.read.format(CopySource).options(options).load()} in one py4j call: the
   * options as name/value pairs ({@link DriverQueries#pairs}), instead of a call per option.
   */
  public static Dataset<Row> load(SparkSession spark, byte[] options) {
    return spark.read().format(CopySource.class.getName()).options(DriverQueries.pairs(options))
        .load();
  }

  @Override
  public StructType inferSchema(CaseInsensitiveStringMap options) {
    return ReadSpec.parse(options.asCaseSensitiveMap()).schema();
  }

  @Override
  public Table getTable(StructType schema, Transform[] partitioning, Map<String, String> options) {
    ReadSpec spec = ReadSpec.parse(options);
    return new CopyTable(spec, UnrepresentableCounts.register(spec.readId, spec.columns.size()));
  }
}
