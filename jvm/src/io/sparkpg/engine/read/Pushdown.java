package io.sparkpg.engine.read;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.internal.SQLConf;

/**
 * The pushdowns a read may use. Each is on unless the read's option {@code pushDown<Name>} or the
 * Spark conf {@code spark.sparkpg.read.pushDown<Name>} says {@code false} (docs/reading.md).
 */
enum Pushdown {
  AGGREGATE("pushDownAggregate"),
  TOP_N("pushDownTopN"),
  OFFSET("pushDownOffset"),
  TABLE_SAMPLE("pushDownTableSample");

  static final String CONF_PREFIX = "spark.sparkpg.read.";

  final String option;

  Pushdown(String option) {
    this.option = option;
  }

  /** The pushdowns the options allow; a value other than true/false is an error naming it. */
  static Set<Pushdown> allowed(Map<String, String> options, String who) {
    Set<Pushdown> out = EnumSet.noneOf(Pushdown.class);
    for (Pushdown p : values()) {
      if (flag(options.get(p.option), "option '" + p.option + "'", who)) {
        out.add(p);
      }
    }
    return out;
  }

  /** Allowed by the read's options and by the session's Spark conf (read when Spark plans). */
  boolean enabled(ReadSpec spec) {
    String key = CONF_PREFIX + option;
    return spec.pushdowns.contains(this)
        && flag(SQLConf.get().getConfString(key, "true"), "Spark conf " + key,
            "sparkpg copy engine");
  }

  private static boolean flag(String value, String what, String who) {
    if (value == null) {
      return true;
    }
    String v = value.trim().toLowerCase(Locale.ROOT);
    if (v.equals("true") || v.equals("false")) {
      return v.equals("true");
    }
    throw new IllegalArgumentException(who + ": " + what + " must be true or false, not '"
        + value + "'");
  }
}
