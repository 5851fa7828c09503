"""The four public sample databases of ``../shared/realworld`` (Pagila, Chinook, Northwind,
World), each loaded into its own database on the session's server and read whole with sparkpg
(``load_tables``): every value compared with what PostgreSQL holds (``tests/realworld_compare``).

The files are read from where they are (``../shared/realworld``, or ``SPARKPG_REALWORLD_DIR``;
never copied into the repository); the test fails, not skips, when they are missing.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import psycopg
import pytest
from psycopg import sql

from connectors.jdbc import TableRef, quote_ident
from devtools.postgres_server import PostgresServer
from spark_jobs import load_tables
from spark_jobs.read.describe import describe_source
from spark_jobs.read.types import plan_columns
from tests import REPO
from tests.integration.conftest import server_settings
from tests.integration.test_types import output_texts, run_query_on
from tests.realworld_compare import compare_rows

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.slow]


def _realworld_dir() -> Path:
    """``SPARKPG_REALWORLD_DIR``, else ``shared/realworld`` beside the repository (or beside a
    folder holding it, for git worktrees)."""
    if os.environ.get("SPARKPG_REALWORLD_DIR"):
        return Path(os.environ["SPARKPG_REALWORLD_DIR"])
    root = REPO
    candidates = [parent / "shared" / "realworld" for parent in root.parents]
    return next((c for c in candidates if c.is_dir()), candidates[0])


REALWORLD = _realworld_dir()
_COPY_FROM_FILE = re.compile(
    r"COPY (\w+) \(([^)]*)\)\s*FROM '/docker-entrypoint-initdb\.d/([\w.]+)'\s*WITH \([^)]*\);"
)


def _psql(postgres: PostgresServer, database: str, script: Path) -> None:
    done = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", postgres.conninfo(dbname=database),
         "-f", str(script)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"loading {script.name}: {done.stderr[-2000:]}"


def _load_pagila(postgres: PostgresServer, conn: psycopg.Connection[Any], tmp: Path) -> None:
    _psql(postgres, conn.info.dbname, REALWORLD / "pagila-schema.sql")
    _psql(postgres, conn.info.dbname, REALWORLD / "pagila-data.sql")
    conn.execute("REFRESH MATERIALIZED VIEW rental_by_category")


def _load_chinook(postgres: PostgresServer, conn: psycopg.Connection[Any], tmp: Path) -> None:
    # The file creates and connects to a database of its own: load it into ours instead.
    text = (REALWORLD / "chinook.sql").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(DROP DATABASE|CREATE DATABASE|\\c ).*$", "", text)
    script = tmp / "chinook.sql"
    script.write_text(text, encoding="utf-8")
    _psql(postgres, conn.info.dbname, script)


def _load_northwind(postgres: PostgresServer, conn: psycopg.Connection[Any], tmp: Path) -> None:
    _psql(postgres, conn.info.dbname, REALWORLD / "northwind.sql")


def _load_world(postgres: PostgresServer, conn: psycopg.Connection[Any], tmp: Path) -> None:
    # Its COPY statements name a container path: psql's \copy reads the CSVs from here instead,
    # at the same place in the script (its constraints come after the data).
    text = (REALWORLD / "world.sql").read_text(encoding="utf-8")
    script, copies = _COPY_FROM_FILE.subn(
        lambda m: (
            f"\\copy {m[1]} ({m[2]}) FROM '{REALWORLD / m[3]}' WITH (FORMAT csv, HEADER true)"
        ),
        text,
    )
    assert copies == 4
    (tmp / "world.sql").write_text(script, encoding="utf-8")
    _psql(postgres, conn.info.dbname, tmp / "world.sql")


LOADERS: Dict[str, Callable[[PostgresServer, psycopg.Connection[Any], Path], None]] = {
    "pagila": _load_pagila,
    "chinook": _load_chinook,
    "northwind": _load_northwind,
    "world": _load_world,
}

_RELATIONS = """
SELECT n.nspname::text, c.relname::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1, 2
"""


@pytest.mark.parametrize("sample", sorted(LOADERS))
def test_every_table_of_a_sample_database_reads_value_by_value(
    sample: str,
    spark: Any,
    postgres: PostgresServer,
    pg_admin: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:
    assert REALWORLD.is_dir(), f"the sample databases are missing: {REALWORLD}"
    database = f"realworld_{sample}"
    pg_admin.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
    )
    pg_admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    with psycopg.connect(postgres.conninfo(dbname=database), autocommit=True) as conn:
        LOADERS[sample](postgres, conn, tmp_path)
        relations: List[Tuple[str, str]] = conn.execute(_RELATIONS).fetchall()
        assert len(relations) >= 4, relations
        settings = server_settings(postgres, tmp_path, name=sample, database=database)
        frames = load_tables(
            spark, settings, [TableRef(sample, schema, table) for schema, table in relations]
        )
        assert sorted(frames) == sorted(table for _, table in relations)
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET DateStyle = 'ISO, YMD'")
        problems: Dict[str, List[str]] = {}
        values = 0
        for schema, table in relations:
            source = f"{quote_ident(schema)}.{quote_ident(table)}"
            plans = plan_columns(describe_source(run_query_on(conn), source))
            df = frames[table]
            assert df.columns == [p.dataframe_name for p in plans], table
            spark_types = [f.dataType.simpleString() for f in df.schema.fields]
            select = [
                f"pg_catalog.to_json({quote_ident(p.name)})"
                if t.startswith("array<")
                else quote_ident(p.name)
                for p, t in zip(plans, spark_types)
            ]
            pg_rows = output_texts(conn, sql.SQL(f"SELECT {', '.join(select)} FROM {source}"))  # type: ignore[arg-type]
            spark_rows = df.collect()
            values += len(pg_rows) * len(plans)
            found = compare_rows(pg_rows, spark_rows, plans, spark_types)
            if found:
                problems[table] = found
        assert problems == {}
        assert values > 1000
    pg_admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
