"""Fixtures of the incremental-load tests: a database whose role reads ``public`` and writes
schema ``w`` (the ``--write`` targets and their state table), settings, and helpers to run the
main job in this process and look at its batches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Dict, Iterator, List, Mapping, Optional, Tuple

import psycopg
import pytest

from connectors.secrets import clear_credentials_cache
from devtools.postgres_server import PostgresServer
from entrypoints import read_tables
from tests.integration.databases import TestDatabase, fresh_database

DATABASE = "sparkpg_incremental"
ROLE = "sparkpg_incr"
PASSWORD = "incr;'pa\"ss' %20 é/?&="
CONNECTION = "it"


@dataclass(frozen=True)
class IncrDb(TestDatabase):
    """The test database: the role reads ``public`` and writes schema ``w``, one writable
    connection ``it``; the main job run in this process."""

    dbname: str = DATABASE
    """The database's name (given: a standby's conninfo is not the primary's)."""

    ROLE = ROLE
    PASSWORD = PASSWORD
    CONNECTION = CONNECTION
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"max_connections": 2, "read_only": False}

    @property
    def database(self) -> str:
        return self.dbname

    def open(self) -> psycopg.Connection[Any]:
        """A superuser connection in a transaction (the caller commits or rolls back)."""
        return psycopg.connect(self.conninfo)

    def run(self, *argv: str) -> int:
        """The main job in this process (the tests' Spark session): its exit code."""
        return read_tables.main(["--settings", str(self.settings_file()), *argv])


@pytest.fixture(scope="session")
def incr_db(postgres: PostgresServer, tmp_path_factory: Any) -> IncrDb:
    conninfo = fresh_database(postgres, DATABASE, ROLE, PASSWORD, reader=True)
    db = IncrDb(postgres, conninfo, tmp_path_factory.mktemp("incremental"))
    db.execute(f"CREATE SCHEMA w AUTHORIZATION {ROLE}")
    return db


@pytest.fixture(autouse=True)
def _fresh_credentials() -> Iterator[None]:
    clear_credentials_cache()
    yield
    clear_credentials_cache()


def batches(folder: Path) -> List[Path]:
    """The published batch folders of a table, oldest first."""
    return sorted(p for p in folder.glob("batch=*") if p.is_dir())


def batch_rows(spark: Any, batch: Path) -> List[Tuple[Any, ...]]:
    """The rows of one batch, sorted."""
    return sorted(tuple(r) for r in spark.read.parquet(str(batch)).collect())


def state_of(batch: Path) -> Dict[str, Any]:
    """The state file of a batch, parsed."""
    data: Dict[str, Any] = json.loads((batch / "_sparkpg_incremental.json").read_text())
    return data


def rewrite_state(batch: Path, **changes: Optional[Any]) -> None:
    """Tamper with a batch's state file (simulating another cluster, a restore...)."""
    data = state_of(batch)
    data.update(changes)
    (batch / "_sparkpg_incremental.json").write_text(json.dumps(data))
    (batch / "._sparkpg_incremental.json.crc").unlink()  # Hadoop's local checksum of the file
