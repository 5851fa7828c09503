"""The one place that makes boto3 clients: default credential chain, standard retries, timeouts.

Endpoint overrides come from the standard ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``
variables that botocore reads itself, so moto needs no special code path.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, Optional

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_emr_serverless import EMRServerlessClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sts import STSClient

_ARN_REGION = re.compile(r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:([a-z0-9-]+):")

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="sparkpg",
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
    """A cached boto3 client for ``service``; region/profile default to boto3's own resolution."""
    return _session(region, profile).client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


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


def ec2_client(region: Optional[str] = None, profile: Optional[str] = None) -> EC2Client:
    """An EC2 client (VPCs, subnets, security groups, VPC endpoints; see :func:`aws_client`)."""
    return aws_client("ec2", region, profile)


def iam_client(region: Optional[str] = None, profile: Optional[str] = None) -> IAMClient:
    """An IAM client (see :func:`aws_client`)."""
    return aws_client("iam", region, profile)


def rds_client(region: Optional[str] = None, profile: Optional[str] = None) -> RDSClient:
    """An RDS client (clusters and instances; see :func:`aws_client`)."""
    return aws_client("rds", region, profile)


def sts_client(region: Optional[str] = None, profile: Optional[str] = None) -> STSClient:
    """An STS client (see :func:`aws_client`)."""
    return aws_client("sts", region, profile)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``; raises ValueError naming the bad URI."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r} (expected s3://bucket/key)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ValueError(f"S3 URI {uri!r} needs both a bucket and a key: s3://bucket/key")
    return bucket, key
