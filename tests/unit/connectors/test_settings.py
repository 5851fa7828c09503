"""Settings: the seed's file loads unchanged, errors name file/field/value, precedence edge by edge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import boto3
import pytest
from moto import mock_aws

from connectors.aws import aws_client
from connectors.errors import ConnectionNotFoundError, SettingsError
from connectors.settings import load_settings, settings_from_dict
from tests import REPO

SEED = REPO / "examples" / "settings.json"


def seed_data() -> Dict[str, Any]:
    return json.loads(SEED.read_text())


def write(tmp_path: Path, data: Dict[str, Any]) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))
    return path


def test_seed_settings_load_unchanged() -> None:
    settings = load_settings(SEED, environ={})
    assert settings.spark.emr_application_id == "00fv6g7rptsov009"
    assert settings.spark.emr_postgres_application_id == "00g0oddl52n83r09"
    assert settings.spark.supervisor_arn.endswith("runtime/spark_supervisor_agent-EZPQeDGCjR")
    assert settings.postgres.jdbc_driver_path == (
        "s3://spark-data-260005718447-us-east-1/jars/postgresql-42.7.8.jar"
    )
    aurora = settings.connection("aurora")
    assert aurora.secret_arn == (
        "arn:aws:secretsmanager:us-east-1:260005718447:secret:spark/postgres/aurora-e9d9d867-9Bxwrf"
    )
    assert aurora.host == "pg-database.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com"
    assert (aurora.port, aurora.database, aurora.auth_method, aurora.enabled) == (
        5432,
        "postgres",
        "user_password",
        True,
    )
    # Extensions default safely.
    assert (aurora.max_connections, aurora.fetch_size, aurora.read_only) == (8, 10_000, True)
    # Dumping settings round-trips to the same validated values.
    dumped = settings.model_dump(mode="json")
    assert settings_from_dict(dumped).model_dump(mode="json") == dumped


def test_spark_extras_are_kept() -> None:
    data = seed_data()
    data["spark"]["emr_release_label"] = "emr-7.0.0"
    settings = settings_from_dict(data)
    assert settings.spark.model_extra == {"emr_release_label": "emr-7.0.0"}


def test_unknown_top_level_key_is_refused_naming_the_close_match(tmp_path: Path) -> None:
    data = seed_data()
    data["postgress"] = data.pop("postgres")  # would otherwise validate with zero connections
    with pytest.raises(SettingsError) as info:
        load_settings(write(tmp_path, data), environ={})
    assert "postgress: unknown field (did you mean 'postgres'?; value an object)" in str(info.value)
    data = seed_data()
    data["bedrock"] = {"model": "x"}
    with pytest.raises(SettingsError, match=r"bedrock: unknown field \(known: spark, postgres;"):
        settings_from_dict(data)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c.update(port=70000),
            "postgres.connections[0].port: Input should be less than or equal to 65535 (got 70000)",
        ),
        (
            lambda c: c.update(secert_arn="x"),
            "postgres.connections[0].secert_arn: unknown field",
        ),
        (lambda c: c.pop("name"), "postgres.connections[0].name: required field is missing"),
        (
            lambda c: c.update(auth_method="kerberos"),
            "postgres.connections[0].auth_method: Input should be 'user_password' or 'iam' (got 'kerberos')",
        ),
        (
            lambda c: c.update(host="jdbc:postgresql://db:5432/x"),
            "postgres.connections[0].host: Value error, must be a bare host name",
        ),
        (
            lambda c: c.update(ssl_mode="verify"),
            "postgres.connections[0].ssl_mode: Input should be 'disable'",
        ),
        (
            lambda c: c.update(credentials_env="AURORA"),
            "needs exactly one credential source (secret_arn, credentials_file or credentials_env); "
            "found: secret_arn, credentials_env",
        ),
        (
            lambda c: c.pop("secret_arn"),
            "needs exactly one credential source (secret_arn, credentials_file or credentials_env); "
            "found: none",
        ),
        (
            lambda c: c.update(jdbc_properties={"password": "x"}),
            "jdbc_properties: Value error, may not set 'password': sparkpg sets it itself "
            "(password from the credential source",
        ),
        (
            lambda c: c.update(host="db.example.com:5432"),
            "postgres.connections[0].host: Value error, includes a port ('5432'): put the host "
            "name alone in host ('db.example.com') and the port in the port field "
            "(got 'db.example.com:5432')",
        ),
        (
            lambda c: c.update(host="[2001:db8::1]:6432"),
            "includes a port ('6432'): put the address alone in host ('2001:db8::1')",
        ),
        (
            lambda c: c.update(host="db:x"),
            "host: Value error, must be a host name or an IP address (':' is allowed only in "
            "IPv6 addresses) (got 'db:x')",
        ),
        (
            lambda c: c.update(port=True),
            "postgres.connections[0].port: Input should be a valid integer (got True)",
        ),
        (
            lambda c: c.update(port="5432"),
            "postgres.connections[0].port: Input should be a valid integer (got '5432')",
        ),
        (
            lambda c: c.update(enabled="no"),
            "postgres.connections[0].enabled: Input should be a valid boolean (got 'no')",
        ),
        (
            lambda c: c.update(read_only=0),
            "postgres.connections[0].read_only: Input should be a valid boolean (got 0)",
        ),
        (
            lambda c: c.update(fetch_size=1.5),
            "postgres.connections[0].fetch_size: Input should be a valid integer (got 1.5)",
        ),
        (
            lambda c: c.update(secert_arn="x"),
            "postgres.connections[0].secert_arn: unknown field (did you mean 'secret_arn'?",
        ),
    ],
)
def test_invalid_settings_name_file_field_and_value(
    tmp_path: Path, mutate: Any, expected: str
) -> None:
    data = seed_data()
    mutate(data["postgres"]["connections"][0])
    path = write(tmp_path, data)
    with pytest.raises(SettingsError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message


@pytest.mark.parametrize(
    ("key", "setting"),
    [
        ("sslmode", "ssl_mode"),
        ("SSLMode", "ssl_mode"),
        ("sslrootcert", "ssl_root_cert"),
        ("sslfactory", "ssl_mode and ssl_root_cert"),
        ("ssl", "ssl_mode"),
        ("user", "the credential source"),
        ("connectTimeout", "connect_timeout_seconds"),
        ("LOGINTIMEOUT", "login_timeout_seconds"),
        ("socketTimeout", "socket_timeout_seconds"),
        ("readOnly", "read_only"),
        ("readOnlyMode", "read_only"),
        ("ApplicationName", "application_name"),
        ("targetServerType", "host (a cluster-ro reader endpoint"),
        ("prepareThreshold", "the binary_transfer read option"),
        ("defaultRowFetchSize", "fetch_size"),
        ("options", "sparkpg's session settings"),
        ("tcpKeepAlive", "sparkpg (always on)"),
        ("PGHOST", "host"),
    ],
)
def test_jdbc_properties_may_not_override_what_sparkpg_sets(key: str, setting: str) -> None:
    data = seed_data()
    data["postgres"]["connections"][0]["jdbc_properties"] = {key: "disable", "logUnclosed": "1"}
    with pytest.raises(SettingsError) as info:
        settings_from_dict(data)
    assert f"may not set {key!r}: sparkpg sets it itself ({key} from {setting}" in str(info.value)
    assert "disable" not in str(info.value)  # values are not echoed (they may be secrets)


def test_every_property_sparkpg_sets_is_reserved() -> None:
    """Whatever sparkpg puts in the URL or the pgjdbc properties, jdbc_properties cannot override."""
    from connectors.endpoints import resolve_endpoint
    from connectors.jdbc import jdbc_url_parameters, pgjdbc_properties
    from connectors.secrets import Credentials
    from connectors.settings import RESERVED_JDBC_PROPERTIES, ConnectionSettings

    credentials = Credentials(username="u", password="p", source="test")  # type: ignore[arg-type]
    variants = [
        dict(host="db.cluster-ro-x.us-east-1.rds.amazonaws.com", ssl_root_cert="/ca.pem"),
        dict(host="db.cluster-x.us-east-1.rds.amazonaws.com", read_only=False),
        dict(host="localhost", ssl_mode="disable"),
    ]
    keys = set()
    for fields in variants:
        connection = ConnectionSettings(name="c", credentials_env="X", **fields)  # type: ignore[arg-type]
        keys |= set(jdbc_url_parameters(connection, resolve_endpoint(connection)))
        keys |= set(pgjdbc_properties(connection, credentials))
    assert {"sslmode", "sslrootcert", "targetServerType", "prepareThreshold"} <= keys
    assert sorted(k for k in keys if k.lower() not in RESERVED_JDBC_PROPERTIES) == []


def test_other_jdbc_properties_pass_through() -> None:
    data = seed_data()
    data["postgres"]["connections"][0]["jdbc_properties"] = {"logUnclosedConnections": "true"}
    assert settings_from_dict(data).connection("aurora").jdbc_properties == {
        "logUnclosedConnections": "true"
    }


def test_bracketed_ipv6_host_is_stored_bare() -> None:
    data = seed_data()
    data["postgres"]["connections"][0]["host"] = "[2001:db8::1]"
    assert settings_from_dict(data).connection("aurora").host == "2001:db8::1"


def test_a_password_put_in_the_settings_is_not_echoed(tmp_path: Path) -> None:
    data = seed_data()
    data["postgres"]["connections"][0]["password"] = "hunter2-in-settings"
    with pytest.raises(SettingsError) as info:
        load_settings(write(tmp_path, data), environ={})
    assert "postgres.connections[0].password: unknown field" in str(info.value)
    assert "hunter2-in-settings" not in str(info.value)


def test_duplicate_connection_names_are_rejected(tmp_path: Path) -> None:
    data = seed_data()
    twin = dict(data["postgres"]["connections"][0], name="AURORA")
    data["postgres"]["connections"].append(twin)
    with pytest.raises(
        SettingsError, match=r"'AURORA' is used by connections\[0\] and connections\[1\]"
    ):
        load_settings(write(tmp_path, data), environ={})


def test_invalid_json_names_the_position(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"spark": {,}}')
    with pytest.raises(SettingsError, match=r"not valid JSON at line 1, column 12"):
        load_settings(path, environ={})


def test_missing_file() -> None:
    with pytest.raises(SettingsError, match=r"settings file not found: /nonexistent/settings.json"):
        load_settings("/nonexistent/settings.json", environ={})


def test_connection_lookup_errors_list_the_names(tmp_path: Path) -> None:
    data = seed_data()
    data["postgres"]["connections"].append(
        dict(data["postgres"]["connections"][0], name="legacy", enabled=False)
    )
    settings = load_settings(write(tmp_path, data), environ={})
    assert settings.connection("AURORA").name == "aurora"
    assert [c.name for c in settings.enabled_connections] == ["aurora"]
    with pytest.raises(
        ConnectionNotFoundError, match=r"'legacy' is disabled .*Enabled connections: aurora"
    ):
        settings.connection("legacy")
    with pytest.raises(
        ConnectionNotFoundError,
        match=r"no connection named 'reporting' .*enabled connections: aurora, disabled: legacy",
    ):
        settings.connection("reporting")


# Precedence: defaults < file < SPARKPG__ environment < explicit overrides.


def test_file_beats_defaults(tmp_path: Path) -> None:
    data = seed_data()
    data["postgres"]["connections"][0]["fetch_size"] = 500
    assert load_settings(write(tmp_path, data), environ={}).connection("aurora").fetch_size == 500


def test_environment_beats_file_and_parses_json_values(tmp_path: Path) -> None:
    environ = {
        "SPARKPG__POSTGRES__CONNECTIONS__AURORA__HOST": "localhost",
        "SPARKPG__POSTGRES__CONNECTIONS__AURORA__PORT": "5433",
        "SPARKPG__POSTGRES__CONNECTIONS__AURORA__SECRET_ARN": "null",
        "SPARKPG__POSTGRES__CONNECTIONS__AURORA__CREDENTIALS_ENV": "LOCALPG",
        "SPARKPG__POSTGRES__JDBC_DRIVER_PATH": "/opt/jars/postgresql.jar",
        "SPARKPG__SPARK__EMR_APPLICATION_ID": "00abc",
        "UNRELATED": "ignored",
    }
    settings = load_settings(SEED, environ=environ)
    aurora = settings.connection("aurora")
    assert (aurora.host, aurora.port, aurora.secret_arn, aurora.credentials_env) == (
        "localhost",
        5433,
        None,
        "LOCALPG",
    )
    assert settings.postgres.jdbc_driver_path == "/opt/jars/postgresql.jar"
    assert settings.spark.emr_application_id == "00abc"
    # The file on disk is untouched.
    assert json.loads(SEED.read_text())["postgres"]["connections"][0]["port"] == 5432


def test_overrides_beat_environment() -> None:
    environ = {"SPARKPG__POSTGRES__CONNECTIONS__AURORA__FETCH_SIZE": "100"}
    overrides = {"spark": {"emr_application_id": "from-overrides"}}
    settings = load_settings(SEED, environ=environ, overrides=overrides)
    assert settings.connection("aurora").fetch_size == 100
    assert settings.spark.emr_application_id == "from-overrides"
    assert settings.spark.emr_postgres_application_id == "00g0oddl52n83r09"  # merged, not replaced
    environ = {"SPARKPG__SPARK__EMR_APPLICATION_ID": "from-env"}
    assert load_settings(SEED, environ=environ, overrides=overrides).spark.emr_application_id == (
        "from-overrides"
    )


def test_environment_naming_an_unknown_connection_is_an_error() -> None:
    environ = {"SPARKPG__POSTGRES__CONNECTIONS__REPORTING__HOST": "x"}
    with pytest.raises(SettingsError, match=r"names connection 'reporting'.*connections: aurora"):
        load_settings(SEED, environ=environ)


def test_environment_value_is_validated_like_the_file() -> None:
    environ = {"SPARKPG__POSTGRES__CONNECTIONS__AURORA__PORT": "not-a-port"}
    with pytest.raises(SettingsError, match=r"postgres.connections\[0\].port: .*'not-a-port'"):
        load_settings(SEED, environ=environ)


def test_load_from_s3() -> None:
    with mock_aws():
        aws_client.cache_clear()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="team-config")
        s3.put_object(Bucket="team-config", Key="backend/settings.json", Body=SEED.read_bytes())
        settings = load_settings("s3://team-config/backend/settings.json", environ={})
        assert settings.source == "s3://team-config/backend/settings.json"
        assert settings.connection("aurora").port == 5432
        with pytest.raises(
            SettingsError,
            match=r"cannot read settings from s3://team-config/missing.json: NoSuchKey",
        ):
            load_settings("s3://team-config/missing.json", environ={})
    aws_client.cache_clear()


def test_bad_s3_uri() -> None:
    with pytest.raises(SettingsError, match=r"needs both a bucket and a key"):
        load_settings("s3://bucket-only", environ={})
