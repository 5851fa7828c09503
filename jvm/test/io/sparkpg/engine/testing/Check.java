package io.sparkpg.engine.testing;

import java.util.Arrays;
import java.util.Objects;

/** The assertions of the engine's JVM tests (JUnit is not available offline). */
public final class Check {
  private Check() {}

  /** Code that may throw anything. */
  public interface Action {
    void run() throws Exception;
  }

  public static void assertEquals(Object expected, Object actual) {
    boolean same = expected instanceof byte[] && actual instanceof byte[]
        ? Arrays.equals((byte[]) expected, (byte[]) actual) : Objects.equals(expected, actual);
    if (!same) {
      throw new AssertionError("expected <" + show(expected) + "> but was <" + show(actual) + ">");
    }
  }

  public static void assertTrue(boolean condition, String what) {
    if (!condition) {
      throw new AssertionError(what);
    }
  }

  /** The exception {@code action} throws, which must be a {@code type}. */
  public static <T extends Throwable> T assertThrows(Class<T> type, Action action) {
    try {
      action.run();
    } catch (Throwable t) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
      throw new AssertionError("expected " + type.getName() + " but got " + t, t);
    }
    throw new AssertionError("expected " + type.getName() + " but nothing was thrown");
  }

  /** {@code text} contains every one of {@code parts}. */
  public static void assertContains(String text, String... parts) {
    for (String part : parts) {
      if (text == null || !text.contains(part)) {
        throw new AssertionError("<" + text + "> does not contain <" + part + ">");
      }
    }
  }

  private static String show(Object value) {
    if (value instanceof byte[]) {
      StringBuilder hex = new StringBuilder();
      for (byte b : (byte[]) value) {
        hex.append(String.format("%02x ", b & 0xFF));
      }
      return hex.toString().trim();
    }
    return value == null ? "null" : value + " (" + value.getClass().getSimpleName() + ")";
  }
}
