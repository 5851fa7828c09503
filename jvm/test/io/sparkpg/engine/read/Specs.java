package io.sparkpg.engine.read;

import java.util.HashMap;
import java.util.Map;

/** Read options and column specs for the read tests, as Python sends them (jvm/README.md). */
final class Specs {
  static final String URL = "jdbc:postgresql://localhost:5432/db";

  private Specs() {}

  /** The options of a read of {@code "public"."t"} with these columns (a JSON array). */
  static Map<String, String> options(String columnsJson) {
    Map<String, String> options = new HashMap<>();
    options.put("url", URL);
    options.put("property.user", "reader");
    options.put("property.password", "secret");
    options.put("source", "\"public\".\"t\"");
    options.put("columns", columnsJson);
    return options;
  }

  static ReadSpec spec(String columnsJson) {
    return ReadSpec.parse(options(columnsJson));
  }

  /** One column from its JSON object ({@code '} stands for {@code "}). */
  static ColumnSpec column(String json) {
    return spec("[" + json.replace('\'', '"') + "]").columns.get(0);
  }
}
