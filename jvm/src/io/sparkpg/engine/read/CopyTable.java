package io.sparkpg.engine.read;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;
import org.apache.spark.sql.connector.catalog.SupportsRead;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/** A PostgreSQL source as a Spark table; its name (shown in plans) is the read's label only. */
final class CopyTable implements SupportsRead {
  private final ReadSpec spec;
  private final UnrepresentableCounts counts;

  CopyTable(ReadSpec spec, UnrepresentableCounts counts) {
    this.spec = spec;
    this.counts = counts;
  }

  @Override
  public String name() {
    return "sparkpg_copy " + spec.label;
  }

  @Override
  @SuppressWarnings("deprecation") // columns() arrives in Spark 3.5's Table; schema() works in 3.x and 4.x
  public StructType schema() {
    return spec.schema();
  }

  @Override
  public Set<TableCapability> capabilities() {
    return Collections.unmodifiableSet(EnumSet.of(TableCapability.BATCH_READ));
  }

  @Override
  public ScanBuilder newScanBuilder(CaseInsensitiveStringMap options) {
    return new CopyScanBuilder(spec, counts);
  }
}
