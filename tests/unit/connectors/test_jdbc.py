"""JDBC URL and Spark options: pure functions, tested without Spark, AWS or a database."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from pydantic import SecretStr

from connectors.errors import IdentifierError, SettingsError
from connectors.jdbc import (
    TableRef,
    effective_ssl_mode,
    jdbc_options,
    jdbc_url,
    quote_ident,
    quote_literal,
)
from connectors.secrets import Credentials
from connectors.settings import ConnectionSettings

SEED_HOST = "pg-database.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com"
HOSTILE_PASSWORD = "p@ss'w\"o/r?d&x=1;é🔑 \\"


def connection(**fields: Any) -> ConnectionSettings:
    fields.setdefault("secret_arn", "arn:aws:secretsmanager:us-east-1:1:secret:spark/postgres/a")
    return ConnectionSettings(name="aurora", **fields)


def credentials(**fields: Any) -> Credentials:
    return Credentials(
        username=fields.pop("username", "spark"),
        password=SecretStr(fields.pop("password", HOSTILE_PASSWORD)),
        source="test",
        **fields,
    )


def url_parts(url: str) -> tuple[str, dict[str, str]]:
    assert url.startswith("jdbc:postgresql://")
    parts = urlsplit(url[len("jdbc:") :])
    return parts.netloc + unquote(parts.path), dict(parse_qsl(parts.query))


def test_seed_connection_url() -> None:
    url = jdbc_url(connection(host=SEED_HOST, port=5432, database="postgres"))
    assert url == (
        f"jdbc:postgresql://{SEED_HOST}:5432/postgres?sslmode=require&connectTimeout=10"
        "&loginTimeout=30&socketTimeout=300&tcpKeepAlive=true&ApplicationName=sparkpg"
        "&assumeMinServerVersion=9.0"
        "&readOnly=true&targetServerType=preferSecondary"
    )


def test_options_carry_credentials_and_the_url_never_does() -> None:
    options = jdbc_options(connection(host=SEED_HOST), credentials())
    assert options["driver"] == "org.postgresql.Driver"
    assert options["user"] == "spark"
    assert options["password"] == HOSTILE_PASSWORD
    assert options["fetchsize"] == "10000"
    assert "p@ss" not in options["url"] and "password" not in options["url"].lower()
    assert "user=" not in options["url"]


def test_ipv6_hosts_are_bracketed_and_values_encoded() -> None:
    url = jdbc_url(
        connection(
            host="2001:db8::5",
            port=6432,
            database="sales & ops/ü",
            application_name="etl job=1",
            jdbc_properties={"currentSchema": "a,b&x"},
        )
    )
    netloc_path, params = url_parts(url)
    assert url.startswith("jdbc:postgresql://[2001:db8::5]:6432/sales%20%26%20ops%2F%C3%BC?")
    assert netloc_path == "[2001:db8::5]:6432/sales & ops/ü"
    assert params["ApplicationName"] == "etl job=1"
    assert params["currentSchema"] == "a,b&x"
    assert params["sslmode"] == "require"


@pytest.mark.parametrize(
    ("fields", "host", "expected"),
    [
        ({}, "db.example.com", "require"),
        ({}, "localhost", "prefer"),
        ({}, "127.0.0.1", "prefer"),
        ({}, "::1", "prefer"),
        ({"ssl_root_cert": "/etc/rds/global-bundle.pem"}, "db.example.com", "verify-full"),
        ({"ssl_mode": "verify-ca", "ssl_root_cert": "/ca.pem"}, "db.example.com", "verify-ca"),
        ({"ssl_mode": "disable"}, "localhost", "disable"),
    ],
)
def test_ssl_mode_is_never_silently_weak_for_remote_hosts(
    fields: dict[str, Any], host: str, expected: str
) -> None:
    assert effective_ssl_mode(connection(host=host, **fields), host) == expected


def test_verify_full_url_names_the_root_certificate() -> None:
    _, params = url_parts(
        jdbc_url(connection(host="db.example.com", ssl_root_cert="/etc/rds ca/global.pem"))
    )
    assert (params["sslmode"], params["sslrootcert"]) == ("verify-full", "/etc/rds ca/global.pem")


def test_explicitly_weak_tls_for_remote_host_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    connection(host="db.example.com", ssl_mode="disable")
    assert "ssl_mode=disable for the non-local host db.example.com" in caplog.text


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (SEED_HOST, {"readOnly": "true", "targetServerType": "preferSecondary"}),
        (
            "pg.cluster-c8lobwtocefp.us-east-1.rds.amazonaws.com",
            {"readOnly": "true", "targetServerType": "primary"},
        ),
        ("db.example.com", {"readOnly": "true"}),
    ],
)
def test_aurora_endpoint_kinds(host: str, expected: dict[str, str]) -> None:
    _, params = url_parts(jdbc_url(connection(host=host)))
    assert {k: params[k] for k in ("readOnly", "targetServerType") if k in params} == expected


def test_extra_properties_pass_through_and_timeouts_apply() -> None:
    _, params = url_parts(
        jdbc_url(
            connection(
                host=SEED_HOST,
                connect_timeout_seconds=3,
                login_timeout_seconds=4,
                socket_timeout_seconds=600,
                read_only=False,
                jdbc_properties={"logUnclosedConnections": "true"},
            )
        )
    )
    assert (params["connectTimeout"], params["loginTimeout"], params["socketTimeout"]) == (
        "3",
        "4",
        "600",
    )
    assert "readOnly" not in params
    # (properties sparkpg sets itself are refused by the settings: tests/unit/connectors/test_settings.py)
    assert (params["targetServerType"], params["logUnclosedConnections"]) == (
        "preferSecondary",
        "true",
    )


def test_host_port_database_from_rds_secret_when_settings_have_none() -> None:
    conn = connection()
    url = jdbc_url(
        conn,
        credentials(host="db.cluster-x.eu-west-1.rds.amazonaws.com", port=5433, database="sales"),
    )
    assert url.startswith("jdbc:postgresql://db.cluster-x.eu-west-1.rds.amazonaws.com:5433/sales?")
    with pytest.raises(SettingsError, match=r"connection 'aurora' has no host"):
        jdbc_url(conn, credentials())


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("orders", '"orders"'),
        ("MixedCase Table", '"MixedCase Table"'),
        ('say "hi"', '"say ""hi"""'),
        ("orders; drop table x", '"orders; drop table x"'),
        ("ünïcode", '"ünïcode"'),
    ],
)
def test_quote_ident(name: str, quoted: str) -> None:
    assert quote_ident(name) == quoted


@pytest.mark.parametrize(
    ("name", "error"),
    [("", "empty identifier"), ("a\x00b", "NUL"), ("x" * 64, "longer than PostgreSQL's 63 bytes")],
)
def test_quote_ident_rejects(name: str, error: str) -> None:
    with pytest.raises(IdentifierError, match=error):
        quote_ident(name)


def test_quote_literal() -> None:
    assert quote_literal("it's") == "'it''s'"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("aurora.public.orders", ("aurora", "public", "orders")),
        ("aurora.orders", ("aurora", "public", "orders")),
        ('aurora."Sales Data"."MixedCase Table"', ("aurora", "Sales Data", "MixedCase Table")),
        ('aurora."my.schema"."a""b"', ("aurora", "my.schema", 'a"b')),
        ("aurora.public.orders; drop table x", ("aurora", "public", "orders; drop table x")),
    ],
)
def test_table_ref_parse(ref: str, expected: tuple[str, str, str]) -> None:
    parsed = TableRef.parse(ref)
    assert (parsed.connection, parsed.schema, parsed.table) == expected
    assert TableRef.parse(str(parsed)) == parsed  # str() round-trips


def test_table_ref_qualified_name_is_safe_sql() -> None:
    ref = TableRef.parse('aurora."my.schema"."a""b; drop table x"')
    assert ref.qualified_name == '"my.schema"."a""b; drop table x"'


@pytest.mark.parametrize(
    ("ref", "error"),
    [
        ("orders", "must be connection.schema.table"),
        ("a.b.c.d", "must be connection.schema.table"),
        ('aurora."open', "unterminated quote"),
        ("aurora..orders", "empty part"),
        ('aurora.pub"lic.orders', "misplaced quote"),
        ('aurora."x"y.z', "expected '.' after 'x'"),
    ],
)
def test_table_ref_rejects(ref: str, error: str) -> None:
    with pytest.raises(IdentifierError, match=error):
        TableRef.parse(ref)
