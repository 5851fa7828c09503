"""The staging objects of an atomic write, by name: the UNLOGGED table(s) the tasks COPY into,
the chunk registry and the progress sequence of a streaming write, the SQL that moves staged
rows into the target and the SQL that drops them; and the clean-up of what a dead write left.

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Sequence

from connectors.jdbc import TableRef, quote_ident, quote_literal
from spark_jobs.write.columns import ColumnPair, staging_type

if TYPE_CHECKING:
    from spark_jobs.db.connection import DriverConnection

logger = logging.getLogger(__name__)

TAG_COLUMN = "_sparkpg_attempt"
STAGING_PREFIX = "sparkpg_stage_"
#: The chunk registry's name is the staging table's plus this (all go with one advisory lock).
REGISTRY_SUFFIX = "_chunks"
#: A streaming write's chunk tables: the staging table's name plus this and the chunk's tag (a
#: staging name ends in hex digits, never in ``_t`` and digits).
CHUNK_SUFFIX = "_t"
#: The sequence in which the driver publishes how far its moves are (the tasks' back-pressure).
PROGRESS_SUFFIX = "_moved"
#: What the engine replaces with a chunk's tag (WriteSpec.TAG).
TAG_PLACEHOLDER = "{tag}"
_NO_AUTOVACUUM = "WITH (autovacuum_enabled = false)"
#: The registry row in which the driver records why a move failed (the tasks stop on it).
FAILURE_TAG = -1
#: Modes whose moves stream while the tasks run; upsert and insert-missing move at the commit
#: in one statement, so that a key twice in the DataFrame is an error, not "last one wins".
STREAMING_MODES = ("append", "overwrite")


@dataclass(frozen=True)
class Staging:
    """The UNLOGGED tables of one atomic write. Upsert and insert-missing stage every row in one
    table (the DataFrame's types ``c0``... and the chunk tag). Append and overwrite stream: that
    table is only the template of the chunk tables (``<table>_t<tag>``), which the tasks create,
    one per chunk, and the registry lists the committed chunks."""

    schema: str
    table: str  # sparkpg_stage_<run>_<random>

    @property
    def rows(self) -> str:
        """The staged rows' table (streaming: the chunk tables' template), qualified and quoted."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.table)}"

    @property
    def registry(self) -> str:
        """The chunk registry (seq, tag, partition_id), qualified and quoted."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.table + REGISTRY_SUFFIX)}"

    @property
    def progress(self) -> str:
        """The moves' progress (a sequence: ``setval`` is seen at once, outside transactions)."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.table + PROGRESS_SUFFIX)}"

    @property
    def chunk(self) -> str:
        """A chunk's table, qualified and quoted, with :data:`TAG_PLACEHOLDER` for its tag."""
        return (
            f"{quote_ident(self.schema)}.{quote_ident(self.table + CHUNK_SUFFIX + TAG_PLACEHOLDER)}"
        )

    @property
    def lock(self) -> str:
        """The advisory lock's key (``hashtext``) the write holds while it runs."""
        return f"{self.schema}.{self.table}"

    def create_sql(self, pairs: Sequence[ColumnPair], *, streaming: bool) -> List[str]:
        """The staging tables. Streaming: the chunk tables' template (no tag: a chunk's table is
        its tag) and the registry, whose indexes keep the driver's poll (by seq) and each task's
        look for a failure (by tag) proportional to what is new. Autovacuum is off: they are
        written once, read once and dropped, and its VACUUM ANALYZE while the tasks insert would
        only take CPU from the write."""
        columns = [f"{p.staging_name} {staging_type(p.spark_type, p.spark_name)}" for p in pairs]
        if not streaming:
            columns.append(TAG_COLUMN + " bigint")
        statements = [f"CREATE UNLOGGED TABLE {self.rows} ({', '.join(columns)}) {_NO_AUTOVACUUM}"]
        if streaming:
            statements += [
                f"CREATE UNLOGGED TABLE {self.registry} (seq bigint GENERATED ALWAYS AS "
                "IDENTITY PRIMARY KEY, tag bigint NOT NULL, partition_id integer NOT NULL, "
                f"failure text) {_NO_AUTOVACUUM}",
                f"CREATE INDEX ON {self.registry} (tag)",
                f"CREATE SEQUENCE {self.progress} MINVALUE 0 START 0",
            ]
        return statements

    def chunk_create_sql(self) -> str:
        """What a task runs before each chunk's COPY, in its transaction (the engine's
        ``createSql``): the chunk's own table, so that the COPY can FREEZE and the move reads the
        chunk whole, without an index."""
        return f"CREATE UNLOGGED TABLE {self.chunk} (LIKE {self.rows}) {_NO_AUTOVACUUM}"

    def drop_sql(self) -> str:
        """Drops the write's tables (any may be missing): first ends this role's other sessions
        that still lock one of them, then locks the template, so that no late task attempt
        creates a chunk table meanwhile (after the drop its CREATE fails). Those sessions are task
        attempts whose rows do not count (one that lost to a speculative copy, or of a failed
        job); one whose executor hangs would hold its lock, and the drop would wait, as long as
        the executor lives."""
        mine = (
            "c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = "
            f"{quote_literal(self.schema)}) AND c.relkind IN ('r', 'S') "
            f"AND c.relname ~ {quote_literal(staging_family_pattern(self.table))}"
        )
        return (
            "DO $sparkpg$ DECLARE tables text; BEGIN "
            "PERFORM pg_terminate_backend(l.pid) FROM pg_catalog.pg_locks l "
            "JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'relation' AND l.database = (SELECT oid FROM "
            "pg_catalog.pg_database WHERE datname = current_database()) "
            f"AND l.relation IN (SELECT c.oid FROM pg_catalog.pg_class c WHERE {mine}) "
            "AND l.pid <> pg_backend_pid() AND a.usename = current_user; "
            f"IF to_regclass({quote_literal(self.rows)}) IS NOT NULL THEN "
            f"LOCK TABLE {self.rows} IN ACCESS EXCLUSIVE MODE; END IF; "
            "SELECT string_agg(c.oid::regclass::text, ', ') INTO tables "
            f"FROM pg_catalog.pg_class c WHERE {mine} AND c.relkind = 'r'; "
            "IF tables IS NOT NULL THEN EXECUTE 'DROP TABLE IF EXISTS ' || tables; END IF; "
            f"DROP SEQUENCE IF EXISTS {self.progress}; "
            "END $sparkpg$"
        )


_FAMILY_SUFFIX = f"({re.escape(REGISTRY_SUFFIX)}|{re.escape(PROGRESS_SUFFIX)}|{CHUNK_SUFFIX}[0-9]+)"


def staging_family_pattern(table: str) -> str:
    """The names of a write's tables (``re.escape`` is enough for PostgreSQL's ``~``: staging
    names are lowercase letters, digits and underscores)."""
    return f"^{re.escape(table)}{_FAMILY_SUFFIX}?$"


def staging_owner(name: str) -> str:
    """The staging table whose write made the relation ``name`` (itself, its registry, progress
    sequence or one of its chunk tables): the name the write's advisory lock is taken on.

    >>> staging_owner("sparkpg_stage_app_1a2b_t3145728"), staging_owner("sparkpg_stage_x_chunks")
    ('sparkpg_stage_app_1a2b', 'sparkpg_stage_x')
    """
    return re.sub(f"{_FAMILY_SUFFIX}$", "", name)


def move_sql(
    table: TableRef, staging: Staging, pairs: Sequence[ColumnPair], mode: str, key: Sequence[str]
) -> str:
    """The move's ``INSERT ... SELECT``: append and overwrite, of one chunk's table (its tag in
    :data:`TAG_PLACEHOLDER`); upsert and insert-missing, of the committed attempts' rows (one
    ``?``: their tags, bigint[])."""
    targets = ", ".join(quote_ident(p.target.name) for p in pairs)
    values = ", ".join(f"{p.staging_name}::{p.target.type_sql}" for p in pairs)
    source = (
        staging.chunk if mode in STREAMING_MODES else f"{staging.rows} WHERE {TAG_COLUMN} = ANY (?)"
    )
    sql = f"INSERT INTO {table.qualified_name} ({targets}) SELECT {values} FROM {source}"
    if mode in ("upsert", "insert-missing"):
        conflict = ", ".join(quote_ident(k) for k in key)
        updates = [
            f"{quote_ident(p.target.name)} = EXCLUDED.{quote_ident(p.target.name)}"
            for p in pairs
            if p.target.name not in key
        ]
        if mode == "upsert" and updates:
            sql += f" ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(updates)}"
        else:
            sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    return sql


def commit_statements(table: TableRef, mode: str) -> List[str]:
    """What the commit runs before the move, in its transaction. TimeZone UTC: Spark's TIMESTAMP
    (an instant, staged as timestamptz) becomes a ``timestamp`` column's UTC wall time, as the
    read side reads it. JIT off: compiling each bulk move's expressions costs the one backend
    that inserts every row tens to hundreds of milliseconds per move and gains nothing."""
    statements = ["SET LOCAL TimeZone = 'UTC'", "SET LOCAL jit = off"]
    if mode == "overwrite":
        statements.append(f"DELETE FROM {table.qualified_name}")
    return statements


def remove_abandoned_staging(source: DriverConnection, schema: str) -> None:
    """Drop the tables of staging writes in ``schema`` that are gone (no session holds their
    lock): left behind when the server or the driver died before the drop."""
    rows = source.query(
        "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind = 'r' "
        "AND c.relpersistence = 'u' AND starts_with(c.relname, ?)",
        [schema, STAGING_PREFIX],
        what="looking for abandoned staging tables",
    )
    for owner in sorted({staging_owner(name) for (name,) in rows}):
        staging = Staging(schema, owner)
        if source.query("SELECT pg_try_advisory_lock(hashtext(?))", [staging.lock])[0][0]:
            try:
                source.execute(staging.drop_sql(), what=f"dropping {staging.rows}")
                logger.info("dropped the abandoned staging tables of %s.%s", schema, owner)
            finally:
                source.query("SELECT pg_advisory_unlock(hashtext(?))", [staging.lock])
