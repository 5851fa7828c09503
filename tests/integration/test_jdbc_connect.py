"""Credentials from a (moto) secret connect with the built URL and options to the real server,
through pgjdbc itself, over TLS verified against the harness's throwaway CA."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

import boto3
import psycopg
import pytest
from moto import mock_aws

from connectors.aws import aws_client
from connectors.jdbc import jdbc_options
from connectors.secrets import clear_credentials_cache, resolve_credentials
from connectors.settings import ConnectionSettings
from devtools.postgres_server import PostgresServer

PROBE = Path(__file__).with_name("JdbcProbe.java")
ROLE = "spark_reader"
ROLE_PASSWORD = "r0le'p@ss\"/?&=;é🔑 \\%20"


def probe(jar: Path, options: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Connect with pgjdbc as Spark would (password via the environment, never argv)."""
    return subprocess.run(
        ["java", "-cp", str(jar), str(PROBE), options["url"], options["user"]],
        env={**os.environ, "JDBC_PROBE_PASSWORD": options["password"]},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def reader_role(pg_admin: psycopg.Connection[Any]) -> str:
    pg_admin.execute(f"DROP ROLE IF EXISTS {ROLE}")
    pg_admin.execute(
        psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            psycopg.sql.Identifier(ROLE), psycopg.sql.Literal(ROLE_PASSWORD)
        )
    )
    return ROLE


@pytest.fixture
def secret_arn(reader_role: str) -> Iterator[str]:
    with mock_aws():
        aws_client.cache_clear()
        clear_credentials_cache()
        client = boto3.client("secretsmanager", region_name="us-east-1")
        value = {"username": reader_role, "password": ROLE_PASSWORD}
        yield str(
            client.create_secret(Name="spark/postgres/it", SecretString=json.dumps(value))["ARN"]
        )
    aws_client.cache_clear()
    clear_credentials_cache()


def connection(postgres: PostgresServer, secret_arn: str, **fields: Any) -> ConnectionSettings:
    return ConnectionSettings(
        name="it",
        secret_arn=secret_arn,
        port=postgres.port,
        database=postgres.database,
        ssl_mode="verify-full",
        ssl_root_cert=str(postgres.ca_cert_path),
        application_name="sparkpg-it",
        **fields,
    )


def test_secret_credentials_connect_over_verified_tls(
    postgres: PostgresServer, secret_arn: str, jdbc_jar: Path
) -> None:
    conn = connection(postgres, secret_arn, host="localhost")
    result = probe(jdbc_jar, jdbc_options(conn, resolve_credentials(conn)))
    assert result.returncode == 0, result.stderr
    user, ssl, _read_only, application = result.stdout.strip().split("|")
    assert (user, ssl, application) == (ROLE, "true", "sparkpg-it")


def test_verify_full_rejects_a_host_name_the_certificate_does_not_name(
    postgres: PostgresServer, secret_arn: str, jdbc_jar: Path
) -> None:
    conn = connection(postgres, secret_arn, host="127.0.0.1")  # certificate names only localhost
    result = probe(jdbc_jar, jdbc_options(conn, resolve_credentials(conn)))
    assert result.returncode == 3
    assert "hostname" in result.stderr.lower() and "127.0.0.1" in result.stderr
    assert ROLE_PASSWORD not in result.stderr + result.stdout


def test_wrong_password_is_refused_with_28p01(
    postgres: PostgresServer, secret_arn: str, jdbc_jar: Path
) -> None:
    conn = connection(postgres, secret_arn, host="localhost")
    options = jdbc_options(conn, resolve_credentials(conn))
    result = probe(jdbc_jar, {**options, "password": ROLE_PASSWORD + "x"})
    assert result.returncode == 3
    assert result.stderr.startswith("SQLState 28P01")
