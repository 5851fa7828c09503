package io.sparkpg.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Reading the options of a read or a write (the contract is in jvm/README.md): required values,
 * JSON arrays, and the pgjdbc connection properties ({@code property.<name>}, which hold the
 * password: nothing here prints a value). Errors name the option and {@code who} reads it.
 */
public final class EngineOptions {
  /** Options with this prefix are pgjdbc connection properties (case-sensitive names). */
  public static final String PROPERTY_PREFIX = "property.";
  private static final ObjectMapper JSON = new ObjectMapper();

  private EngineOptions() {}

  /** The non-empty value of {@code key}; otherwise an error naming it. */
  public static String required(Map<String, String> options, String key, String who) {
    String value = options.get(key);
    if (value == null || value.isEmpty()) {
      throw new IllegalArgumentException(who + ": option '" + key + "' is required");
    }
    return value;
  }

  /** The {@code property.*} options, without the prefix. */
  public static Properties connectionProperties(Map<String, String> options) {
    Properties properties = new Properties();
    for (Map.Entry<String, String> e : options.entrySet()) {
      if (e.getKey().startsWith(PROPERTY_PREFIX)) {
        properties.setProperty(e.getKey().substring(PROPERTY_PREFIX.length()), e.getValue());
      }
    }
    return properties;
  }

  /** The JSON array in {@code key} (empty when the option is absent). */
  public static List<?> list(Map<String, String> options, String key, String who) {
    String value = options.get(key);
    if (value == null || value.isEmpty()) {
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
    throw new IllegalArgumentException(who + ": option '" + key + "' must be a JSON array");
  }

  /** The JSON array of strings in {@code key} (empty when the option is absent). */
  public static List<String> strings(Map<String, String> options, String key, String who) {
    List<String> out = new ArrayList<>();
    for (Object o : list(options, key, who)) {
      if (!(o instanceof String)) {
        throw new IllegalArgumentException(
            who + ": option '" + key + "' must be a JSON array of strings");
      }
      out.add((String) o);
    }
    return Collections.unmodifiableList(out);
  }
}
