"""Fixtures of the write tests: a database, a writer role with an awkward password, settings.

The role ``sparkpg_writer`` owns the schema ``w`` (it creates staging tables there); the
superuser connection (``WriteDb.rows``/``execute``) is the reference the tests compare with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator, List, Mapping

import psycopg
import pytest
from psycopg import sql

from connectors.secrets import clear_credentials_cache
from devtools.postgres_server import PostgresServer
from tests.integration.databases import TestDatabase, fresh_database

DATABASE = "sparkpg_write"
ROLE = "sparkpg_writer"
PASSWORD = "wr1te;'pa\"ss' %20 é/?&= \\ $1"
CONNECTION = "it"
SCHEMA = "w"


@dataclass(frozen=True)
class WriteDb(TestDatabase):
    """The write tests' database: the writer role ``sparkpg_writer`` (owner of schema ``w``),
    connection ``it``, writable."""

    ROLE = ROLE
    PASSWORD = PASSWORD
    CONNECTION = CONNECTION
    DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "max_connections": 2,
        "read_only": False,
        "application_name": "sparkpg-write-test",
    }

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
