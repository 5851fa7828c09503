package io.sparkpg.engine;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Properties;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongConsumer;
import javax.net.SocketFactory;

/**
 * pgjdbc's {@code socketFactory} for engine connections: plain TCP sockets read through a
 * {@value #BUFFER_BYTES}-byte buffer. pgjdbc reads its socket 8 KiB at a time, and with a socket
 * timeout a read that finds nothing waits in a poll of its own: a COPY of a few hundred MB cost
 * about two system calls per 8 KiB. Here one read takes what the kernel holds. TLS, when the
 * server agrees to it, is layered over this socket as over pgjdbc's own.
 */
public final class BufferedSocketFactory extends SocketFactory {
  static final int BUFFER_BYTES = 256 * 1024;

  /** Called by pgjdbc (by class name, without arguments). */
  public BufferedSocketFactory() {}

  /**
   * A copy of {@code properties} with this factory as pgjdbc's {@code socketFactory} and a
   * {@value #BUFFER_BYTES}-byte {@code maxSendBufferSize} (pgjdbc's is 8 KiB: a COPY into
   * PostgreSQL sends in those pieces), unless the connection's properties chose either.
   */
  public static Properties withDefaults(Properties properties) {
    Properties out = new Properties();
    // as pgjdbc reads them: string properties, a Properties' defaults included
    for (String name : properties.stringPropertyNames()) {
      out.setProperty(name, properties.getProperty(name));
    }
    out.putIfAbsent("socketFactory", BufferedSocketFactory.class.getName());
    out.putIfAbsent("maxSendBufferSize", Integer.toString(BUFFER_BYTES));
    return out;
  }

  @Override
  public Socket createSocket() {
    return new BufferedSocket();
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    return createSocket(host, port, null, 0);
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort)
      throws IOException {
    return connected(new InetSocketAddress(host, port), localHost, localPort);
  }

  @Override
  public Socket createSocket(InetAddress host, int port) throws IOException {
    return createSocket(host, port, null, 0);
  }

  @Override
  public Socket createSocket(InetAddress host, int port, InetAddress localHost, int localPort)
      throws IOException {
    return connected(new InetSocketAddress(host, port), localHost, localPort);
  }

  /** A connected socket, bound first when a local address or port is given. */
  private static Socket connected(InetSocketAddress remote, InetAddress localHost, int localPort)
      throws IOException {
    Socket socket = new BufferedSocket();
    try {
      if (localHost != null || localPort != 0) {
        socket.bind(new InetSocketAddress(localHost, localPort));
      }
      socket.connect(remote);
      return socket;
    } catch (IOException e) {
      socket.close();
      throw e;
    }
  }

  /** A socket with one buffered input stream, and {@link #isClosed} without a lock. */
  private static final class BufferedSocket extends Socket {
    private InputStream input;
    private volatile boolean closed;

    @Override
    public synchronized InputStream getInputStream() throws IOException {
      if (input == null) {
        input = new ReadAhead(super.getInputStream());
      }
      return input;
    }

    /**
     * pgjdbc asks before every message it reads, and JDK 17's {@link Socket#isClosed} enters a
     * monitor each time; this flag is set once {@link Socket#close} has closed the socket.
     */
    @Override
    public boolean isClosed() {
      return closed;
    }

    @Override
    public synchronized void close() throws IOException {
      super.close();
      closed = true;
    }
  }

  /**
   * One socket read per refill, of as much as the kernel holds up to the buffer's size; unlike
   * {@link java.io.BufferedInputStream} it never asks the socket how much is available (a system
   * call of its own) in the middle of a read.
   *
   * <p>A refill that got a stream's piece but little of it ({@value #STREAM_PIECE_BYTES} to
   * {@value #SMALL_REFILL_BYTES} bytes: the server sends a COPY in 8 KiB pieces, slower than the
   * reader takes them) waits {@value #COALESCE_NANOS} ns before the next read, so that the next
   * read finds several pieces instead of waking the thread once per piece. The kernel keeps
   * receiving meanwhile; smaller answers (a query's reply) and full refills never wait.
   */
  static final class ReadAhead extends InputStream {
    static final int STREAM_PIECE_BYTES = 4096;
    static final int SMALL_REFILL_BYTES = 32 * 1024;
    static final long COALESCE_NANOS = 500_000;

    private final InputStream source;
    private final LongConsumer pause;
    private final byte[] buffer = new byte[BUFFER_BYTES];
    private int position;
    private int limit;
    private boolean small;

    ReadAhead(InputStream source) {
      this(source, LockSupport::parkNanos);
    }

    /** {@code pause}: waits the nanoseconds it is given (tests record them instead). */
    ReadAhead(InputStream source, LongConsumer pause) {
      this.source = source;
      this.pause = pause;
    }

    /** False at the end of the stream. */
    private boolean refill() throws IOException {
      int n = fetch(buffer, 0, buffer.length);
      position = 0;
      limit = Math.max(n, 0);
      return n > 0;
    }

    /** One read of the source, after the wait above when the last one was small. */
    private int fetch(byte[] b, int off, int len) throws IOException {
      if (small) {
        pause.accept(COALESCE_NANOS);
      }
      int n = source.read(b, off, len);
      small = n >= STREAM_PIECE_BYTES && n < SMALL_REFILL_BYTES;
      return n;
    }

    @Override
    public int read() throws IOException {
      if (position == limit && !refill()) {
        return -1;
      }
      return buffer[position++] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (off < 0 || len < 0 || len > b.length - off) {
        throw new IndexOutOfBoundsException("offset " + off + ", length " + len + ", array " + b.length);
      }
      if (len == 0) {
        return 0;
      }
      if (position == limit) {
        if (len >= buffer.length) {
          return fetch(b, off, len);
        }
        if (!refill()) {
          return -1;
        }
      }
      int n = Math.min(len, limit - position);
      System.arraycopy(buffer, position, b, off, n);
      position += n;
      return n;
    }

    @Override
    public int available() throws IOException {
      return limit - position + source.available();
    }

    @Override
    public void close() throws IOException {
      source.close();
    }
  }
}
