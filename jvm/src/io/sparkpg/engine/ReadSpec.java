package io.sparkpg.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
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
  static final String PROPERTY_PREFIX = "property.";
  private static final ObjectMapper JSON = new ObjectMapper();

  final String url;
  final Properties properties;
  final String source;
  final List<String> predicates; // one per partition; empty: one partition, no predicate
  final List<String> sessionStatements;
  final List<ColumnSpec> columns;
  final String label;
  final String readId;

  private ReadSpec(Map<String, String> options) {
    url = required(options, "url");
    properties = new Properties();
    for (Map.Entry<String, String> e : options.entrySet()) {
      if (e.getKey().startsWith(PROPERTY_PREFIX)) {
        properties.setProperty(e.getKey().substring(PROPERTY_PREFIX.length()), e.getValue());
      }
    }
    source = required(options, "source");
    predicates = strings(options, "predicates");
    sessionStatements = strings(options, "sessionStatements");
    List<ColumnSpec> cols = new ArrayList<>();
    for (Object c : list(options, "columns")) {
      if (!(c instanceof Map)) {
        throw new IllegalArgumentException("option 'columns': each entry must be a JSON object");
      }
      cols.add(ColumnSpec.fromJson((Map<?, ?>) c));
    }
    columns = Collections.unmodifiableList(cols);
    label = options.getOrDefault("label", source);
    readId = options.getOrDefault("readId", "");
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

  int indexOf(String name) {
    for (int i = 0; i < columns.size(); i++) {
      if (columns.get(i).name.equals(name)) {
        return i;
      }
    }
    return -1;
  }

  private static String required(Map<String, String> options, String key) {
    String value = options.get(key);
    if (value == null || value.isEmpty()) {
      throw new IllegalArgumentException("sparkpg copy engine: option '" + key + "' is required");
    }
    return value;
  }

  private static List<?> list(Map<String, String> options, String key) {
    String value = options.get(key);
    if (value == null) {
      return Collections.emptyList();
    }
    try {
      Object parsed = JSON.readValue(value, Object.class);
      if (parsed instanceof List) {
        return (List<?>) parsed;
      }
    } catch (IOException e) {
      // reported below, without the parser's excerpt of the value
    }
    throw new IllegalArgumentException("sparkpg copy engine: option '" + key
        + "' must be a JSON array");
  }

  private static List<String> strings(Map<String, String> options, String key) {
    List<String> out = new ArrayList<>();
    for (Object o : list(options, key)) {
      if (!(o instanceof String)) {
        throw new IllegalArgumentException("option '" + key + "' must be a JSON array of strings");
      }
      out.add((String) o);
    }
    return Collections.unmodifiableList(out);
  }
}
