package io.sparkpg.engine.auth;

import java.time.Instant;

/** AWS credentials for signing. {@link #toString} shows the access key id only. */
public final class AwsKeys {
  final String accessKeyId;
  final String secretAccessKey;
  final String sessionToken;
  /** When temporary credentials stop working; null for long-term keys. */
  final Instant expiration;
  /** Where they came from (for messages): {@code environment}, {@code AWS SDK v2}, ... */
  final String source;

  public AwsKeys(String accessKeyId, String secretAccessKey, String sessionToken,
      Instant expiration, String source) {
    this.accessKeyId = accessKeyId;
    this.secretAccessKey = secretAccessKey;
    this.sessionToken = sessionToken == null || sessionToken.isEmpty() ? null : sessionToken;
    this.expiration = expiration;
    this.source = source;
  }

  @Override
  public String toString() {
    return "AwsKeys(" + accessKeyId + " from " + source + ")";
  }
}
