"""Fixtures of the COPY engine tests: a database, a reader role with a hostile password, and a
``read`` helper that plans a source with the type policy and reads it through the engine."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, List, Mapping, Optional, Sequence, Tuple

import psycopg
import pytest

from connectors.settings import Settings
from devtools.postgres_server import PostgresServer
from spark_jobs.db.target import DbTarget, resolve_target
from spark_jobs.engine.session import ENGINE_JAR
from spark_jobs.read.copy_columns import engine_columns
from spark_jobs.read.copy_engine import UnrepresentableCounts, copy_read
from spark_jobs.read.describe import describe_source
from spark_jobs.read.types import plan_columns
from tests.integration.databases import TestDatabase, fresh_database

DATABASE = "sparkpg_engine"
ROLE = "sparkpg_engine_reader"
PASSWORD = "s3cr;t 'pa\"ss' %20 é/?&= \\ $1"
APPLICATION = "sparkpg-engine-test"


@dataclass(frozen=True)
class EngineDb(TestDatabase):
    """The engine tests' database: the reader role, connection ``eng``, the reader's settings
    and JDBC target, and a helper that reads a source through the engine."""

    ROLE = ROLE
    PASSWORD = PASSWORD
    CONNECTION = "eng"
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"application_name": APPLICATION}

    @property
    def settings(self) -> Settings:  # type: ignore[override]
        """The reader's settings (one connection ``eng``)."""
        return TestDatabase.settings(self)

    @cached_property
    def target(self) -> DbTarget:
        """The reader's resolved connection."""
        return resolve_target(self.settings.connection(self.CONNECTION))

    def our_backends(self) -> List[Tuple[Any, ...]]:
        """Backends of the reader role other than idle ones (state, query)."""
        return self.rows(
            f"SELECT state, query FROM pg_stat_activity WHERE usename = '{ROLE}' "
            "AND state IS DISTINCT FROM 'idle'"
        )

    def read(
        self,
        spark: Any,
        source_sql: str,
        *,
        predicates: Sequence[str] = (),
        session_statements: Sequence[str] = ("SET LOCAL jit = off",),
        string_filters: Optional[Mapping[str, str]] = None,
        unrepresentable: str = "null",
        pushdown: Optional[Mapping[str, bool]] = None,
        partition_column: Optional[str] = None,
    ) -> Tuple[Any, UnrepresentableCounts]:
        """Describe and plan ``source_sql`` with the type policy, read it through the engine."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:

            def run(query: str, params: Sequence[Any]) -> List[Tuple[Any, ...]]:
                return [tuple(r) for r in conn.execute(query).fetchall()]  # type: ignore[arg-type]

            columns = describe_source(run, source_sql)
        plans = plan_columns(columns, unrepresentable=unrepresentable)
        return copy_read(
            spark,
            url=self.target.url,
            properties=self.target.properties(),
            source_sql=source_sql,
            columns=engine_columns(columns, plans, string_filters=string_filters),
            predicates=predicates,
            session_statements=session_statements,
            label=source_sql,
            pushdown=pushdown,
            partition_column=partition_column,
        )


@pytest.fixture(scope="session")
def engine_db(postgres: PostgresServer, tmp_path_factory: Any) -> EngineDb:
    if not ENGINE_JAR.is_file():
        pytest.fail(f"{ENGINE_JAR} is missing: run `make jvm`", pytrace=False)
    conninfo = fresh_database(postgres, DATABASE, ROLE, PASSWORD, reader=True)
    return EngineDb(postgres, conninfo, tmp_path_factory.mktemp("engine"))
