"""Credentials from Secrets Manager (moto), files and the environment; errors never show the secret."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import boto3
import pytest
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication

from connectors.aws import MAX_ATTEMPTS, READ_TIMEOUT_SECONDS, aws_client, secretsmanager_client
from connectors.errors import (
    AwsEndpointUnreachableError,
    AwsRegionError,
    CredentialsError,
    SecretAccessDeniedError,
    SecretNotFoundError,
)
from connectors.jdbc import resolve_endpoint
from connectors.secrets import clear_credentials_cache, resolve_credentials
from connectors.settings import ConnectionSettings
from devtools.faults import silent_listener
from entrypoints.errors import EXIT_SETTINGS, exit_code_for

HOSTILE_PASSWORD = "p@ss'w\"o/r?d&x=1;é🔑 \\"


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    aws_client.cache_clear()
    clear_credentials_cache()
    yield
    aws_client.cache_clear()
    clear_credentials_cache()


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def connection(**fields: Any) -> ConnectionSettings:
    fields.setdefault("host", "db.example.com")
    return ConnectionSettings(name="aurora", **fields)


def create_secret(secrets: Any, name: str, value: Dict[str, Any]) -> str:
    return str(secrets.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])


def test_seed_format_by_arn_and_by_name(secrets: Any) -> None:
    arn = create_secret(
        secrets, "spark/postgres/aurora", {"username": "spark", "password": HOSTILE_PASSWORD}
    )
    for secret_id in (arn, "spark/postgres/aurora"):
        clear_credentials_cache()
        credentials = resolve_credentials(connection(secret_arn=secret_id))
        assert credentials.username == "spark"
        assert credentials.password.get_secret_value() == HOSTILE_PASSWORD
        assert credentials.host is None
        assert credentials.source == f"secret {secret_id}"


def test_rds_format_fills_the_endpoint_and_settings_override_it(secrets: Any) -> None:
    arn = create_secret(
        secrets,
        "rds!cluster-1234",
        {
            "username": "admin",
            "password": "pw",
            "engine": "postgres",
            "host": "db.cluster-abc.us-east-1.rds.amazonaws.com",
            "port": "5433",
            "dbname": "sales",
        },
    )
    credentials = resolve_credentials(ConnectionSettings(name="aurora", secret_arn=arn))
    assert (credentials.engine, credentials.port) == ("postgres", 5433)
    filled = resolve_endpoint(ConnectionSettings(name="aurora", secret_arn=arn), credentials)
    assert (filled.host, filled.port, filled.database) == (
        "db.cluster-abc.us-east-1.rds.amazonaws.com",
        5433,
        "sales",
    )
    overridden = resolve_endpoint(
        ConnectionSettings(
            name="aurora",
            secret_arn=arn,
            host="db.cluster-ro-abc.us-east-1.rds.amazonaws.com",
            database="reporting",
        ),
        credentials,
    )
    assert (overridden.host, overridden.port, overridden.database) == (
        "db.cluster-ro-abc.us-east-1.rds.amazonaws.com",
        5433,
        "reporting",
    )


def count_calls(operation: str) -> List[str]:
    calls: List[str] = []
    secretsmanager_client("us-east-1").meta.events.register(
        f"before-call.secrets-manager.{operation}", lambda **_: calls.append(operation)
    )
    return calls


def test_one_call_per_secret_per_process_and_refresh_rereads(secrets: Any) -> None:
    arn = create_secret(secrets, "spark/postgres/a", {"username": "u", "password": "old"})
    calls = count_calls("GetSecretValue")
    first = resolve_credentials(connection(secret_arn=arn))
    again = resolve_credentials(
        connection(secret_arn=arn, port=6543)
    )  # same secret, other settings
    assert again is first
    assert calls == ["GetSecretValue"]
    secrets.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"username": "u", "password": "new"})
    )
    assert resolve_credentials(connection(secret_arn=arn)).password.get_secret_value() == "old"
    rotated = resolve_credentials(connection(secret_arn=arn), refresh=True)
    assert rotated.password.get_secret_value() == "new"
    assert calls == ["GetSecretValue", "GetSecretValue"]


def test_access_denied_names_secret_policy_and_endpoint(
    secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = create_secret(secrets, "spark/postgres/locked", {"username": "u", "password": "p"})
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="no-permissions")
    key = iam.create_access_key(UserName="no-permissions")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    aws_client.cache_clear()
    with enable_iam_authentication(), pytest.raises(SecretAccessDeniedError) as info:
        resolve_credentials(connection(secret_arn=arn))
    message = str(info.value)
    assert arn in message
    assert "EMRSecretsManagerPolicy" in message
    assert "secretsmanager:GetSecretValue" in message
    assert "VPC endpoint" in message


def test_not_found(secrets: Any) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:spark/postgres/missing-AbCdEf"
    with pytest.raises(
        SecretNotFoundError, match=r"secret .*missing-AbCdEf not found in us-east-1"
    ):
        resolve_credentials(connection(secret_arn=arn))


def test_secret_binary(secrets: Any) -> None:
    arn = secrets.create_secret(Name="bin", SecretBinary=b"\x00\x01")["ARN"]
    with pytest.raises(CredentialsError, match=r"holds SecretBinary; sparkpg needs a SecretString"):
        resolve_credentials(connection(secret_arn=arn))


def test_invalid_json_does_not_echo_the_secret(secrets: Any) -> None:
    arn = secrets.create_secret(
        Name="broken", SecretString=f"username=u password={HOSTILE_PASSWORD}"
    )["ARN"]
    with pytest.raises(CredentialsError) as info:
        resolve_credentials(connection(secret_arn=arn))
    assert "is not valid JSON (line 1, column 1)" in str(info.value)
    assert HOSTILE_PASSWORD not in str(info.value)
    assert "password=" not in repr(info.value)


def test_missing_keys_lists_key_names_only(secrets: Any) -> None:
    arn = create_secret(secrets, "nouser", {"user_name": "u", "password": HOSTILE_PASSWORD})
    with pytest.raises(CredentialsError) as info:
        resolve_credentials(connection(secret_arn=arn))
    assert "missing key(s) username; keys present: password, user_name" in str(info.value)
    assert HOSTILE_PASSWORD not in str(info.value)


def test_unreachable_endpoint_points_at_the_vpc_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:spark/postgres/x-AbCdEf"
    with pytest.raises(AwsEndpointUnreachableError) as info:
        resolve_credentials(connection(secret_arn=arn))
    message = str(info.value)
    assert message.startswith(
        "could not connect to Secrets Manager at http://127.0.0.1:9 (eu-west-1, "
        "EndpointConnectionError, after 3 attempts) reading " + arn
    )
    assert "Secrets Manager interface VPC endpoint (com.amazonaws.eu-west-1.secretsmanager)" in (
        message
    )


@pytest.mark.slow
def test_an_endpoint_that_never_answers_fails_within_20_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:spark/postgres/x-AbCdEf"
    with silent_listener() as listener:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", listener.url)
        started = time.monotonic()
        with pytest.raises(AwsEndpointUnreachableError) as info:
            resolve_credentials(connection(secret_arn=arn))
        elapsed = time.monotonic() - started
    # MAX_ATTEMPTS read timeouts plus the standard mode's backoff: about 18 s, never 190.
    assert MAX_ATTEMPTS * READ_TIMEOUT_SECONDS <= elapsed < 21, elapsed
    assert len(listener.accepted) == MAX_ATTEMPTS
    message = str(info.value)
    assert message.startswith(
        f"got no answer from Secrets Manager at {listener.url} (eu-west-1, ReadTimeoutError, after 3 "
        f"attempts) reading {arn}; check the Secrets Manager interface VPC endpoint "
        "(com.amazonaws.eu-west-1.secretsmanager)"
    )
    assert message.endswith("(docs/troubleshooting.md#secrets-manager-access-denied)")
    assert info.value.code == "ReadTimeoutError"


def test_a_secret_name_without_a_region_is_a_clear_error(
    secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = create_secret(secrets, "spark/postgres/named", {"username": "u", "password": "p"})
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    aws_client.cache_clear()
    with pytest.raises(AwsRegionError) as info:
        resolve_credentials(connection(secret_arn="spark/postgres/named"))
    assert str(info.value) == (
        "cannot read secret spark/postgres/named: secret_arn is a name, not an ARN, and no AWS "
        "region is configured; give the full ARN (arn:aws:secretsmanager:<region>:<account>:"
        "secret:...), which names its region, or set AWS_REGION (or AWS_DEFAULT_REGION), pass "
        "--region, or use an AWS profile that has a region"
    )
    assert exit_code_for(info.value) == EXIT_SETTINGS
    # A full ARN names its region: no configuration needed.
    assert resolve_credentials(connection(secret_arn=arn)).username == "u"


def test_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "pg.json"
    path.write_text(json.dumps({"username": "local", "password": HOSTILE_PASSWORD}))
    credentials = resolve_credentials(connection(credentials_file=path))
    assert (credentials.username, credentials.password.get_secret_value()) == (
        "local",
        HOSTILE_PASSWORD,
    )
    with pytest.raises(
        CredentialsError,
        match=r"cannot read credentials file .*missing.json of connection 'aurora'",
    ):
        resolve_credentials(connection(credentials_file=tmp_path / "missing.json"))


def test_credentials_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALPG_USERNAME", "env-user")
    with pytest.raises(CredentialsError, match=r"set LOCALPG_PASSWORD$"):
        resolve_credentials(connection(credentials_env="LOCALPG"))
    monkeypatch.setenv("LOCALPG_PASSWORD", HOSTILE_PASSWORD)
    credentials = resolve_credentials(connection(credentials_env="LOCALPG"))
    assert credentials.password.get_secret_value() == HOSTILE_PASSWORD
    assert credentials.source == "environment LOCALPG_USERNAME/LOCALPG_PASSWORD"


def test_password_never_in_repr_str_dump_or_logs(
    secrets: Any, caplog: pytest.LogCaptureFixture
) -> None:
    arn = create_secret(
        secrets, "spark/postgres/scan", {"username": "u", "password": HOSTILE_PASSWORD}
    )
    caplog.set_level(logging.DEBUG)  # botocore logs response bodies at DEBUG
    credentials = resolve_credentials(connection(secret_arn=arn))
    surfaces = [
        repr(credentials),
        str(credentials),
        credentials.model_dump_json(),
        json.dumps(credentials.model_dump(mode="json")),
        caplog.text,
    ]
    for surface in surfaces:
        assert HOSTILE_PASSWORD not in surface
        assert "p@ss" not in surface
