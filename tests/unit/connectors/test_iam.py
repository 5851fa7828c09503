"""IAM database authentication (issue 21): settings, the token signer against botocore, the
pgjdbc properties, settings check and the login-failure message. Pure: no JVM, no AWS."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, Dict, Optional
from unittest import mock

import botocore.session
import pytest
from pydantic import SecretStr

from connectors.errors import CredentialsError, DatabaseAuthenticationError, SettingsError
from connectors.hosts import region_of_host
from connectors.iam import (
    PLUGIN_CLASS,
    AwsKeys,
    IamSigning,
    default_aws_keys,
    generate_auth_token,
    iam_signing,
)
from connectors.jdbc import jdbc_options, jdbc_url, resolve_endpoint
from connectors.secrets import Credentials, resolve_credentials
from connectors.settings import ConnectionSettings, settings_from_dict
from entrypoints.cli import main
from entrypoints.errors import EXIT_OK
from spark_jobs.db.failures import classify_failure
from spark_jobs.db.target import DbTarget
from spark_jobs.engine.java import JavaFailure
from tests import REPO

HOST = "pg-database.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
FROZEN = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
JAVA_VECTORS = REPO / "jvm/test/io/sparkpg/engine/auth/RdsAuthTokenTest.java"


def iam(**fields: Any) -> ConnectionSettings:
    values: Dict[str, Any] = {"name": "aurora", "auth_method": "iam", "username": "app"}
    values.update({"host": HOST, **fields})
    values = {key: value for key, value in values.items() if value is not None}
    return settings_from_dict({"postgres": {"connections": [values]}}).connection("aurora")


def botocore_token(
    host: str, port: int, user: str, region: str, session_token: Optional[str]
) -> str:
    session = botocore.session.get_session()
    session.set_credentials("AKIDEXAMPLE", SECRET, session_token)
    client = session.create_client("rds", region_name="us-east-1")
    with mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN.replace(tzinfo=None)):
        return str(client.generate_db_auth_token(host, port, user, region))


@pytest.mark.parametrize("session_token", [None, "FwoGZXIvYXdz/+=token"])
@pytest.mark.parametrize(
    "host, port, user, region",
    [
        (HOST, 5432, "app", "us-east-1"),
        ("10.0.0.7", 6543, "iam user+x@y/é~", "eu-west-1"),
        ("proxy.internal.example", 5432, "Mixed_Case", "ap-southeast-2"),
    ],
)
def test_token_is_byte_identical_to_botocores(
    host: str, port: int, user: str, region: str, session_token: Optional[str]
) -> None:
    keys = AwsKeys("AKIDEXAMPLE", SECRET, session_token)
    ours = generate_auth_token(IamSigning(host, port, region, user), keys, now=FROZEN)
    assert ours == botocore_token(host, port, user, region, session_token)


def test_the_java_signers_vectors_are_botocores() -> None:
    source = JAVA_VECTORS.read_text(encoding="utf-8")
    joined = re.sub(r'"\s*\+\s*"', "", source)
    vectors = re.findall(r"// VECTOR\|([^|]+)\|(\d+)\|([^|]+)\|([^|]+)\|(.*)", source)
    assert len(vectors) == 2
    for host, port, region, user, token in vectors:
        expected = botocore_token(host, int(port), user, region, token or None)
        assert f'"{expected}"' in joined


def test_keys_repr_hides_the_secret_and_session_token() -> None:
    shown = repr(AwsKeys("AKIDEXAMPLE", SECRET, "session-token"))
    assert SECRET not in shown and "session-token" not in shown


def test_region_comes_from_the_endpoint_name() -> None:
    assert region_of_host(HOST) == "us-east-1"
    assert region_of_host("db.abc.cn-north-1.rds.amazonaws.com.cn") == "cn-north-1"
    assert region_of_host("10.0.0.7") is None


def test_iam_connection_signs_for_the_endpoint_by_default() -> None:
    connection = iam()
    signing = iam_signing(connection, resolve_endpoint(connection))
    assert signing == IamSigning(HOST, 5432, "us-east-1", "app")


def test_iam_host_port_and_region_override_what_is_signed_for() -> None:
    connection = iam(host="localhost", port=15432, iam_host=HOST, iam_port=5432)
    assert iam_signing(connection, resolve_endpoint(connection)).describe() == (
        f"rds-db:connect as 'app' on {HOST}:5432 (us-east-1)"
    )
    other = iam(iam_region="eu-west-1")
    assert iam_signing(other, resolve_endpoint(other)).region == "eu-west-1"


@pytest.mark.parametrize(
    "fields, says",
    [
        ({"username": None}, 'needs "username"'),
        ({"secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:x"}, "remove secret_arn"),
        ({"credentials_env": "DB"}, "remove credentials_env"),
        ({"ssl_mode": "prefer"}, "ssl_mode 'prefer' could send the token without TLS"),
        ({"ssl_mode": "disable"}, "ssl_mode 'disable'"),
        ({"host": "localhost"}, "set iam_region"),
        ({"host": None}, 'needs "host"'),
        ({"iam_region": "Europe"}, "iam_region"),
        ({"jdbc_properties": {"authenticationPluginClassName": "x"}}, "auth_method"),
        ({"jdbc_properties": {"sparkpgIamHost": "x"}}, "iam_host, iam_port and iam_region"),
    ],
)
def test_bad_iam_settings_are_refused_naming_the_fix(fields: Dict[str, Any], says: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(says)):
        iam(**fields)


def test_iam_fields_are_refused_with_user_password() -> None:
    with pytest.raises(SettingsError, match="username, iam_region only for auth_method"):
        settings_from_dict(
            {
                "postgres": {
                    "connections": [
                        {
                            "name": "a",
                            "credentials_env": "DB",
                            "host": HOST,
                            "username": "app",
                            "iam_region": "us-east-1",
                        }
                    ]
                }
            }
        )


def test_iam_properties_name_the_plugin_and_carry_no_password() -> None:
    connection = iam(host="localhost", iam_host=HOST)
    credentials = resolve_credentials(connection)
    options = jdbc_options(connection, credentials)
    assert "password" not in options
    assert options["user"] == "app"
    assert options["authenticationPluginClassName"] == PLUGIN_CLASS
    assert (options["sparkpgIamHost"], options["sparkpgIamPort"]) == (HOST, "5432")
    assert options["sparkpgIamRegion"] == "us-east-1"
    # Spark's JDBC source logs in through the engine's driver, which retries a refused cached token
    assert options["driver"] == "io.sparkpg.engine.auth.IamRetryingDriver"
    assert "sslmode=require&" in jdbc_url(connection)  # never "prefer", even on localhost


def test_settings_check_shows_the_method_and_what_is_signed_never_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connection = {"name": "aurora", "auth_method": "iam", "username": "app", "host": HOST}
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"postgres": {"connections": [connection]}}))
    assert main(["settings", "check", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "auth_method=iam credentials=iam-token:app" in out
    assert f"    token:   rds-db:connect as 'app' on {HOST}:5432 (us-east-1)" in out
    assert "authenticationPluginClassName=io.sparkpg.engine.auth.IamAuthPlugin" in out
    assert "password" not in out and "X-Amz" not in out


def test_refused_iam_login_names_the_likely_causes() -> None:
    connection = iam(host="localhost", iam_host=HOST)
    credentials = Credentials(username="app", password=SecretStr(""), source="iam")
    target = DbTarget(connection, credentials, resolve_endpoint(connection, credentials))
    message = 'FATAL: PAM authentication failed for user "app"'
    failure = JavaFailure("28000", message, (("org.postgresql.util.PSQLException", message),))
    error = classify_failure(failure, target, what="connecting")
    assert isinstance(error, DatabaseAuthenticationError)
    text = str(error)
    for cause in (
        f"signed for rds-db:connect as 'app' on {HOST}:5432 (us-east-1)",
        "iam_host/iam_port",
        "region (iam_region)",
        "rds-db:connect on arn:aws:rds-db:",
        "GRANT rds_iam TO <user>",
        "IAM database authentication is not enabled",
        "docs/auth.md#troubleshooting",
    ):
        assert cause in text


def test_default_keys_come_from_botos_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_aws_keys() == AwsKeys("testing", "testing", "testing")  # tests/conftest.py
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_SECURITY_TOKEN")
    with pytest.raises(CredentialsError, match="no AWS credentials to sign"):
        default_aws_keys()
