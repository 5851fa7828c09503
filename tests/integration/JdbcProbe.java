import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.Properties;

/**
 * Connects with pgjdbc exactly as Spark's JDBC source does (URL + user/password properties) and
 * prints "user|ssl|read_only|application_name". The password comes from the environment, never argv.
 * Usage: java -cp postgresql.jar JdbcProbe.java URL USER   (env JDBC_PROBE_PASSWORD)
 */
public class JdbcProbe {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", System.getenv("JDBC_PROBE_PASSWORD"));
        try (Connection conn = DriverManager.getConnection(args[0], props);
             ResultSet rs = conn.createStatement().executeQuery(
                 "SELECT current_user, coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false), "
                 + "current_setting('transaction_read_only'), current_setting('application_name')")) {
            rs.next();
            System.out.println(rs.getString(1) + "|" + rs.getBoolean(2) + "|" + rs.getString(3) + "|" + rs.getString(4));
        } catch (java.sql.SQLException e) {
            System.err.println("SQLState " + e.getSQLState() + ": " + e.getMessage());
            System.exit(3);
        }
    }
}
