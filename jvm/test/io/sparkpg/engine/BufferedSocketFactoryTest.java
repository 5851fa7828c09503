package io.sparkpg.engine;

import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Properties;
import java.util.Random;

/** The engine's pgjdbc sockets: the same bytes, in order, whatever the reads' sizes. */
public final class BufferedSocketFactoryTest {
  /** A source that hands out at most {@code chunk} bytes per read, as a socket may. */
  private static InputStream trickling(byte[] data, int chunk) {
    return new ByteArrayInputStream(data) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        return super.read(b, off, Math.min(len, chunk));
      }
    };
  }

  private static byte[] random(int n, long seed) {
    byte[] data = new byte[n];
    new Random(seed).nextBytes(data);
    return data;
  }

  /** Reads {@code in} to its end in reads of random sizes (single bytes among them). */
  private static byte[] drain(InputStream in, long seed) throws IOException {
    Random sizes = new Random(seed);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    while (true) {
      int pick = sizes.nextInt(10);
      if (pick == 0) {
        int b = in.read();
        if (b < 0) {
          return out.toByteArray();
        }
        out.write(b);
        continue;
      }
      // small reads like pgjdbc's, and reads larger than the buffer
      int len = pick < 8 ? 1 + sizes.nextInt(9000) : BufferedSocketFactory.BUFFER_BYTES + 17;
      byte[] b = new byte[len + 3];
      int n = in.read(b, 3, len);
      if (n < 0) {
        return out.toByteArray();
      }
      assertTrue(n > 0 && n <= len, "a read returns 1.." + len + " bytes, not " + n);
      out.write(b, 3, n);
    }
  }

  public void testReadsReturnEveryByteInOrderWhateverTheirSizes() throws IOException {
    byte[] data = random(3 * BufferedSocketFactory.BUFFER_BYTES + 12345, 1);
    for (int chunk : new int[] {1, 7, 8192, 100_000, Integer.MAX_VALUE}) {
      InputStream in = new BufferedSocketFactory.ReadAhead(trickling(data, chunk));
      assertTrue(Arrays.equals(data, drain(in, chunk)), "same bytes with chunks of " + chunk);
      assertEquals(-1, in.read());
      assertEquals(-1, in.read(new byte[4], 0, 4));
    }
  }

  public void testARefillOfAFewStreamPiecesWaitsBeforeTheNextRead() throws IOException {
    int[] sizes = {100, 8192, 9000, 40_000, 4096, 32 * 1024 - 1, 32 * 1024, 300};
    StringBuilder events = new StringBuilder();
    InputStream source = new InputStream() {
      private int next;

      @Override
      public int read() {
        throw new AssertionError("ReadAhead reads blocks");
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (next == sizes.length) {
          events.append("end");
          return -1;
        }
        events.append(sizes[next]).append(' ');
        return Math.min(len, sizes[next++]);
      }
    };
    InputStream in = new BufferedSocketFactory.ReadAhead(source, nanos -> {
      assertEquals(BufferedSocketFactory.ReadAhead.COALESCE_NANOS, nanos);
      events.append("wait ");
    });
    drain(in, 3);
    assertEquals("100 8192 wait 9000 wait 40000 4096 wait 32767 wait 32768 300 end",
        events.toString());
  }

  public void testAvailableCountsTheBufferedBytes() throws IOException {
    byte[] data = random(100, 2);
    InputStream in = new BufferedSocketFactory.ReadAhead(trickling(data, 60));
    assertEquals(data[0] & 0xFF, in.read());
    // 59 in the buffer, 40 still in the source
    assertEquals(99, in.available());
    assertEquals(0, in.read(new byte[1], 0, 0));
  }

  public void testWithDefaultsKeepsTheConnectionsOwnChoicesAndTheInput() {
    Properties given = new Properties();
    given.setProperty("user", "app");
    Properties out = BufferedSocketFactory.withDefaults(given);
    assertEquals(BufferedSocketFactory.class.getName(), out.getProperty("socketFactory"));
    assertEquals(Integer.toString(BufferedSocketFactory.BUFFER_BYTES),
        out.getProperty("maxSendBufferSize"));
    assertEquals("app", out.getProperty("user"));
    assertEquals(null, given.getProperty("socketFactory"));
    given.setProperty("socketFactory", "com.example.Mine");
    given.setProperty("maxSendBufferSize", "4096");
    Properties chosen = BufferedSocketFactory.withDefaults(given);
    assertEquals("com.example.Mine", chosen.getProperty("socketFactory"));
    assertEquals("4096", chosen.getProperty("maxSendBufferSize"));
    Properties layered = new Properties(given); // pgjdbc reads a Properties' defaults too
    layered.setProperty("ApplicationName", "job");
    Properties copied = BufferedSocketFactory.withDefaults(layered);
    assertEquals("app", copied.getProperty("user"));
    assertEquals("com.example.Mine", copied.getProperty("socketFactory"));
    assertEquals("job", copied.getProperty("ApplicationName"));
  }

  public void testASocketStreamsBothWaysAndReportsItsClose() throws IOException {
    byte[] data = random(2 * BufferedSocketFactory.BUFFER_BYTES + 5, 3);
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Socket socket = new BufferedSocketFactory().createSocket(
          InetAddress.getLoopbackAddress(), server.getLocalPort());
      try (Socket peer = server.accept()) {
        assertTrue(!socket.isClosed(), "open after connect");
        assertTrue(socket.getInputStream() == socket.getInputStream(), "one input stream");
        OutputStream out = peer.getOutputStream();
        out.write(data);
        peer.shutdownOutput(); // the end of the stream, the socket still open
        assertTrue(Arrays.equals(data, drain(socket.getInputStream(), 4)), "bytes from the peer");
        socket.getOutputStream().write(42);
        socket.getOutputStream().flush();
        assertEquals(42, peer.getInputStream().read());
      } finally {
        socket.close();
      }
      assertTrue(socket.isClosed(), "closed after close");
      socket.close(); // a second close is harmless, as for any socket
      assertTrue(socket.isClosed(), "still closed");
    }
  }
}
