package io.sparkpg.engine.testing;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * PostgreSQL binary wire bytes written by hand: every integer in network byte order (big-endian),
 * as the send functions write them with pq_sendint16/32/64 (src/backend/libpq/pqformat.c).
 */
public final class Wire {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  public Wire int1(int v) {
    out.write(v);
    return this;
  }

  public Wire int2(int v) {
    return int1(v >>> 8).int1(v);
  }

  public Wire int4(int v) {
    return int2(v >>> 16).int2(v);
  }

  public Wire int8(long v) {
    return int4((int) (v >>> 32)).int4((int) v);
  }

  public Wire bytes(byte[] b) {
    out.write(b, 0, b.length);
    return this;
  }

  public Wire utf8(String s) {
    return bytes(s.getBytes(StandardCharsets.UTF_8));
  }

  /** A field: its int32 length, then its bytes. */
  public Wire field(Wire value) {
    byte[] b = value.toBytes();
    return int4(b.length).bytes(b);
  }

  public byte[] toBytes() {
    return out.toByteArray();
  }
}
