package io.sparkpg.engine;

import static io.sparkpg.engine.testing.Check.assertContains;
import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertThrows;
import static io.sparkpg.engine.testing.Check.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

/** Reading the options of a read or a write: required values, JSON arrays, connection properties. */
public final class EngineOptionsTest {
  private static final String WHO = "sparkpg test";
  private static final String SECRET = "s3cr;t 'pa\"ss";

  private static Map<String, String> options(String... keysAndValues) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      out.put(keysAndValues[i], keysAndValues[i + 1]);
    }
    return out;
  }

  public void testRequiredReturnsTheValue() {
    assertEquals("jdbc:postgresql://h/db", EngineOptions.required(
        options("url", "jdbc:postgresql://h/db"), "url", WHO));
  }

  public void testRequiredNamesTheMissingOrEmptyOptionAndWho() {
    for (Map<String, String> o : Arrays.asList(options(), options("url", ""))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> EngineOptions.required(o, "url", WHO));
      assertEquals("sparkpg test: option 'url' is required", e.getMessage());
    }
  }

  public void testConnectionPropertiesStripThePrefixAndKeepCase() {
    Properties p = EngineOptions.connectionProperties(options("property.user", "reader",
        "property.password", SECRET, "property.sslMode", "verify-full", "url", "jdbc:x",
        "Property.other", "no"));
    assertEquals(3, p.size());
    assertEquals("reader", p.getProperty("user"));
    assertEquals(SECRET, p.getProperty("password"));
    assertEquals("verify-full", p.getProperty("sslMode"));
  }

  public void testListIsEmptyWhenAbsentOrEmpty() {
    assertEquals(Collections.emptyList(), EngineOptions.list(options(), "predicates", WHO));
    assertEquals(Collections.emptyList(),
        EngineOptions.list(options("predicates", ""), "predicates", WHO));
  }

  public void testListParsesJsonArrays() {
    assertEquals(Arrays.asList("a", 1, Collections.singletonMap("k", true)),
        EngineOptions.list(options("x", "[\"a\", 1, {\"k\": true}]"), "x", WHO));
  }

  public void testAnythingButAJsonArrayIsRefusedWithoutEchoingTheValue() {
    for (String bad : new String[] {"{\"a\": 1}", "\"" + SECRET + "\"", "[" + SECRET, "42"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> EngineOptions.list(options("columns", bad), "columns", WHO));
      assertEquals("sparkpg test: option 'columns' must be a JSON array", e.getMessage());
      assertTrue(!e.toString().contains("s3cr"), "the value is echoed: " + e);
    }
  }

  public void testStringsAreAnUnmodifiableListOfStrings() {
    java.util.List<String> s = EngineOptions.strings(options("s", "[\"SET LOCAL jit = off\", \"\"]"),
        "s", WHO);
    assertEquals(Arrays.asList("SET LOCAL jit = off", ""), s);
    assertThrows(UnsupportedOperationException.class, () -> s.add("x"));
  }

  public void testStringsRefuseOtherElements() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> EngineOptions.strings(options("s", "[\"a\", 1]"), "s", WHO));
    assertContains(e.getMessage(), "option 's' must be a JSON array of strings");
  }
}
