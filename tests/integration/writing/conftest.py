"""Fixtures of the write tests: a database, a writer role with an awkward password, settings.

The role ``sparkpg_writer`` owns the schema ``w`` (it creates staging tables there); the
superuser connection (``WriteDb.rows``/``execute``) is the reference the tests compare with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import psycopg
import pytest
from psycopg import sql

from connectors.secrets import clear_credentials_cache
from connectors.settings import Settings, settings_from_dict
from devtools.postgres_server import PostgresServer
from tests.integration.databases import fresh_database

DATABASE = "sparkpg_write"
ROLE = "sparkpg_writer"
PASSWORD = "wr1te;'pa\"ss' %20 é/?&= \\ $1"
CONNECTION = "it"
SCHEMA = "w"


@dataclass(frozen=True)
class WriteDb:
    """The test database: admin conninfo and settings for the writer role."""

    server: PostgresServer
    conninfo: str
    tmp: Path

    def settings_data(self, **connection: Any) -> Dict[str, Any]:
        """Settings (JSON data) with one writable connection ``it`` (credentials in a file)."""
        creds = self.tmp / "creds.json"
        creds.write_text(json.dumps({"username": ROLE, "password": PASSWORD}))
        fields: Dict[str, Any] = {
            "name": CONNECTION,
            "host": "localhost",
            "port": self.server.port,
            "database": DATABASE,
            "credentials_file": str(creds),
            "max_connections": 2,
            "connect_timeout_seconds": 5,
            "read_only": False,
            "application_name": "sparkpg-write-test",
        }
        if self.server.ca_cert_path is not None:
            fields.update(ssl_mode="verify-full", ssl_root_cert=str(self.server.ca_cert_path))
        else:
            fields.update(ssl_mode="disable")
        fields.update(connection)
        return {"postgres": {"connections": [fields]}}

    def settings(self, **connection: Any) -> Settings:
        """:meth:`settings_data` validated."""
        return settings_from_dict(self.settings_data(**connection), source="test")

    def execute(self, statement: str, params: Optional[Tuple[Any, ...]] = None) -> None:
        """Run SQL as the superuser (autocommit)."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(statement, params)  # type: ignore[arg-type]

    def rows(self, query: str) -> List[Tuple[Any, ...]]:
        """Rows of ``query`` as the superuser."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(query).fetchall()]  # type: ignore[arg-type]

    def staging_tables(self) -> List[str]:
        """Staging tables and progress sequences (not those of identity columns, which go with
        their table) left anywhere in the database."""
        return [
            r[0]
            for r in self.rows(
                "SELECT relname FROM pg_class c WHERE relname LIKE 'sparkpg_stage%' "
                "AND relkind IN ('r', 'S') AND NOT EXISTS (SELECT 1 FROM pg_depend d "
                "WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
                "AND d.deptype IN ('a', 'i')) ORDER BY relname"
            )
        ]

    def table(self, name: str, ddl: str) -> str:
        """(Re)create ``w.<name>`` owned by the writer; returns ``it.w.<name>``."""
        self.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{name} CASCADE")
        self.execute(f"CREATE TABLE {SCHEMA}.{name} ({ddl})")
        self.execute(f"ALTER TABLE {SCHEMA}.{name} OWNER TO {ROLE}")
        return f"{CONNECTION}.{SCHEMA}.{name}"


def create_write_db(server: PostgresServer, tmp: Path) -> WriteDb:
    """(Re)create the database, the writer role and its schema on ``server``."""
    conninfo = fresh_database(server, DATABASE, ROLE, PASSWORD, reader=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(SCHEMA), sql.Identifier(ROLE)
            )
        )
    return WriteDb(server, conninfo, tmp)


@pytest.fixture(scope="session")
def write_db(postgres: PostgresServer, tmp_path_factory: Any) -> WriteDb:
    return create_write_db(postgres, tmp_path_factory.mktemp("write"))


@pytest.fixture(autouse=True)
def _fresh_credentials() -> Iterator[None]:
    clear_credentials_cache()
    yield
    clear_credentials_cache()
