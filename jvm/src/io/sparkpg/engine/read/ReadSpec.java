package io.sparkpg.engine.read;

import io.sparkpg.engine.EngineOptions;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The options of one read, parsed (the contract is in jvm/README.md). The connection properties
 * hold the password: this class has no toString, and nothing prints them.
 */
final class ReadSpec implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final String WHO = "sparkpg copy engine";

  final String url;
  final Properties properties;
  final String source;
  final List<String> predicates; // one per partition; empty: one partition, no predicate
  final List<String> sessionStatements;
  final List<ColumnSpec> columns;
  final String label;
  final String readId;
  /** The column whose values decide the partition (each value in one partition), or null. */
  final String partitionColumn;
  /** The pushdowns the read's options allow ({@link Pushdown}). */
  final java.util.Set<Pushdown> pushdowns;

  private ReadSpec(Map<String, String> options) {
    url = EngineOptions.required(options, "url", WHO);
    properties = EngineOptions.connectionProperties(options);
    source = EngineOptions.required(options, "source", WHO);
    predicates = EngineOptions.strings(options, "predicates", WHO);
    sessionStatements = EngineOptions.strings(options, "sessionStatements", WHO);
    List<ColumnSpec> cols = new ArrayList<>();
    for (Object c : EngineOptions.list(options, "columns", WHO)) {
      if (!(c instanceof Map)) {
        throw new IllegalArgumentException(
            WHO + ": option 'columns': each entry must be a JSON object");
      }
      cols.add(ColumnSpec.fromJson((Map<?, ?>) c));
    }
    columns = Collections.unmodifiableList(cols);
    label = options.getOrDefault("label", source);
    readId = options.getOrDefault("readId", "");
    partitionColumn = options.get("partitionColumn");
    if (partitionColumn != null && indexOf(partitionColumn) < 0) {
      throw new IllegalArgumentException(WHO + ": option 'partitionColumn' names "
          + partitionColumn + ", which is not one of the read's columns");
    }
    pushdowns = Pushdown.allowed(options, WHO);
  }

  /** Parse case-sensitive options (pgjdbc property names are case-sensitive). */
  static ReadSpec parse(Map<String, String> options) {
    return new ReadSpec(options);
  }

  StructType schema() {
    StructField[] fields = new StructField[columns.size()];
    for (int i = 0; i < fields.length; i++) {
      ColumnSpec c = columns.get(i);
      fields[i] = new StructField(c.name, c.dataType(), true,
          org.apache.spark.sql.types.Metadata.empty());
    }
    return new StructType(fields);
  }

  /** How many partitions (COPY statements) the read has. */
  int partitions() {
    return Math.max(1, predicates.size());
  }

  int indexOf(String name) {
    for (int i = 0; i < columns.size(); i++) {
      if (columns.get(i).name.equals(name)) {
        return i;
      }
    }
    return -1;
  }
}
