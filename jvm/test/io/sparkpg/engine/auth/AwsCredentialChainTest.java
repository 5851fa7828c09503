package io.sparkpg.engine.auth;

import static io.sparkpg.engine.testing.Check.assertContains;
import static io.sparkpg.engine.testing.Check.assertEquals;
import static io.sparkpg.engine.testing.Check.assertThrows;
import static io.sparkpg.engine.testing.Check.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Credentials from the environment and from a container credentials endpoint (a local one). */
public final class AwsCredentialChainTest {
  private static final String BODY = "{\"AccessKeyId\":\"ASIAFROMCONTAINER\","
      + "\"SecretAccessKey\":\"c0nta1ner\\/secret\",\"Token\":\"session-token\","
      + "\"Expiration\":\"2099-01-01T00:00:00Z\"}";

  private static Map<String, String> env(String... keysAndValues) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      out.put(keysAndValues[i], keysAndValues[i + 1]);
    }
    return out;
  }

  public void testEnvironmentVariables() throws IOException {
    AwsKeys keys = new AwsCredentialChain(env("AWS_ACCESS_KEY_ID", "AKID",
        "AWS_SECRET_ACCESS_KEY", "secret", "AWS_SESSION_TOKEN", "session")).resolve();
    assertEquals("AKID", keys.accessKeyId);
    assertEquals("secret", keys.secretAccessKey);
    assertEquals("session", keys.sessionToken);
    assertEquals("environment", keys.source);
  }

  public void testNothingConfiguredNamesWhatWasTriedWithoutValues() {
    IOException e = assertThrows(IOException.class,
        () -> new AwsCredentialChain(env("AWS_ACCESS_KEY_ID", "AKIDONLY")).resolve());
    assertContains(e.getMessage(), "no AWS credentials", "AWS_SECRET_ACCESS_KEY",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    assertTrue(!e.getMessage().contains("AKIDONLY"), "the key id is not in the message");
  }

  public void testContainerEndpointWithAuthorizationTokenFile() throws Exception {
    List<String> authorizations = new ArrayList<>();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/creds", exchange -> {
      authorizations.add(exchange.getRequestHeaders().getFirst("Authorization"));
      byte[] body = BODY.getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    server.start();
    Path tokenFile = Files.createTempFile("sparkpg-token", ".txt");
    try {
      Files.write(tokenFile, "from-file\n".getBytes(StandardCharsets.UTF_8));
      String uri = "http://127.0.0.1:" + server.getAddress().getPort() + "/creds";
      AwsCredentialChain chain = new AwsCredentialChain(env(
          "AWS_CONTAINER_CREDENTIALS_FULL_URI", uri,
          "AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-variable",
          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile.toString()));
      AwsKeys keys = chain.resolve();
      assertEquals("ASIAFROMCONTAINER", keys.accessKeyId);
      assertEquals("c0nta1ner/secret", keys.secretAccessKey);
      assertEquals("session-token", keys.sessionToken);
      assertEquals("2099-01-01T00:00:00Z", keys.expiration.toString());
      chain.resolve(); // cached until five minutes before the expiration
      assertEquals(1, authorizations.size());
      assertEquals("from-file", authorizations.get(0));
    } finally {
      server.stop(0);
      Files.delete(tokenFile);
    }
  }

  public void testPlainHttpOnlyToLoopbackOrTheContainerHosts() throws IOException {
    assertEquals("http://169.254.170.2/v2/x",
        AwsCredentialChain.checkedContainerUri("http://169.254.170.2/v2/x"));
    IOException e = assertThrows(IOException.class,
        () -> AwsCredentialChain.checkedContainerUri("http://example.com/creds"));
    assertContains(e.getMessage(), "plain http is allowed only to");
  }
}
