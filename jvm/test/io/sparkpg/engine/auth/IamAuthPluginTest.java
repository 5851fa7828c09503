package io.sparkpg.engine.auth;

import static io.sparkpg.engine.testing.Check.assertContains;
import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertThrows;

import java.util.Properties;
import org.postgresql.plugin.AuthenticationRequestType;
import org.postgresql.util.PSQLException;

/** The plugin's checks before it signs: its properties and TLS. */
public final class IamAuthPluginTest {
  private static Properties properties(String sslmode) {
    Properties p = new Properties();
    p.setProperty("user", "app");
    p.setProperty("sparkpgIamHost", "db.cluster-abc.us-east-1.rds.amazonaws.com");
    p.setProperty("sparkpgIamPort", "5432");
    p.setProperty("sparkpgIamRegion", "us-east-1");
    p.setProperty("sslmode", sslmode);
    return p;
  }

  public void testWeakSslModesAreRefusedBeforeSigning() {
    for (String mode : new String[] {"disable", "allow", "prefer"}) {
      PSQLException e = assertThrows(PSQLException.class,
          () -> new IamAuthPlugin(properties(mode)).getPassword(
              AuthenticationRequestType.CLEARTEXT_PASSWORD));
      assertContains(e.getMessage(), "sslmode=" + mode, "require or verify-full");
      assertEquals("28000", e.getSQLState());
    }
  }

  public void testMissingPropertyIsNamed() {
    Properties p = properties("require");
    p.remove("sparkpgIamRegion");
    PSQLException e = assertThrows(PSQLException.class, () -> new IamAuthPlugin(p));
    assertContains(e.getMessage(), "sparkpgIamRegion is missing");
  }
}
