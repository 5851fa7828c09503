package io.sparkpg.engine.read;

import io.sparkpg.engine.testing.Wire;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;

/**
 * CPU time per row of the COPY engine's decoding, without a server: a binary COPY stream of the
 * read benchmark's tables (benchmarks/read_benchmark.py: {@code narrow}, its 7-column table, and
 * {@code wide}, its 30-column one) built in memory as pgjdbc hands it over (one byte[] per
 * CopyData message), decoded by {@link CopyRows} as a partition reader does, then once more with
 * the {@link UnsafeProjection} Spark runs on every row a row-based scan returns. Prints the median
 * thread CPU time per row of several runs after warm-up, and a checksum of the projected rows and
 * of the NULL counts (equal checksums: equal decoded values). Not a test; run it with
 * {@code python -m devtools.build_engine_jar --main io.sparkpg.engine.read.DecodeBench [narrow|wide]...}.
 */
public final class DecodeBench {
  private static final int WARMUP = 5;
  private static final int RUNS = 9;
  private static final long ROWS_PER_RUN = 1_000_000;
  private static final long PG_EPOCH_MICROS = BinaryDecoder.EPOCH_MICROS;

  private DecodeBench() {}

  public static void main(String[] args) throws Exception {
    for (String shape : args.length == 0 ? new String[] {"narrow", "wide"} : args) {
      bench(shape);
    }
  }

  private static void bench(String name) throws Exception {
    boolean wide = name.equals("wide");
    if (!wide && !name.equals("narrow")) {
      throw new IllegalArgumentException("unknown shape '" + name + "' (expected narrow or wide)");
    }
    ReadSpec spec = Specs.spec((wide ? WIDE_COLUMNS : NARROW_COLUMNS).replace('\'', '"'));
    int[] all = new int[spec.columns.size()];
    for (int i = 0; i < all.length; i++) {
      all[i] = i;
    }
    RowShape shape = RowShape.plain(spec, all);
    // About 1 MiB of messages, decoded over and over: in a read each message was just filled by
    // pgjdbc, so it is in the CPU's cache; a stream of many MiB would measure memory instead.
    byte[][] messages = wide ? stream(1_200, all.length, DecodeBench::wideRow)
        : stream(16_000, all.length, DecodeBench::narrowRow);
    long rows = messages.length - 2; // without the header and the trailer
    int passes = (int) Math.max(1, ROWS_PER_RUN / rows);
    UnsafeProjection projection = UnsafeProjection.create(shape.schema());
    ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
    System.out.printf("%-6s checksum %016x of the projected rows%n", name,
        decodeAll(shape, spec, messages, 1, projection, true));
    for (boolean project : new boolean[] {false, true}) {
      long[] nanos = new long[RUNS];
      for (int run = -WARMUP; run < RUNS; run++) {
        long start = cpu.getCurrentThreadCpuTime();
        decodeAll(shape, spec, messages, passes, project ? projection : null, false);
        if (run >= 0) {
          nanos[run] = cpu.getCurrentThreadCpuTime() - start;
        }
      }
      Arrays.sort(nanos);
      long total = passes * rows;
      System.out.printf("%-6s %-23s %7.1f ns/row (thread CPU, median of %d runs of %d rows; "
          + "min %.1f, max %.1f)%n", name, project ? "decode+UnsafeProjection" : "decode",
          (double) nanos[RUNS / 2] / total, RUNS, total, (double) nanos[0] / total,
          (double) nanos[RUNS - 1] / total);
    }
  }

  /**
   * One partition's stream through CopyRows, its rows {@code passes} times over (one reader, as a
   * partition of that many rows has), each row projected when {@code projection} is set; a
   * checksum of the projected rows and the counts when {@code hash}, else their sizes.
   */
  private static long decodeAll(RowShape shape, ReadSpec spec, byte[][] messages, int passes,
      UnsafeProjection projection, boolean hash) throws IOException {
    CopyRows rows = new CopyRows(shape, spec.columns.size(), "bench");
    rows.decode(messages[0]); // the header
    int last = messages.length - 1; // the trailer
    long sum = 0;
    for (int pass = 0; pass < passes; pass++) {
      for (int m = 1; m < last; m++) {
        rows.decode(messages[m]);
        if (projection == null) {
          sum += rows.row.isNullAt(0) ? 0 : 1;
          continue;
        }
        UnsafeRow out = projection.apply(rows.row);
        sum = hash ? sum * 31 + out.hashCode() : sum + out.getSizeInBytes();
      }
    }
    return sum * 31 + Arrays.hashCode(rows.counts);
  }

  /** Appends row {@code i}'s fields to a message. */
  private interface RowWriter {
    void write(Wire w, long i);
  }

  /** The header, one row per message, then the trailer. */
  private static byte[][] stream(int rows, int fields, RowWriter writer) {
    List<byte[]> out = new ArrayList<>();
    out.add(new Wire().bytes("PGCOPY\n\377\r\n\0".getBytes(StandardCharsets.ISO_8859_1)).int4(0)
        .int4(0).toBytes());
    for (long i = 1; i <= rows; i++) {
      Wire w = new Wire();
      w.int2(fields);
      writer.write(w, i);
      out.add(w.toBytes());
    }
    out.add(new Wire().int2(-1).toBytes());
    return out.toArray(new byte[0][]);
  }

  private static final String NARROW_COLUMNS = "["
      + "{'name': 'id', 'kind': 'int8', 'expr': 'id'},"
      + "{'name': 'quantity', 'kind': 'int4', 'expr': 'quantity'},"
      + "{'name': 'amount', 'kind': 'numeric', 'precision': 12, 'scale': 2, 'expr': 'amount'},"
      + "{'name': 'note', 'kind': 'text', 'expr': 'note'},"
      + "{'name': 'created_at', 'kind': 'timestamptz', 'expr': 'created_at'},"
      + "{'name': 'day', 'kind': 'date', 'expr': 'day'},"
      + "{'name': 'active', 'kind': 'bool', 'expr': 'active'}]";

  /** read_benchmark.py's INSERT_SQL for row {@code i}. */
  private static void narrowRow(Wire w, long i) {
    w.int4(8).int8(i);
    w.int4(4).int4((int) ((i * 31) % 1000));
    field(w, numeric(BigDecimal.valueOf((i * 7919) % 10_000_000, 2)));
    field(w, i % 50 == 0 ? null : new Wire().utf8("order " + md5(i).substring(0, 2 + (int) (i % 24))));
    w.int4(8).int8(micros("2024-01-01T00:00:00Z") + i * 1_000_000L - PG_EPOCH_MICROS);
    w.int4(4).int4((int) (java.time.LocalDate.of(2020, 1, 1).toEpochDay() + i % 1500)
        - BinaryDecoder.EPOCH_DAYS);
    w.int4(1).int1(i % 3 == 0 ? 1 : 0);
  }

  private static final String WIDE_COLUMNS;

  static {
    StringBuilder b = new StringBuilder("[{'name': 'id', 'kind': 'int8', 'expr': 'id'}");
    for (String t : new String[] {"t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "v1", "v2",
        "v3"}) {
      b.append(",{'name': '").append(t).append("', 'kind': 'text', 'expr': 'x'}");
    }
    for (int k = 1; k <= 4; k++) {
      b.append(",{'name': 'n").append(k)
          .append("', 'kind': 'numeric', 'precision': 14, 'scale': 4, 'expr': 'x'}");
    }
    for (String c : new String[] {"i1:int4", "i2:int4", "i3:int4", "f1:float8", "f2:float8",
        "ts1:timestamptz", "ts2:timestamptz", "ts3:timestamptz", "d1:date", "b1:bool",
        "j1:text", "j2:text"}) {
      String[] nk = c.split(":");
      b.append(",{'name': '").append(nk[0]).append("', 'kind': '").append(nk[1])
          .append("', 'expr': 'x'}");
    }
    b.append(",{'name': 'a1', 'kind': 'array', 'element': 'int4', 'expr': 'x'}");
    b.append(",{'name': 'a2', 'kind': 'array', 'element': 'text', 'expr': 'x'}]");
    WIDE_COLUMNS = b.toString();
  }

  /** read_benchmark.py's WIDE_INSERT_SQL for row {@code i}. */
  private static void wideRow(Wire w, long i) {
    w.int4(8).int8(i);
    for (int k = 0; k < 8; k++) {
      String s = md5(i + k);
      field(w, i % (7 + k) == 0 ? null : new Wire().utf8(repeat(s, 1 + k % 3)));
    }
    for (int k = 1; k <= 3; k++) {
      field(w, new Wire().utf8("code-" + md5(i * k).substring(0, 8 + 4 * k)));
    }
    for (int k = 0; k < 4; k++) {
      field(w, i % (11 + k) == 0 ? null
          : numeric(BigDecimal.valueOf((i * (7919 + k)) % 100_000_000, 4)));
    }
    w.int4(4).int4((int) (i % 1000));
    w.int4(4).int4((int) (i * 13 % 100_000));
    field(w, i % 5 == 0 ? null : new Wire().int4((int) i));
    w.int4(8).int8(Double.doubleToLongBits(i / 7.0));
    field(w, i % 9 == 0 ? null : new Wire().int8(Double.doubleToLongBits(Math.sqrt(i))));
    w.int4(8).int8(micros("2024-01-01T00:00:00Z") + i * 1_000_000L - PG_EPOCH_MICROS);
    w.int4(8).int8(micros("2020-01-01T00:00:00Z") + i * 60_000_000L - PG_EPOCH_MICROS);
    field(w, i % 13 == 0 ? null : new Wire().int8(micros("2025-06-01T12:34:56.789012Z")
        - PG_EPOCH_MICROS));
    w.int4(4).int4((int) (java.time.LocalDate.of(2020, 1, 1).toEpochDay() + i % 1500)
        - BinaryDecoder.EPOCH_DAYS);
    w.int4(1).int1(i % 2 == 0 ? 1 : 0);
    field(w, new Wire().utf8("{\"n\": " + i % 17 + ", \"id\": " + i + ", \"tag\": \"" + md5(i)
        + "\"}"));
    field(w, i % 4 == 0 ? null : new Wire().utf8("[" + i + ", " + (i + 1) + ", \"x\"]"));
    field(w, new Wire().int4(1).int4(0).int4(23).int4(3).int4(1)
        .int4(4).int4((int) i).int4(4).int4((int) i + 1).int4(4).int4((int) i + 2));
    field(w, i % 6 == 0 ? null : new Wire().int4(1).int4(0).int4(25).int4(2).int4(1)
        .field(new Wire().utf8(md5(i))).field(new Wire().utf8("b")));
  }

  private static void field(Wire w, Wire value) {
    if (value == null) {
      w.int4(-1);
    } else {
      w.field(value);
    }
  }

  /** numeric_send of {@code v}: base-10000 digits around the decimal point, dscale its scale. */
  static Wire numeric(BigDecimal v) {
    String plain = v.abs().toPlainString();
    int dot = plain.indexOf('.');
    String whole = dot < 0 ? plain : plain.substring(0, dot);
    String fraction = dot < 0 ? "" : plain.substring(dot + 1);
    whole = "000".substring(0, (4 - whole.length() % 4) % 4) + whole;
    fraction = fraction + "000".substring(0, (4 - fraction.length() % 4) % 4);
    String digits = whole + fraction;
    List<Integer> groups = new ArrayList<>();
    for (int p = 0; p < digits.length(); p += 4) {
      groups.add(Integer.parseInt(digits.substring(p, p + 4)));
    }
    int weight = whole.length() / 4 - 1;
    while (!groups.isEmpty() && groups.get(0) == 0) {
      groups.remove(0);
      weight--;
    }
    while (!groups.isEmpty() && groups.get(groups.size() - 1) == 0) {
      groups.remove(groups.size() - 1);
    }
    Wire w = new Wire().int2(groups.size()).int2(groups.isEmpty() ? 0 : weight)
        .int2(v.signum() < 0 ? 0x4000 : 0).int2(v.scale());
    for (int g : groups) {
      w.int2(g);
    }
    return w;
  }

  private static long micros(String instant) {
    java.time.Instant t = java.time.Instant.parse(instant);
    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1000;
  }

  private static String repeat(String s, int n) {
    StringBuilder b = new StringBuilder();
    for (int k = 0; k < n; k++) {
      b.append(s);
    }
    return b.toString();
  }

  private static String md5(long i) {
    try {
      byte[] d = MessageDigest.getInstance("MD5").digest(Long.toString(i)
          .getBytes(StandardCharsets.US_ASCII));
      StringBuilder b = new StringBuilder();
      for (byte x : d) {
        b.append(String.format("%02x", x));
      }
      return b.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
