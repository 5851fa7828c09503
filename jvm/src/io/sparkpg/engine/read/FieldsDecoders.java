package io.sparkpg.engine.read;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.sql.catalyst.InternalRow;
import org.codehaus.commons.compiler.CompileException;
import org.codehaus.janino.SimpleCompiler;

/**
 * The {@link FieldsDecoder} of a row shape: Java source with one block per field, in which the
 * field's index, kind and count column are constants, compiled with Janino (which Spark ships
 * for its own generated code) once per shape and JVM (the last {@value #CACHED_SHAPES} shapes
 * kept). A loop over the fields that looks each field's kind up and switches on it took 1.7
 * times the CPU per row (DecodeBench, narrow: 42 against 24 ns).
 *
 * <p>The public static methods are what the generated code calls (it is loaded by a class loader
 * of its own, so it can reach only public members); they are not an API.
 */
public final class FieldsDecoders {
  private static final String CLASS = "SparkpgFieldsDecoder";
  private static final String SELF = FieldsDecoders.class.getName();
  private static final String PARAMETERS =
      "org.apache.spark.sql.catalyst.InternalRow row, byte[] b, int pos, long[] counts";
  /** Fields per generated method: about 3 KB of bytecode. */
  static final int FIELDS_PER_METHOD = 32;
  /**
   * Compiled decoders kept per JVM, the least recently used dropped beyond this many (each is a
   * class in a class loader of its own, freed with the last decoder of it), as Spark bounds its
   * own generated classes: a long job reading many tables must not fill the metaspace.
   */
  static final int CACHED_SHAPES = 256;
  /** Constructors of the compiled decoders, by their source; guarded by itself. */
  private static final Compiled COMPILED = new Compiled();

  private FieldsDecoders() {}

  /** A decoder of {@code shape}'s fields; {@code where} starts its error messages. */
  static FieldsDecoder of(RowShape shape, String where) {
    String source = source(shape.fields, shape.fieldCountsInto);
    Constructor<?> made;
    synchronized (COMPILED) {
      made = COMPILED.get(source);
    }
    if (made == null) {
      made = compile(source); // outside the lock: other shapes compile meanwhile
      synchronized (COMPILED) {
        Constructor<?> first = COMPILED.putIfAbsent(source, made);
        made = first != null ? first : made;
      }
    }
    try {
      return (FieldsDecoder) made.newInstance(where, shape.fields);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("sparkpg copy engine: cannot make the row decoder", e);
    }
  }

  /**
   * The source of the decoder of {@code fields}, whose values read as NULL are counted into
   * column {@code countsInto[i]} (-1: never read as NULL). Per field: its length, NULL or the
   * value, each bounded by the message. {@code decode} calls one method per
   * {@value #FIELDS_PER_METHOD} fields: HotSpot compiles no method of more than 8,000 bytes of
   * bytecode (about 90 fields), and the JVM takes none over 64 KiB (PostgreSQL allows 1,600
   * columns).
   */
  static String source(ColumnSpec[] fields, int[] countsInto) {
    StringBuilder s = new StringBuilder()
        .append("public final class ").append(CLASS)
        .append(" implements io.sparkpg.engine.read.FieldsDecoder {\n")
        .append("  private final String where;\n")
        .append("  private final Object[] columns;\n")
        .append("  public ").append(CLASS).append("(String where, Object[] columns) {\n")
        .append("    this.where = where;\n    this.columns = columns;\n  }\n");
    int methods = Math.max(1, (fields.length + FIELDS_PER_METHOD - 1) / FIELDS_PER_METHOD);
    if (methods > 1) {
      method(s, "public int decode", "");
      for (int m = 0; m < methods; m++) {
        s.append("    pos = fields").append(m).append("(row, b, pos, counts);\n");
      }
      s.append("    return pos;\n  }\n");
    }
    for (int m = 0; m < methods; m++) {
      method(s, methods > 1 ? "private int fields" + m : "public int decode", "    int len;\n");
      int end = Math.min(fields.length, (m + 1) * FIELDS_PER_METHOD);
      for (int i = m * FIELDS_PER_METHOD; i < end; i++) {
        s.append("    if (pos > b.length - 4) throw ").append(SELF)
            .append(".pastTheEnd(where);\n")
            .append("    len = ").append(SELF).append(".int4(b, pos);\n")
            .append("    pos += 4;\n")
            .append("    if (len < 0) {\n")
            .append("      row.setNullAt(").append(i).append(");\n")
            .append("    } else {\n")
            .append("      if (len > b.length - pos) throw ").append(SELF)
            .append(".pastTheEnd(where);\n")
            .append("      ").append(value(fields[i].kind, i, countsInto[i])).append('\n')
            .append("      pos += len;\n")
            .append("    }\n");
      }
      s.append("    return pos;\n  }\n");
    }
    return s.append("}\n").toString();
  }

  /** Opens a method {@code head} (modifiers, type, name) of the decoder's parameters. */
  private static void method(StringBuilder s, String head, String firstLines) {
    s.append("  ").append(head).append("(").append(PARAMETERS)
        .append(") throws java.io.IOException {\n").append(firstLines);
  }

  /** The statement that decodes field {@code i} ({@code len} bytes at {@code pos} of {@code b}). */
  private static String value(ColumnSpec.Kind kind, int i, int countInto) {
    String at = "(" + i + ", ";
    switch (kind) {
      case BOOL: return "row.setBoolean" + at + "b[pos] != 0);";
      case INT2: return "row.setShort" + at + SELF + ".int2(b, pos));";
      case INT4: return "row.setInt" + at + SELF + ".int4(b, pos));";
      case INT8: return "row.setLong" + at + SELF + ".int8(b, pos));";
      case OID: return "row.setLong" + at + SELF + ".int4(b, pos) & 0xFFFFFFFFL);";
      case FLOAT4: return "row.setFloat" + at + "Float.intBitsToFloat(" + SELF + ".int4(b, pos)));";
      case FLOAT8:
        return "row.setDouble" + at + "Double.longBitsToDouble(" + SELF + ".int8(b, pos)));";
      // text points into the message, which pgjdbc allocates per message
      case TEXT:
        return "row.update" + at
            + "org.apache.spark.unsafe.types.UTF8String.fromBytes(b, pos, len));";
      case DATE: return counted(countInto, "date(row, " + i + ", " + SELF + ".int4(b, pos))");
      case TIMESTAMP:
      case TIMESTAMPTZ:
        return counted(countInto, "timestamp(row, " + i + ", " + SELF + ".int8(b, pos))");
      case NUMERIC:
        return counted(countInto, "numeric(row, " + i + ", columns[" + i + "], b, pos)");
      default: return counted(countInto, "object(row, " + i + ", columns[" + i + "], b, pos, len)");
    }
  }

  /**
   * {@code call} (one of the methods below; false: read as NULL), counted into column
   * {@code countInto} unless that is -1.
   */
  private static String counted(int countInto, String call) {
    return countInto < 0 ? SELF + "." + call + ";"
        : "if (!" + SELF + "." + call + ") counts[" + countInto + "]++;";
  }

  /** An access-ordered map that drops its eldest entry beyond {@link #CACHED_SHAPES}. */
  private static final class Compiled extends LinkedHashMap<String, Constructor<?>> {
    private static final long serialVersionUID = 1L;

    Compiled() {
      super(16, 0.75f, true);
    }

    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Constructor<?>> eldest) {
      return size() > CACHED_SHAPES;
    }
  }

  private static Constructor<?> compile(String source) {
    SimpleCompiler compiler = new SimpleCompiler();
    compiler.setParentClassLoader(FieldsDecoders.class.getClassLoader());
    try {
      compiler.cook(source);
      return compiler.getClassLoader().loadClass(CLASS)
          .getConstructor(String.class, Object[].class);
    } catch (CompileException | ReflectiveOperationException e) {
      throw new IllegalStateException("sparkpg copy engine: the generated row decoder does not "
          + "compile (a bug in sparkpg; report it with this message): " + e.getMessage(), e);
    }
  }

  public static IOException pastTheEnd(String where) {
    return new IOException(where + ": a field of the COPY row runs past the end of its message");
  }

  public static short int2(byte[] b, int off) {
    return BinaryDecoder.int2(b, off);
  }

  public static int int4(byte[] b, int off) {
    return BinaryDecoder.int4(b, off);
  }

  public static long int8(byte[] b, int off) {
    return BinaryDecoder.int8(b, off);
  }

  public static boolean date(InternalRow row, int i, int days) {
    return BinaryDecoder.date(row, i, days);
  }

  public static boolean timestamp(InternalRow row, int i, long micros) {
    return BinaryDecoder.timestamp(row, i, micros);
  }

  public static boolean numeric(InternalRow row, int i, Object column, byte[] b, int off) {
    return BinaryDecoder.numericInto(row, i, (ColumnSpec) column, b, off);
  }

  public static boolean object(InternalRow row, int i, Object column, byte[] b, int off,
      int len) {
    return BinaryDecoder.objectInto(row, i, (ColumnSpec) column, b, off, len);
  }
}
