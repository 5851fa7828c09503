"""The one place that makes boto3 clients, and the one place that translates botocore errors.

Clients: default credential chain, standard retries, timeouts. Endpoint overrides come from the
standard ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` variables that botocore reads
itself, so moto needs no special code path.

Errors: :func:`aws_error` turns a botocore ``ClientError`` / ``BotoCoreError`` into one of our
:class:`~connectors.errors.AwsRequestError` types naming the action, AWS's error code and the fix.
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING, Any, Mapping, Optional, Type

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from botocore.parsers import ResponseParserError

from connectors.errors import AwsRegionError, AwsRequestError

if TYPE_CHECKING:
    from mypy_boto3_emr_serverless import EMRServerlessClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

#: The usual fix per AWS error code; a caller's ``fixes`` take precedence.
COMMON_FIXES: Mapping[str, str] = {
    "NoSuchKey": "the object does not exist",
    "NoSuchBucket": "the bucket does not exist (or is in another account)",
    "404": "the object does not exist",
    "AccessDenied": "the caller may not read or write that S3 object",
    "ExpiredToken": "the AWS session expired: refresh the credentials (aws sso login, ...)",
    "NoCredentialsError": "configure the default credential chain (AWS_PROFILE, environment "
    "variables, or the EMR execution role)",
    "EndpointConnectionError": "the AWS endpoint is unreachable: from private subnets add the "
    "service's interface VPC endpoint or a NAT route (docs/troubleshooting.md)",
    "ConnectTimeoutError": "the AWS endpoint is unreachable: from private subnets add the "
    "service's interface VPC endpoint or a NAT route (docs/troubleshooting.md)",
    "ReadTimeoutError": "the AWS endpoint accepted the connection but did not answer: from "
    "private subnets check the service's interface VPC endpoint (its security group and private "
    "DNS) or the NAT route (docs/troubleshooting.md)",
}

_ARN_REGION = re.compile(r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:([a-z0-9-]+):")

CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 3
#: Every client's configuration. An endpoint that accepts connections but never answers fails
#: after at most MAX_ATTEMPTS * READ_TIMEOUT_SECONDS plus the standard mode's backoff (under a
#: second, then under two): about 18 s. AWS answers these APIs in milliseconds; throttling and
#: 5xx answers are retried the same way.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    user_agent_extra="sparkpg",
)

NO_REGION_FIX = (
    "set AWS_REGION (or AWS_DEFAULT_REGION), pass --region, or use an AWS profile that has a region"
)


def region_from_arn(arn: Optional[str]) -> Optional[str]:
    """The region part of an ARN, or None when ``arn`` is not an ARN (a secret name, say).

    >>> region_from_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:spark/postgres/x")
    'eu-west-1'
    """
    match = _ARN_REGION.match(arn or "")
    return match.group(1) or None if match else None


@functools.cache
def aws_client(service: str, region: Optional[str] = None, profile: Optional[str] = None) -> Any:
    """A cached boto3 client for ``service``; region/profile default to boto3's own resolution.

    Raises :class:`~connectors.errors.AwsRegionError` (not botocore's ``NoRegionError``) when no
    region is given and none is configured.
    """
    try:
        return _session(region, profile).client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]
    except NoRegionError:
        # boto3 reads AWS_DEFAULT_REGION (and the profile); AWS_REGION, what the other AWS SDKs
        # and our docs use, is the fallback when it found none.
        fallback = os.environ.get("AWS_REGION")
        if fallback and not region:
            return _session(fallback, profile).client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]
        raise AwsRegionError(
            f"no AWS region for {service}: {NO_REGION_FIX}",
            action=f"{service} client",
            code="NoRegionError",
            fix=NO_REGION_FIX,
        ) from None


@functools.lru_cache(maxsize=8)
def _session(region: Optional[str], profile: Optional[str]) -> boto3.Session:
    # One session per (region, profile): its loader parses botocore's endpoint and service JSON
    # once (about 0.4 s per client otherwise). Cleared with the client cache.
    return boto3.Session(profile_name=profile, region_name=region)


def _clear_cache() -> None:
    _session.cache_clear()
    _clear_clients()


_clear_clients = aws_client.cache_clear
aws_client.cache_clear = _clear_cache  # type: ignore[method-assign]


def secretsmanager_client(
    region: Optional[str] = None, profile: Optional[str] = None
) -> SecretsManagerClient:
    """A Secrets Manager client (see :func:`aws_client`)."""
    return aws_client("secretsmanager", region, profile)


def s3_client(region: Optional[str] = None, profile: Optional[str] = None) -> S3Client:
    """An S3 client (see :func:`aws_client`)."""
    return aws_client("s3", region, profile)


def emr_serverless_client(
    region: Optional[str] = None, profile: Optional[str] = None
) -> EMRServerlessClient:
    """An EMR Serverless client (see :func:`aws_client`)."""
    return aws_client("emr-serverless", region, profile)


def logs_client(
    region: Optional[str] = None, profile: Optional[str] = None
) -> CloudWatchLogsClient:
    """A CloudWatch Logs client (see :func:`aws_client`)."""
    return aws_client("logs", region, profile)


def error_code(exc: BaseException) -> str:
    """AWS's error code of a ``ClientError`` (its HTTP status when it has none), else the
    exception's class name (``EndpointConnectionError``, ``NoCredentialsError``, ...)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return str(code or status or "Unknown")
    return type(exc).__name__


def aws_error(
    action: str,
    exc: BaseException,
    *,
    fixes: Optional[Mapping[str, str]] = None,
    kinds: Optional[Mapping[str, Type[AwsRequestError]]] = None,
    default: Type[AwsRequestError] = AwsRequestError,
    message: Optional[str] = None,
) -> AwsRequestError:
    """Our error for a failed AWS call: ``"<action>: <code>: <AWS message> (<fix>)"``.

    ``fixes`` maps error codes to the fix for this call (over :data:`COMMON_FIXES`); ``kinds`` maps
    error codes to a more specific error class than ``default``. ``message`` replaces the text
    (action, code and fix stay on the error's attributes).

    >>> from botocore.exceptions import ClientError
    >>> err = aws_error("s3:GetObject s3://b/k", ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject"))
    >>> str(err), err.code
    ('s3:GetObject s3://b/k: NoSuchKey (the object does not exist)', 'NoSuchKey')
    """
    code = error_code(exc)
    if isinstance(exc, ClientError):
        detail = str(exc.response.get("Error", {}).get("Message", "")).strip()
    elif isinstance(exc, ResponseParserError):
        # An endpoint that does not implement the API (moto answers an HTML 500 page).
        code, detail = "NotImplemented", "the endpoint answered with an unparseable error page"
    else:
        detail = str(exc)
    fix = {**COMMON_FIXES, **(fixes or {})}.get(code, "")
    text = message or f"{action}: {code}{': ' + detail if detail else ''}" + (
        f" ({fix})" if fix else ""
    )
    kind = (kinds or {}).get(code, default)
    return kind(text, action=action, code=code, fix=fix)


#: What :func:`aws_error` translates: catch these around an AWS call.
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``; raises ValueError naming the bad URI."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r} (expected s3://bucket/key)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ValueError(f"S3 URI {uri!r} needs both a bucket and a key: s3://bucket/key")
    return bucket, key
