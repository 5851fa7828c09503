package io.sparkpg.engine;

import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import org.postgresql.copy.CopyOperation;

/** Ending a task's COPY and its connection, the same way for reads and writes. */
public final class CopyConnections {
  private CopyConnections() {}

  /**
   * Cancels {@code copy} if it is still running, then closes {@code connection} (either may be
   * null). Closing the connection also ends the backend's COPY, so a failed cancel is not an error;
   * a failed close is, named by {@code where}.
   */
  public static void cancelAndClose(CopyOperation copy, Connection connection, String where)
      throws IOException {
    try {
      if (copy != null && copy.isActive()) {
        copy.cancelCopy();
      }
    } catch (SQLException e) {
      // the connection is closed next, which ends the backend's COPY as well
    } finally {
      try {
        if (connection != null) {
          connection.close();
        }
      } catch (SQLException e) {
        throw new IOException(where + ": closing the connection: " + e.getMessage(), e);
      }
    }
  }
}
