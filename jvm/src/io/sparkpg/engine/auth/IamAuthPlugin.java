package io.sparkpg.engine.auth;

import io.sparkpg.engine.BufferedSocketFactory;
import java.io.IOException;
import java.time.Instant;
import java.util.Arrays;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.postgresql.plugin.AuthenticationPlugin;
import org.postgresql.plugin.AuthenticationRequestType;
import org.postgresql.util.PSQLException;
import org.postgresql.util.PSQLState;

/**
 * pgjdbc's password for an IAM connection ({@code auth_method: "iam"}; pgjdbc property
 * {@code authenticationPluginClassName}): an RDS IAM auth token signed on the JVM that opens the
 * connection, for {@code sparkpgIamHost}:{@code sparkpgIamPort} in {@code sparkpgIamRegion} as
 * {@code user}. pgjdbc makes one plugin per login with the connection's properties.
 *
 * <p>Tokens are cached per JVM for 14.5 minutes (the AWS JDBC wrapper's choice; a token lives 15),
 * and no longer than the signing credentials live. {@link #connectRetrying} signs afresh and
 * retries once when the server refuses a cached token. The test-only system property
 * {@value #CACHE_MILLIS_PROPERTY} shortens the cache; no token is ever logged.
 */
public final class IamAuthPlugin implements AuthenticationPlugin {
  /** Test-only: the token cache's lifetime in milliseconds (default 870000, 14.5 minutes). */
  public static final String CACHE_MILLIS_PROPERTY = "io.sparkpg.iam.tokenCacheMillis";
  static final long DEFAULT_CACHE_MILLIS = 870_000L;
  private static final long CREDENTIALS_MARGIN_MILLIS = 60_000L;
  private static final ConcurrentHashMap<String, Cached> CACHE = new ConcurrentHashMap<>();
  /**
   * Set by {@link #connectRetrying} around a login, inherited by the thread pgjdbc logs in on
   * (with a loginTimeout it is a new thread): whether the plugin handed out a cached token.
   */
  private static final InheritableThreadLocal<AtomicBoolean> SERVED_CACHED =
      new InheritableThreadLocal<>();
  /**
   * One driver for every engine connection: a pgjdbc {@code Driver} reads its default properties
   * (a look for a resource in every jar of the class path) once per instance.
   */
  private static final org.postgresql.Driver DRIVER = new org.postgresql.Driver();
  private static final AwsCredentialChain CREDENTIALS = new AwsCredentialChain(System.getenv());

  private final String host;
  private final int port;
  private final String region;
  private final String user;
  private final String sslmode;

  /** Called by pgjdbc with the connection's properties (URL parameters included). */
  public IamAuthPlugin(Properties info) throws PSQLException {
    host = required(info, "sparkpgIamHost");
    region = required(info, "sparkpgIamRegion");
    user = required(info, "user");
    sslmode = info.getProperty("sslmode", "prefer");
    try {
      port = Integer.parseInt(required(info, "sparkpgIamPort"));
    } catch (NumberFormatException e) {
      throw refused("sparkpgIamPort must be a port number", e);
    }
  }

  @Override
  public char[] getPassword(AuthenticationRequestType type) throws PSQLException {
    if (Arrays.asList("disable", "allow", "prefer").contains(sslmode)) {
      throw refused("refusing to send an IAM auth token with sslmode=" + sslmode
          + ": it could go over plain TCP (RDS refuses that too); use sslmode require or "
          + "verify-full", null);
    }
    String key = user + "@" + host + ":" + port + "/" + region;
    long now = System.currentTimeMillis();
    Cached cached = CACHE.get(key);
    AtomicBoolean servedCached = SERVED_CACHED.get();
    if (cached != null && now < cached.expiresAtMillis) {
      if (servedCached != null) {
        servedCached.set(true);
      }
      return cached.token.toCharArray();
    }
    AwsKeys keys;
    try {
      keys = CREDENTIALS.resolve();
    } catch (IOException e) {
      throw refused(e.getMessage(), e);
    }
    String token = RdsAuthToken.generate(host, port, region, user, keys, Instant.ofEpochMilli(now));
    long expires = now + Long.getLong(CACHE_MILLIS_PROPERTY, DEFAULT_CACHE_MILLIS);
    if (keys.expiration != null) {
      expires = Math.min(expires, keys.expiration.toEpochMilli() - CREDENTIALS_MARGIN_MILLIS);
    }
    CACHE.put(key, new Cached(token, expires));
    return token.toCharArray();
  }

  /**
   * A connection to {@code url}, through {@link BufferedSocketFactory#withDefaults}'s sockets and
   * send buffer (every engine connection opens here). When the login is refused (SQLSTATE class
   * 28) after this thread was given a cached IAM token, the cache is dropped and the login tried
   * once more with a freshly signed token (the credentials that signed the cached one may have
   * expired). Connections without the plugin are opened once, as pgjdbc does.
   */
  public static java.sql.Connection connectRetrying(String url, Properties properties)
      throws java.sql.SQLException {
    AtomicBoolean servedCached = new AtomicBoolean();
    SERVED_CACHED.set(servedCached);
    Properties buffered = BufferedSocketFactory.withDefaults(properties);
    try {
      return DRIVER.connect(url, buffered);
    } catch (java.sql.SQLException e) {
      String state = e.getSQLState();
      if (state == null || !state.startsWith("28") || !servedCached.get()) {
        throw e;
      }
      forgetCachedTokens();
      return DRIVER.connect(url, buffered);
    } finally {
      SERVED_CACHED.remove();
    }
  }

  /** Drops every cached token of this JVM. */
  public static void forgetCachedTokens() {
    CACHE.clear();
  }

  private static String required(Properties info, String name) throws PSQLException {
    String value = info.getProperty(name);
    if (value == null || value.isEmpty()) {
      throw refused("pgjdbc property " + name + " is missing (sparkpg sets it for auth_method "
          + "iam: check the connection's settings)", null);
    }
    return value;
  }

  private static PSQLException refused(String message, Throwable cause) {
    return new PSQLException("sparkpg IAM auth: " + message,
        PSQLState.INVALID_AUTHORIZATION_SPECIFICATION, cause);
  }

  private static final class Cached {
    final String token;
    final long expiresAtMillis;

    Cached(String token, long expiresAtMillis) {
      this.token = token;
      this.expiresAtMillis = expiresAtMillis;
    }
  }
}
