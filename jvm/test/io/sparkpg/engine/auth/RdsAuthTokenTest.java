package io.sparkpg.engine.auth;

import static io.sparkpg.engine.testing.Check.assertEquals;

import java.time.Instant;

/**
 * The Java signer against tokens made by botocore's {@code generate_db_auth_token} at a frozen
 * clock ({@code tests/unit/test_iam.py} checks that botocore still makes exactly these).
 */
public final class RdsAuthTokenTest {
  static final String SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  static final Instant AT = Instant.parse("2024-01-02T03:04:05Z");

  // VECTOR|db.cluster-abc.us-east-1.rds.amazonaws.com|5432|eu-west-1|iam user+x@y|tok/en+=
  static final String WITH_SESSION_TOKEN = "db.cluster-abc.us-east-1.rds.amazonaws.com:5432/?"
      + "Action=connect&DBUser=iam%20user%2Bx%40y&X-Amz-Algorithm=AWS4-HMAC-SHA256"
      + "&X-Amz-Credential=AKIDEXAMPLE%2F20240102%2Feu-west-1%2Frds-db%2Faws4_request"
      + "&X-Amz-Date=20240102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
      + "&X-Amz-Security-Token=tok%2Fen%2B%3D"
      + "&X-Amz-Signature=361611ae4012c62dd1ed88eee83a66ec8d83b82e4b498eb1ac0ef1073e514787";

  // VECTOR|10.0.0.7|6543|us-east-1|app_é|
  static final String LONG_TERM_KEYS = "10.0.0.7:6543/?"
      + "Action=connect&DBUser=app_%C3%A9&X-Amz-Algorithm=AWS4-HMAC-SHA256"
      + "&X-Amz-Credential=AKIDEXAMPLE%2F20240102%2Fus-east-1%2Frds-db%2Faws4_request"
      + "&X-Amz-Date=20240102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
      + "&X-Amz-Signature=b89f3c623998d63fac7835ef6936cf2514c5a2ef244c7b7a1554188f255d3748";

  public void testTokenWithSessionTokenEqualsBotocores() {
    AwsKeys keys = new AwsKeys("AKIDEXAMPLE", SECRET, "tok/en+=", null, "test");
    assertEquals(WITH_SESSION_TOKEN, RdsAuthToken.generate(
        "db.cluster-abc.us-east-1.rds.amazonaws.com", 5432, "eu-west-1", "iam user+x@y", keys, AT));
  }

  public void testTokenWithLongTermKeysEqualsBotocores() {
    AwsKeys keys = new AwsKeys("AKIDEXAMPLE", SECRET, "", null, "test");
    assertEquals(LONG_TERM_KEYS,
        RdsAuthToken.generate("10.0.0.7", 6543, "us-east-1", "app_\u00e9", keys, AT));
  }

  public void testKeysToStringHidesTheSecretAndSessionToken() {
    String shown = new AwsKeys("AKIDEXAMPLE", SECRET, "tok/en+=", null, "environment").toString();
    assertEquals("AwsKeys(AKIDEXAMPLE from environment)", shown);
  }
}
