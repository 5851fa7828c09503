"""Fixtures of the read-layer tests: one local Spark session, a database and a reader role.

Spark: ``local[2]``, two shuffle partitions, no UI, UTC everywhere, the JDBC JAR from ``jdbc_jar``.
The database ``sparkpg_read`` belongs to these tests; the role ``sparkpg_reader`` has an awkward
password (quotes, ``;``, ``%``, non-ASCII) that must never show up in plans, logs or errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Mapping

import pytest

from connectors.secrets import clear_credentials_cache
from devtools.postgres_server import PostgresServer
from tests.integration.databases import TestDatabase, fresh_database

DATABASE = "sparkpg_read"
ROLE = "sparkpg_reader"
PASSWORD = "s3cr;t 'pa\"ss' %20 é/?&="
CONNECTION = "it"


@dataclass(frozen=True)
class ReadDb(TestDatabase):
    """The read tests' database: the reader role ``sparkpg_reader``, connection ``it``."""

    ROLE = ROLE
    PASSWORD = PASSWORD
    CONNECTION = CONNECTION
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"max_connections": 4}


@pytest.fixture(scope="session")
def read_db(postgres: PostgresServer, tmp_path_factory: Any) -> ReadDb:
    conninfo = fresh_database(postgres, DATABASE, ROLE, PASSWORD, reader=True)
    return ReadDb(postgres, conninfo, tmp_path_factory.mktemp("read"))


@pytest.fixture(autouse=True)
def _fresh_credentials() -> Iterator[None]:
    clear_credentials_cache()
    yield
    clear_credentials_cache()
