"""The PostgreSQL harness gives a real server: TLS that verifies, passwords that matter, UTC."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devtools.postgres_server import (
    ENV_CA,
    ENV_URL,
    PostgresServer,
    postgres_server,
)


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: PID 1 here may be slow to reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _our_tls(server: PostgresServer) -> None:
    if server.ca_cert_path is None or server.source == "url":
        pytest.skip(f"the {server.source} server's certificate was not made by the harness")


def test_verify_full_to_localhost_uses_tls(postgres: PostgresServer) -> None:
    _our_tls(postgres)
    conninfo = postgres.conninfo(host="localhost", sslmode="verify-full")
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SHOW ssl").fetchone() == ("on",)
        row = conn.execute(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone()
        assert row is not None
        assert row[0] is True
        assert row[1].startswith("TLSv1.")
        assert conn.pgconn.ssl_in_use


def test_verify_full_to_an_ip_fails_the_host_name_check(postgres: PostgresServer) -> None:
    _our_tls(postgres)
    conninfo = postgres.conninfo(host="127.0.0.1", sslmode="verify-full")
    with pytest.raises(psycopg.OperationalError, match=r'does not match host name "127\.0\.0\.1"'):
        psycopg.connect(conninfo, connect_timeout=10)


def test_without_the_ca_verification_fails(postgres: PostgresServer) -> None:
    _our_tls(postgres)
    conninfo = postgres.conninfo(sslrootcert="system", sslmode="verify-full")
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(conninfo, connect_timeout=10)


def test_wrong_password_fails(postgres: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.conninfo(password=postgres.password + "x"), connect_timeout=10)


def test_hostile_password_survives_conninfo_and_url(postgres: PostgresServer) -> None:
    assert {"@", "/", "?", "&", "'", '"', "é", "\\", " "} <= set(postgres.password)
    with psycopg.connect(postgres.conninfo()) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (postgres.user,)
    extra: dict[str, Any] = {}
    if postgres.ca_cert_path is not None:
        extra["sslrootcert"] = str(postgres.ca_cert_path)
    with psycopg.connect(postgres.url(), **extra) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_server_time_zone_is_utc(pg_admin: psycopg.Connection[Any]) -> None:
    assert pg_admin.execute("SHOW TimeZone").fetchone() == ("UTC",)
    row = pg_admin.execute("SELECT to_char(now(), 'TZH:TZM')").fetchone()
    assert row == ("+00:00",)


def test_server_version_is_recorded(postgres: PostgresServer, pg_admin: Any) -> None:
    (version,) = pg_admin.execute("SHOW server_version_num").fetchone()
    assert postgres.server_version_num == int(version) >= 140000


def test_repr_hides_the_password(postgres: PostgresServer) -> None:
    assert postgres.password not in repr(postgres)
    assert "password" not in repr(postgres)


def test_ipv6_loopback_when_listening(postgres: PostgresServer) -> None:
    if not postgres.listens_on_ipv6:
        pytest.skip("the server does not listen on ::1 (no IPv6 loopback here)")
    with psycopg.connect(postgres.conninfo(host="::1", sslmode="require")) as conn:
        row = conn.execute("SELECT inet_server_addr()").fetchone()
        assert row is not None
        assert str(row[0]) == "::1"


def test_url_source_uses_the_given_server(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_URL, postgres.url())
    if postgres.ca_cert_path is not None:
        monkeypatch.setenv(ENV_CA, str(postgres.ca_cert_path))
    with postgres_server() as again:
        assert again.source == "url"
        assert (again.host, again.port, again.user, again.password, again.database) == (
            postgres.host,
            postgres.port,
            postgres.user,
            postgres.password,
            postgres.database,
        )
        assert again.server_version_num == postgres.server_version_num


def test_server_is_stopped_and_removed_on_exit(postgres: PostgresServer) -> None:
    if postgres.source == "url":
        pytest.skip("a URL-given server cannot start a second one")
    with postgres_server(tls=False, password="short-lived", backend=postgres.source) as second:
        assert second.port != postgres.port
        with psycopg.connect(second.conninfo(connect_timeout=10)) as conn:
            assert conn.execute("SHOW ssl").fetchone() == ("off",)
        with pytest.raises(psycopg.OperationalError, match="does not support SSL"):
            psycopg.connect(second.conninfo(sslmode="require"), connect_timeout=10)
        data_dir = second.data_dir
        postmaster_pid = 0
        if data_dir is not None:
            assert data_dir.is_dir()
            postmaster_pid = int((data_dir / "postmaster.pid").read_text().split()[0])
            assert _running(postmaster_pid)
    if data_dir is not None:
        assert not data_dir.exists()
        assert not data_dir.parent.exists()
        assert not _running(postmaster_pid)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", second.port), timeout=2):
        pass
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(second.conninfo(connect_timeout=5))


def test_server_is_stopped_when_the_body_raises(postgres: PostgresServer) -> None:
    if postgres.source != "local":
        pytest.skip("only the local source has a data directory to check")
    with pytest.raises(RuntimeError, match="boom"):  # noqa: SIM117 (one line is too long)
        with postgres_server(tls=True, backend="local") as third:
            data_dir = third.data_dir
            raise RuntimeError("boom")
    assert data_dir is not None
    assert not data_dir.parent.exists()
