"""The one client factory: bounded timeouts and retries, and a clear error when no region is set."""

from __future__ import annotations

from typing import Iterator, List

import pytest

from connectors.aws import (
    CLIENT_CONFIG,
    CONNECT_TIMEOUT_SECONDS,
    MAX_ATTEMPTS,
    READ_TIMEOUT_SECONDS,
    aws_client,
)
from connectors.errors import AwsRegionError, AwsRequestError, SettingsError
from entrypoints.cli import main
from entrypoints.errors import EXIT_SETTINGS


@pytest.fixture()
def no_region(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    aws_client.cache_clear()
    yield
    aws_client.cache_clear()


def test_every_client_has_bounded_timeouts_and_attempts() -> None:
    client = aws_client("secretsmanager", "eu-west-1")
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (
        CONNECT_TIMEOUT_SECONDS,
        READ_TIMEOUT_SECONDS,
    )
    assert config.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
    assert CLIENT_CONFIG.retries == config.retries
    # The worst case of a silent endpoint: every attempt waits a full read timeout.
    assert MAX_ATTEMPTS * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS) <= 24


def test_no_region_is_our_error_not_botocore_s(no_region: None) -> None:
    with pytest.raises(AwsRegionError) as info:
        aws_client("emr-serverless")
    assert str(info.value) == (
        "no AWS region for emr-serverless: set AWS_REGION (or AWS_DEFAULT_REGION), pass --region, "
        "or use an AWS profile that has a region"
    )
    assert isinstance(info.value, SettingsError) and isinstance(info.value, AwsRequestError)
    assert info.value.code == "NoRegionError"
    assert aws_client("emr-serverless", "eu-west-1").meta.region_name == "eu-west-1"


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "00run", "--application-id", "00app"],
        ["logs", "00run", "--application-id", "00app"],
        ["cancel", "00run", "--application-id", "00app"],
    ],
)
def test_run_commands_without_a_region_exit_3_with_one_line(
    no_region: None, argv: List[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_SETTINGS
    err = capsys.readouterr().err
    assert err == (
        "sparkpg: error: no AWS region for emr-serverless: set AWS_REGION (or AWS_DEFAULT_REGION), "
        "pass --region, or use an AWS profile that has a region\n"
    )


def test_aws_region_alone_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variable the README and the other AWS SDKs use; boto3 itself reads AWS_DEFAULT_REGION."""
    from connectors.aws import aws_client

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    aws_client.cache_clear()
    try:
        assert aws_client("secretsmanager").meta.region_name == "eu-west-1"
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")  # boto3's own variable still wins
        aws_client.cache_clear()
        assert aws_client("secretsmanager").meta.region_name == "us-west-2"
    finally:
        aws_client.cache_clear()
