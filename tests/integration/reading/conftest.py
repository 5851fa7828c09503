"""Fixtures of the read-layer tests: one local Spark session, a database and a reader role.

Spark: ``local[2]``, two shuffle partitions, no UI, UTC everywhere, the JDBC JAR from ``jdbc_jar``.
The database ``sparkpg_read`` belongs to these tests; the role ``sparkpg_reader`` has an awkward
password (quotes, ``;``, ``%``, non-ASCII) that must never show up in plans, logs or errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import psycopg
import pytest

from connectors.secrets import clear_credentials_cache
from connectors.settings import Settings, settings_from_dict
from devtools.postgres_server import PostgresServer
from tests.integration.databases import fresh_database

DATABASE = "sparkpg_read"
ROLE = "sparkpg_reader"
PASSWORD = "s3cr;t 'pa\"ss' %20 é/?&="
CONNECTION = "it"


@dataclass(frozen=True)
class ReadDb:
    """The test database: admin conninfo and a factory of settings for the reader role."""

    server: PostgresServer
    conninfo: str
    tmp: Path

    def settings_data(
        self,
        *,
        password: str = PASSWORD,
        user: str = ROLE,
        name: str = "creds",
        **connection: Any,
    ) -> Dict[str, Any]:
        """Settings (as JSON data) with one connection ``it``; credentials in a file in ``tmp``."""
        creds = self.tmp / f"{name}.json"
        creds.write_text(json.dumps({"username": user, "password": password}))
        fields: Dict[str, Any] = {
            "name": CONNECTION,
            "host": "localhost",
            "port": self.server.port,
            "database": DATABASE,
            "credentials_file": str(creds),
            "max_connections": 4,
            "connect_timeout_seconds": 5,
        }
        if self.server.ca_cert_path is not None:
            fields.update(ssl_mode="verify-full", ssl_root_cert=str(self.server.ca_cert_path))
        else:
            fields.update(ssl_mode="disable")
        fields.update(connection)
        return {"postgres": {"connections": [fields]}}

    def settings(self, **kwargs: Any) -> Settings:
        """:meth:`settings_data` validated."""
        return settings_from_dict(self.settings_data(**kwargs), source="test")

    def settings_file(self, **kwargs: Any) -> Path:
        """:meth:`settings_data` written to ``tmp/settings.json``."""
        path = self.tmp / "settings.json"
        path.write_text(json.dumps(self.settings_data(**kwargs)))
        return path

    def execute(self, statement: str, params: Optional[Tuple[Any, ...]] = None) -> None:
        """Run SQL as the superuser in the test database (autocommit)."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(statement, params)  # type: ignore[arg-type]

    def rows(self, query: str) -> List[Tuple[Any, ...]]:
        """Rows of ``query`` through psycopg (the reference the Spark reads are compared with)."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(query).fetchall()]  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def read_db(postgres: PostgresServer, tmp_path_factory: Any) -> ReadDb:
    conninfo = fresh_database(postgres, DATABASE, ROLE, PASSWORD, reader=True)
    return ReadDb(postgres, conninfo, tmp_path_factory.mktemp("read"))


@pytest.fixture(autouse=True)
def _fresh_credentials() -> Iterator[None]:
    clear_credentials_cache()
    yield
    clear_credentials_cache()
