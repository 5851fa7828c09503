"""Fixtures of the COPY engine tests: a database, a reader role with a hostile password, and a
``read`` helper that plans a source with the type policy and reads it through the engine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import psycopg
import pytest

from connectors.settings import Settings, settings_from_dict
from devtools.postgres_server import PostgresServer
from spark_jobs.db.target import DbTarget, resolve_target
from spark_jobs.engine.session import ENGINE_JAR
from spark_jobs.read.copy_engine import UnrepresentableCounts, copy_read, engine_columns
from spark_jobs.read.describe import describe_source
from spark_jobs.read.types import plan_columns
from tests.integration.databases import fresh_database

DATABASE = "sparkpg_engine"
ROLE = "sparkpg_engine_reader"
PASSWORD = "s3cr;t 'pa\"ss' %20 é/?&= \\ $1"
APPLICATION = "sparkpg-engine-test"


@dataclass(frozen=True)
class EngineDb:
    """The test database: admin conninfo, the reader's settings (connection ``eng``) and JDBC
    target, and SQL helpers."""

    conninfo: str
    settings: Settings
    target: DbTarget

    def execute(self, statement: str) -> None:
        """Run SQL as the superuser (autocommit)."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def rows(self, query: str) -> List[Tuple[Any, ...]]:
        """Rows of ``query`` through psycopg."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(query).fetchall()]  # type: ignore[arg-type]

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


def settings_data(server: PostgresServer, creds: Path) -> Dict[str, Any]:
    """One connection ``eng`` to the test database as the reader role (TLS verify-full)."""
    fields: Dict[str, Any] = {
        "name": "eng",
        "host": "localhost",
        "port": server.port,
        "database": DATABASE,
        "credentials_file": str(creds),
        "connect_timeout_seconds": 5,
        "application_name": APPLICATION,
    }
    if server.ca_cert_path is not None:
        fields.update(ssl_mode="verify-full", ssl_root_cert=str(server.ca_cert_path))
    return {"postgres": {"connections": [fields]}}


@pytest.fixture(scope="session")
def engine_db(postgres: PostgresServer, tmp_path_factory: Any) -> EngineDb:
    if not ENGINE_JAR.is_file():
        pytest.fail(f"{ENGINE_JAR} is missing: run `make jvm`", pytrace=False)
    conninfo = fresh_database(postgres, DATABASE, ROLE, PASSWORD, reader=True)
    creds = tmp_path_factory.mktemp("engine") / "creds.json"
    creds.write_text(json.dumps({"username": ROLE, "password": PASSWORD}))
    settings = settings_from_dict(settings_data(postgres, creds), source="test")
    return EngineDb(conninfo, settings, resolve_target(settings.connection("eng")))
