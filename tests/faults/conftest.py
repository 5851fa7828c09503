"""Fault-injection fixtures: a PostgreSQL of the suite's own (it may be killed), a slow table,
settings with small timeouts and a unique ``application_name`` per test, so that every backend
of ours is found in ``pg_stat_activity``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Dict, Iterator, List, Mapping

import psycopg
import pytest

from connectors.secrets import clear_credentials_cache
from devtools.faults import backends, wait_for
from devtools.postgres_server import PostgresServer, postgres_server
from tests.integration.conftest import spark, utc_process  # noqa: F401  (the session's Spark)
from tests.integration.databases import TestDatabase

SLOW_ROWS = 100_000
"""Rows of :data:`SLOW_QUERY`: about 10 ms each, so a read of it streams for minutes."""
SLOW_QUERY = f"SELECT g AS id, pg_sleep(0.01)::text AS pause FROM generate_series(1, {SLOW_ROWS}) g"


@dataclass(frozen=True)
class FaultDb(TestDatabase):
    """A server of the fault suite and the settings of a connection ``f`` to it: superuser
    credentials, no TLS, small timeouts, a unique ``application_name`` per test."""

    application_name: str = ""
    CONNECTION = "f"
    DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "host": "127.0.0.1",
        "ssl_mode": "disable",
        "connect_timeout_seconds": 2,
        "login_timeout_seconds": 3,
        "socket_timeout_seconds": 3,
        "lock_timeout_seconds": 1,
        "statement_timeout_seconds": 2,
        "client_connection_check_interval_seconds": 1,
        "max_connections": 2,
        "fetch_size": 10,
    }

    def settings_data(self, **connection: Any) -> Dict[str, Any]:
        """As the server's superuser, under this test's ``application_name``."""
        fields = {"application_name": self.application_name, **connection}
        fields.setdefault("ssl_mode", "disable")
        fields.setdefault("user", self.server.user)
        fields.setdefault("password", self.server.password)
        return super().settings_data(**fields)

    def ours(self) -> List[int]:
        """Pids of the backends of this test's connection."""
        return backends(self.server, self.application_name)

    def assert_none_left(self, within: float = 10.0) -> None:
        """No backend of ours remains (they may take a moment to notice a closed client)."""
        wait_for(lambda: not self.ours(), timeout=within, what="our backends to end")


def _setup(server: PostgresServer) -> None:
    with psycopg.connect(server.conninfo(connect_timeout=5), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS small (id int PRIMARY KEY, name text)")
        conn.execute(
            "INSERT INTO small SELECT g, 'n' || g FROM generate_series(1, 100) g ON CONFLICT DO NOTHING"
        )
        conn.execute("CREATE OR REPLACE VIEW slow AS " + SLOW_QUERY)


@pytest.fixture(scope="session")
def fault_server() -> Iterator[PostgresServer]:
    """The suite's long-lived server (not the session's ``postgres``: tests here hurt theirs)."""
    with postgres_server(tls=False, backend="local") as server:
        _setup(server)
        yield server


@pytest.fixture
def doomed_server() -> Iterator[PostgresServer]:
    """A server of one test's own, to kill."""
    with postgres_server(tls=False, backend="local") as server:
        _setup(server)
        yield server


def _fault_db(server: PostgresServer, tmp_path: Path) -> FaultDb:
    conninfo = server.conninfo(connect_timeout=5)
    return FaultDb(server, conninfo, tmp_path, f"sparkpg-fault-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def fault_db(fault_server: PostgresServer, tmp_path: Path) -> Iterator[FaultDb]:
    clear_credentials_cache()
    yield _fault_db(fault_server, tmp_path)
    clear_credentials_cache()


@pytest.fixture
def doomed_db(doomed_server: PostgresServer, tmp_path: Path) -> Iterator[FaultDb]:
    clear_credentials_cache()
    yield _fault_db(doomed_server, tmp_path)
    clear_credentials_cache()
