package io.sparkpg.engine.auth;

import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverPropertyInfo;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.Properties;
import java.util.logging.Logger;

/**
 * The {@code driver} of Spark's JDBC source for an IAM connection: pgjdbc's driver, with every
 * login through {@link IamAuthPlugin#connectRetrying}, so a cached token the server refuses is
 * dropped and the login tried once more with a fresh one, as the COPY engine's connections do.
 * Spark's JDBC source instantiates it by class name and calls {@link #connect} per partition.
 */
public final class IamRetryingDriver implements Driver {
  private final Driver pgjdbc = new org.postgresql.Driver();

  /** Called by Spark (by class name, without arguments). */
  public IamRetryingDriver() {}

  @Override
  public Connection connect(String url, Properties info) throws SQLException {
    if (!acceptsURL(url)) {
      return null; // not ours: DriverManager asks the next driver
    }
    return IamAuthPlugin.connectRetrying(url, info == null ? new Properties() : info);
  }

  @Override
  public boolean acceptsURL(String url) throws SQLException {
    return pgjdbc.acceptsURL(url);
  }

  @Override
  public DriverPropertyInfo[] getPropertyInfo(String url, Properties info) throws SQLException {
    return pgjdbc.getPropertyInfo(url, info);
  }

  @Override
  public int getMajorVersion() {
    return pgjdbc.getMajorVersion();
  }

  @Override
  public int getMinorVersion() {
    return pgjdbc.getMinorVersion();
  }

  @Override
  public boolean jdbcCompliant() {
    return pgjdbc.jdbcCompliant();
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    return pgjdbc.getParentLogger();
  }
}
