package io.sparkpg.engine.write;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.connector.catalog.SupportsWrite;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.catalog.TableProvider;
import org.apache.spark.sql.connector.expressions.Transform;
import org.apache.spark.sql.connector.write.LogicalWriteInfo;
import org.apache.spark.sql.connector.write.WriteBuilder;
import org.apache.spark.sql.sources.DataSourceRegister;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * Spark data source {@code io.sparkpg.engine.write.WriteSource} (short name {@code
 * sparkpg_write}): writes a DataFrame to PostgreSQL with binary COPY, one pgjdbc connection per
 * task, committed by the driver in one transaction. Options: jvm/README.md, "Writing".
 */
public final class WriteSource implements TableProvider, DataSourceRegister {
  @Override
  public String shortName() {
    return "sparkpg_write";
  }

  @Override
  public boolean supportsExternalMetadata() {
    return true; // the table's schema is the DataFrame's
  }

  @Override
  public StructType inferSchema(CaseInsensitiveStringMap options) {
    throw new UnsupportedOperationException("sparkpg_write: write-only, it has no schema to read");
  }

  @Override
  public Table getTable(StructType schema, Transform[] partitioning, Map<String, String> options) {
    return new Target(WriteSpec.parse(options), schema);
  }

  /** The write target as Spark sees it; its name (shown in plans) is the label only. */
  static final class Target implements SupportsWrite {
    private final WriteSpec spec;
    private final StructType schema;

    Target(WriteSpec spec, StructType schema) {
      this.spec = spec;
      this.schema = schema;
    }

    @Override
    public String name() {
      return "sparkpg_write " + spec.label;
    }

    @Override
    @SuppressWarnings("deprecation") // schema() works in Spark 3.x and 4.x
    public StructType schema() {
      return schema;
    }

    @Override
    public Set<TableCapability> capabilities() {
      return Collections.unmodifiableSet(EnumSet.of(TableCapability.BATCH_WRITE));
    }

    @Override
    public WriteBuilder newWriteBuilder(LogicalWriteInfo info) {
      final StructType written = info.schema();
      return new WriteBuilder() {
        @Override
        public org.apache.spark.sql.connector.write.Write build() {
          return new StagedWrite(spec, written);
        }
      };
    }
  }
}
