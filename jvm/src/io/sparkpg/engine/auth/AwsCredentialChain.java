package io.sparkpg.engine.auth;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AWS credentials on whichever JVM signs: the AWS SDK for Java's default chain when the runtime
 * has it (EMR ships SDK v2 and v1, for EMRFS), else the SDK's system properties, else the
 * standard environment variables, else the
 * container credentials endpoint (how EMR Serverless, ECS and EKS Pod Identity hand a role's
 * credentials to a process; docs/auth.md). Values are never logged or put in a message.
 */
final class AwsCredentialChain {
  static final String CONTAINER_HOST = "http://169.254.170.2";
  private static final int TIMEOUT_MILLIS = 5000;
  private static final long REFRESH_BEFORE_MILLIS = 5 * 60 * 1000L;
  private static final Pattern JSON_STRING =
      Pattern.compile("\"(\\w+)\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

  private final Map<String, String> env;
  private AwsKeys containerKeys;

  AwsCredentialChain(Map<String, String> env) {
    this.env = env;
  }

  /** The first credentials found; an IOException lists what was tried (names, never values). */
  synchronized AwsKeys resolve() throws IOException {
    List<String> tried = new ArrayList<>();
    AwsKeys keys = fromSdkV2(tried);
    if (keys == null) {
      keys = fromSdkV1(tried);
    }
    if (keys == null) {
      keys = fromSystemProperties(tried);
    }
    if (keys == null) {
      keys = fromEnvironment(tried);
    }
    if (keys == null) {
      keys = fromContainer(tried);
    }
    if (keys == null) {
      throw new IOException("no AWS credentials to sign an IAM database auth token; tried: "
          + String.join("; ", tried));
    }
    return keys;
  }

  /** The AWS SDK's system properties: aws.accessKeyId, aws.secretAccessKey, aws.sessionToken. */
  private static AwsKeys fromSystemProperties(List<String> tried) {
    String id = System.getProperty("aws.accessKeyId");
    String secret = System.getProperty("aws.secretAccessKey");
    if (isBlank(id) || isBlank(secret)) {
      tried.add("system properties (aws.accessKeyId and aws.secretAccessKey not both set)");
      return null;
    }
    return new AwsKeys(id, secret, System.getProperty("aws.sessionToken"), null,
        "system properties");
  }

  private AwsKeys fromEnvironment(List<String> tried) {
    String id = env.get("AWS_ACCESS_KEY_ID");
    String secret = env.get("AWS_SECRET_ACCESS_KEY");
    if (isBlank(id) || isBlank(secret)) {
      tried.add("environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not both set)");
      return null;
    }
    return new AwsKeys(id, secret, env.get("AWS_SESSION_TOKEN"), null, "environment");
  }

  private AwsKeys fromContainer(List<String> tried) throws IOException {
    String full = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    String relative = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    if (isBlank(full) && isBlank(relative)) {
      tried.add("container endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI and "
          + "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI not set)");
      return null;
    }
    if (containerKeys != null && containerKeys.expiration != null
        && containerKeys.expiration.toEpochMilli() - System.currentTimeMillis()
            > REFRESH_BEFORE_MILLIS) {
      return containerKeys;
    }
    String uri = isBlank(relative) ? full : CONTAINER_HOST + relative;
    HttpURLConnection http = (HttpURLConnection) new URL(checkedContainerUri(uri)).openConnection();
    http.setConnectTimeout(TIMEOUT_MILLIS);
    http.setReadTimeout(TIMEOUT_MILLIS);
    String authorization = authorizationToken();
    if (authorization != null) {
      http.setRequestProperty("Authorization", authorization);
    }
    String what = "the container credentials endpoint " + uri;
    try {
      int status = http.getResponseCode();
      if (status != 200) {
        throw new IOException(what + " answered HTTP " + status);
      }
      String body = readAll(http.getInputStream());
      Map<String, String> fields = new java.util.HashMap<>();
      Matcher m = JSON_STRING.matcher(body);
      while (m.find()) {
        fields.put(m.group(1), m.group(2).replace("\\/", "/"));
      }
      if (isBlank(fields.get("AccessKeyId")) || isBlank(fields.get("SecretAccessKey"))) {
        throw new IOException(what + " sent no AccessKeyId/SecretAccessKey");
      }
      containerKeys = new AwsKeys(fields.get("AccessKeyId"), fields.get("SecretAccessKey"),
          fields.get("Token"), expiration(fields.get("Expiration")), "container endpoint");
      return containerKeys;
    } finally {
      http.disconnect();
    }
  }

  /** The Authorization header: the file's content, else the variable (SDK precedence). */
  private String authorizationToken() throws IOException {
    String file = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (!isBlank(file)) {
      return new String(Files.readAllBytes(Paths.get(file)), StandardCharsets.UTF_8).trim();
    }
    String token = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    return isBlank(token) ? null : token;
  }

  /** Plain HTTP only to loopback or the ECS/EKS link-local hosts, as the AWS SDKs allow. */
  static String checkedContainerUri(String uri) throws IOException {
    URI parsed = URI.create(uri);
    String host = parsed.getHost() == null ? "" : parsed.getHost();
    boolean allowed = "https".equals(parsed.getScheme()) || ("http".equals(parsed.getScheme())
        && (host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]")
            || host.equals("169.254.170.2") || host.equals("169.254.170.23")
            || host.equals("[fd00:ec2::23]")));
    if (!allowed) {
      throw new IOException("refusing the container credentials endpoint " + uri
          + ": plain http is allowed only to a loopback address, 169.254.170.2, "
          + "169.254.170.23 or [fd00:ec2::23]");
    }
    return uri;
  }

  /** SDK v2: DefaultCredentialsProvider.create().resolveCredentials(), by reflection. */
  private static AwsKeys fromSdkV2(List<String> tried) throws IOException {
    return fromSdk(tried, "AWS SDK for Java v2",
        "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider", "create",
        "resolveCredentials", "accessKeyId", "secretAccessKey", "sessionToken");
  }

  /** SDK v1: DefaultAWSCredentialsProviderChain.getInstance().getCredentials(). */
  private static AwsKeys fromSdkV1(List<String> tried) throws IOException {
    return fromSdk(tried, "AWS SDK for Java v1",
        "com.amazonaws.auth.DefaultAWSCredentialsProviderChain", "getInstance", "getCredentials", "getAWSAccessKeyId", "getAWSSecretKey", "getSessionToken");
  }

  /**
   * {@code chainClass.factory().resolve()} by reflection (the SDK is not a compile-time
   * dependency), read with the three getters; null (noted in {@code tried}) without the SDK.
   */
  private static AwsKeys fromSdk(List<String> tried, String sdk, String chainClass,
      String factory, String resolve, String id, String secret, String token)
      throws IOException {
    Class<?> chain = sdkClass(chainClass);
    if (chain == null) {
      tried.add(sdk + " (not on the class path)");
      return null;
    }
    try {
      Object provider = chain.getMethod(factory).invoke(null);
      Object found = provider.getClass().getMethod(resolve).invoke(provider);
      return new AwsKeys(call(found, id), call(found, secret),
          hasMethod(found, token) ? call(found, token) : null, null, sdk);
    } catch (ReflectiveOperationException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IOException("the " + sdk + " default credential chain found no credentials: "
          + cause.getClass().getSimpleName() + ": " + cause.getMessage(), e);
    }
  }

  private static Class<?> sdkClass(String name) {
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    try {
      return Class.forName(name, true,
          loader != null ? loader : AwsCredentialChain.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      return null;
    }
  }

  private static boolean hasMethod(Object target, String name) {
    for (Method method : target.getClass().getMethods()) {
      if (method.getName().equals(name) && method.getParameterCount() == 0) {
        return true;
      }
    }
    return false;
  }

  private static String call(Object target, String method) throws ReflectiveOperationException {
    Object value = target.getClass().getMethod(method).invoke(target);
    return value == null ? null : value.toString();
  }

  private static Instant expiration(String text) {
    try {
      return text == null ? null : Instant.parse(text);
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  private static String readAll(InputStream in) throws IOException {
    try (InputStream stream = in) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buffer = new byte[4096];
      for (int n; (n = stream.read(buffer)) > 0; ) {
        out.write(buffer, 0, n);
      }
      return new String(out.toByteArray(), StandardCharsets.UTF_8);
    }
  }

  private static boolean isBlank(String text) {
    return text == null || text.trim().isEmpty();
  }
}
