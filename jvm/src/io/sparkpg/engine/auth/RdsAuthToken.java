package io.sparkpg.engine.auth;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The RDS/Aurora IAM auth token: an AWS Signature V4 presigned {@code GET} for
 * {@code rds-db:connect} on {@code host:port} as {@code DBUser}, valid 900 s, without the scheme.
 * Byte-identical to botocore's {@code generate_db_auth_token} and to sparkpg's Python
 * {@code connectors.iam.generate_auth_token} (a test checks vectors made with botocore).
 */
public final class RdsAuthToken {
  static final int LIFETIME_SECONDS = 900;
  private static final String ALGORITHM = "AWS4-HMAC-SHA256";
  private static final String SERVICE = "rds-db";
  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

  private RdsAuthToken() {}

  /** The token for {@code user} on {@code host:port} in {@code region}, signed at {@code now}. */
  public static String generate(String host, int port, String region, String user, AwsKeys keys,
      Instant now) {
    String when = STAMP.format(now);
    String scope = when.substring(0, 8) + "/" + region + "/" + SERVICE + "/aws4_request";
    List<String[]> params = new ArrayList<>();
    params.add(new String[] {"Action", "connect"});
    params.add(new String[] {"DBUser", user});
    params.add(new String[] {"X-Amz-Algorithm", ALGORITHM});
    params.add(new String[] {"X-Amz-Credential", keys.accessKeyId + "/" + scope});
    params.add(new String[] {"X-Amz-Date", when});
    params.add(new String[] {"X-Amz-Expires", Integer.toString(LIFETIME_SECONDS)});
    params.add(new String[] {"X-Amz-SignedHeaders", "host"});
    if (keys.sessionToken != null) {
      params.add(new String[] {"X-Amz-Security-Token", keys.sessionToken});
    }
    StringBuilder query = new StringBuilder();
    Map<String, String> sorted = new TreeMap<>();
    for (String[] p : params) {
      String key = encode(p[0]);
      String value = encode(p[1]);
      query.append(query.length() == 0 ? "" : "&").append(key).append('=').append(value);
      sorted.put(key, value);
    }
    StringBuilder canonicalQuery = new StringBuilder();
    for (Map.Entry<String, String> e : sorted.entrySet()) {
      canonicalQuery.append(canonicalQuery.length() == 0 ? "" : "&")
          .append(e.getKey()).append('=').append(e.getValue());
    }
    String hostPort = host + ":" + port;
    String canonical = "GET\n/\n" + canonicalQuery + "\nhost:" + hostPort + "\n\nhost\n"
        + hex(sha256(new byte[0]));
    String toSign = ALGORITHM + "\n" + when + "\n" + scope + "\n"
        + hex(sha256(canonical.getBytes(StandardCharsets.UTF_8)));
    byte[] key = ("AWS4" + keys.secretAccessKey).getBytes(StandardCharsets.UTF_8);
    for (String part : new String[] {when.substring(0, 8), region, SERVICE, "aws4_request"}) {
      key = hmac(key, part);
    }
    return hostPort + "/?" + query + "&X-Amz-Signature=" + hex(hmac(key, toSign));
  }

  /** RFC 3986 percent-encoding of everything but {@code A-Z a-z 0-9 - _ . ~} (UTF-8). */
  static String encode(String text) {
    StringBuilder out = new StringBuilder();
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xFF;
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_' || c == '.' || c == '~') {
        out.append((char) c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xF, 16)));
      }
    }
    return out.toString();
  }

  private static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
    }
  }

  private static String hex(byte[] bytes) {
    StringBuilder out = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) {
      out.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
    }
    return out.toString();
  }
}
