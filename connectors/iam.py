"""IAM database authentication (``auth_method: "iam"``): what a connection's token is signed for,
and the token itself.

An RDS/Aurora IAM auth token is an AWS Signature V4 presigned request for ``rds-db:connect`` on
``host:port`` as ``DBUser``, valid 15 minutes and checked only at login (docs/auth.md). The JVM
signs its own tokens, per connection, in the engine JAR's authentication plugin
(:data:`PLUGIN_CLASS`); this module gives pgjdbc the plugin's properties and signs in Python
where Python needs a token (the doctor). :func:`generate_auth_token` is byte-identical to
botocore's ``rds`` client ``generate_db_auth_token`` (tested with a frozen clock).

Pure except :func:`default_aws_keys` (boto3's default credential chain); no token or key is
ever logged or shown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Optional
from urllib.parse import quote

from connectors.errors import CredentialsError
from connectors.hosts import region_of_host

if TYPE_CHECKING:
    from connectors.endpoints import Endpoint
    from connectors.settings import ConnectionSettings

PLUGIN_CLASS = "io.sparkpg.engine.auth.IamAuthPlugin"
"""The pgjdbc ``authenticationPluginClassName`` of IAM connections (in the engine JAR)."""

PLUGIN_PROPERTIES = ("sparkpgIamHost", "sparkpgIamPort", "sparkpgIamRegion")
"""The plugin's own pgjdbc properties: what the token is signed for (never a credential)."""

TOKEN_LIFETIME_SECONDS = 900
SERVICE = "rds-db"
_ALGORITHM = "AWS4-HMAC-SHA256"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class AwsKeys:
    """AWS credentials for signing; the secret key and session token never show in a repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class IamSigning:
    """What a connection's tokens are signed for: endpoint, region and database user."""

    host: str
    port: int
    region: str
    user: str

    def describe(self) -> str:
        """``rds-db:connect as 'app' on host:5432 (us-east-1)``, for messages and settings check."""
        return f"rds-db:connect as {self.user!r} on {self.host}:{self.port} ({self.region})"

    def plugin_properties(self) -> Dict[str, str]:
        """The pgjdbc properties that make the engine JAR's plugin sign for this (no secrets)."""
        return dict(
            zip(PLUGIN_PROPERTIES, (self.host, str(self.port), self.region)),
            authenticationPluginClassName=PLUGIN_CLASS,
        )


def iam_signing(connection: ConnectionSettings, endpoint: Endpoint) -> IamSigning:
    """What ``connection``'s tokens are signed for: ``iam_host``/``iam_port`` (default: the host
    and port dialled) and ``iam_region`` (default: the region in the endpoint's name)."""
    host = connection.iam_host or endpoint.host
    region = connection.iam_region or region_of_host(host)
    # The settings' validation requires a username and a known region for auth_method iam.
    assert region is not None and connection.username is not None
    return IamSigning(host, connection.iam_port or endpoint.port, region, connection.username)


def generate_auth_token(
    signing: IamSigning, keys: AwsKeys, *, now: Optional[dt.datetime] = None
) -> str:
    """The IAM auth token (``host:port/?Action=connect&DBUser=...&X-Amz-Signature=...``) for
    ``signing`` with ``keys`` at ``now`` (UTC; default: the current time). THE TOKEN IS A
    PASSWORD for 15 minutes: never log it."""
    when = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    scope = f"{when[:8]}/{signing.region}/{SERVICE}/aws4_request"
    params = [
        ("Action", "connect"),
        ("DBUser", signing.user),
        ("X-Amz-Algorithm", _ALGORITHM),
        ("X-Amz-Credential", f"{keys.access_key_id}/{scope}"),
        ("X-Amz-Date", when),
        ("X-Amz-Expires", str(TOKEN_LIFETIME_SECONDS)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    if keys.session_token:
        params.append(("X-Amz-Security-Token", keys.session_token))
    encoded = [(_encode(k), _encode(v)) for k, v in params]
    query = "&".join(f"{k}={v}" for k, v in encoded)
    canonical_query = "&".join(f"{k}={v}" for k, v in sorted(encoded))
    host = f"{signing.host}:{signing.port}"
    canonical = f"GET\n/\n{canonical_query}\nhost:{host}\n\nhost\n{_EMPTY_SHA256}"
    to_sign = "\n".join(
        (_ALGORITHM, when, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest())
    )
    key = ("AWS4" + keys.secret_access_key).encode("utf-8")
    for part in (when[:8], signing.region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{host}/?{query}&X-Amz-Signature={signature}"


def default_aws_keys() -> AwsKeys:
    """The credentials of boto3's default chain (environment, profile, container, instance)."""
    import boto3

    found = boto3.Session().get_credentials()
    frozen = found.get_frozen_credentials() if found is not None else None
    if frozen is None or not frozen.access_key or not frozen.secret_key:
        raise CredentialsError(
            "no AWS credentials to sign an IAM database auth token: configure the default "
            "credential chain (AWS_PROFILE, environment variables, or the EMR execution role)"
        )
    return AwsKeys(frozen.access_key, frozen.secret_key, frozen.token)


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def iam_login_advice(connection: ConnectionSettings, endpoint: Endpoint) -> str:
    """What to check when the server refuses an IAM login of ``connection`` (SQLSTATE 28000:
    RDS says "PAM authentication failed"), naming what the token was signed for."""
    signed = iam_signing(connection, endpoint).describe()
    return (
        f" The IAM auth token was signed for {signed}. Likely causes: the endpoint or port is "
        "not the one the cluster answers to (a token signed for an IP address, a tunnel or "
        "localhost is refused: set iam_host/iam_port to the RDS endpoint name and port); the "
        "region (iam_region) is not the cluster's; the job's role lacks rds-db:connect on "
        "arn:aws:rds-db:<region>:<account>:dbuser:<cluster-resource-id>/<user>; the user is not "
        "in the rds_iam role (GRANT rds_iam TO <user>); IAM database authentication is not "
        "enabled on the cluster; the AWS credentials expired (docs/auth.md#troubleshooting)"
    )
