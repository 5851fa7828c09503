"""The harness's pure parts: conninfo quoting, URLs, and the error when nothing is available."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

import devtools.postgres_server as harness
from devtools.postgres_server import (
    DEFAULT_PASSWORD,
    PostgresServer,
    PostgresServerError,
    postgres_server,
    start_again,
)


def _server(**changes: object) -> PostgresServer:
    fields: dict = dict(
        host="localhost",
        port=5433,
        user="o'neil",
        password=DEFAULT_PASSWORD,
        database="my db",
        ca_cert_path=Path("/tmp/dir with space/ca.crt"),
        server_version_num=150018,
    )
    fields.update(changes)
    return PostgresServer(**fields)  # type: ignore[arg-type]


def test_conninfo_round_trips_hostile_values() -> None:
    parsed = conninfo_to_dict(_server().conninfo())
    assert parsed == {
        "host": "localhost",
        "port": "5433",
        "user": "o'neil",
        "password": DEFAULT_PASSWORD,
        "dbname": "my db",
        "sslmode": "verify-full",
        "sslrootcert": "/tmp/dir with space/ca.crt",
    }


def test_conninfo_overrides_and_removals() -> None:
    parsed = conninfo_to_dict(_server().conninfo(host="127.0.0.1", sslrootcert=None, port=1))
    assert parsed["host"] == "127.0.0.1"
    assert parsed["port"] == "1"
    assert "sslrootcert" not in parsed


def test_url_percent_encodes_and_brackets_ipv6() -> None:
    url = _server(host="::1", ca_cert_path=None).url()
    assert url.startswith("postgresql://o%27neil:p%40ss%2Fw%3Frd%26")
    assert "@[::1]:5433/my%20db" in url
    assert DEFAULT_PASSWORD not in url


def test_repr_hides_password() -> None:
    assert "p@ss" not in repr(_server())


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="newline"), postgres_server(password="a\nb"):
        pass
    with pytest.raises(ValueError, match="backend"), postgres_server(backend="podman"):
        pass


def test_url_must_be_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(harness.ENV_URL, "mysql://u:p@h/db")
    with pytest.raises(PostgresServerError, match="postgresql://"), postgres_server():
        pass


def test_nothing_available_names_every_missing_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(harness.ENV_URL, raising=False)
    monkeypatch.delenv(harness.ENV_BACKEND, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(harness, "_docker_problem", lambda: "no engine (test)")
    monkeypatch.setattr(harness.glob, "glob", lambda pattern: [])
    with pytest.raises(PostgresServerError) as info, postgres_server():
        pass
    message = str(info.value)
    assert harness.ENV_URL in message
    assert "no engine (test)" in message
    assert "initdb, pg_ctl, postgres not found" in message


def test_only_a_local_server_started_here_can_be_started_again() -> None:
    with pytest.raises(PostgresServerError, match="the url server was not started here"):
        start_again(_server(source="url"))
    with pytest.raises(PostgresServerError, match="the local server was not started here"):
        start_again(_server(data_dir=None))
