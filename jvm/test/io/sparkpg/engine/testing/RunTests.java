package io.sparkpg.engine.testing;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.Comparator;

/**
 * Runs the engine's JVM tests: every public no-argument {@code test*} method of the classes named
 * on the command line, each on a fresh instance. Prints one line per failure and a summary; exits
 * 1 when a test failed (or a class has no test), 0 otherwise.
 */
public final class RunTests {
  private RunTests() {}

  public static void main(String[] classNames) throws Exception {
    int run = 0;
    int failed = 0;
    for (String name : classNames) {
      Class<?> cls;
      try {
        cls = Class.forName(name);
      } catch (Throwable e) {
        failed++;
        System.out.println("FAIL " + name + ": cannot load: " + e + ": " + e.getCause());
        continue;
      }
      Method[] methods = cls.getDeclaredMethods();
      Arrays.sort(methods, Comparator.comparing(Method::getName));
      int before = run;
      for (Method m : methods) {
        if (!m.getName().startsWith("test") || m.getParameterCount() != 0
            || !Modifier.isPublic(m.getModifiers()) || Modifier.isStatic(m.getModifiers())) {
          continue;
        }
        run++;
        try {
          m.invoke(cls.getDeclaredConstructor().newInstance());
        } catch (InvocationTargetException | ExceptionInInitializerError e) {
          failed++;
          Throwable cause = e.getCause();
          StackTraceElement at = where(cause, name);
          System.out.println("FAIL " + cls.getSimpleName() + "." + m.getName() + ": " + cause
              + (at == null ? "" : " (" + at.getFileName() + ":" + at.getLineNumber() + ")"));
        }
      }
      if (run == before) {
        failed++;
        System.out.println("FAIL " + name + ": no public test* method");
      }
    }
    System.out.println(run + " JVM tests, " + failed + " failed");
    System.exit(failed == 0 ? 0 : 1);
  }

  /** The frame of the failing assertion in the test class. */
  private static StackTraceElement where(Throwable t, String className) {
    for (StackTraceElement e : t.getStackTrace()) {
      if (e.getClassName().equals(className)) {
        return e;
      }
    }
    return null;
  }
}
