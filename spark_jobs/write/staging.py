"""The staging objects of an atomic write, by name: the UNLOGGED table(s) the tasks COPY into,
the chunk registry and the progress sequence of a streaming write, the SQL that moves staged
rows into the target and the SQL that drops them; and the clean-up of what a dead write left.

Every staging object carries its write's marker (:func:`marker`, a ``COMMENT`` set in the
transaction that creates it) and a name of the exact generated shape (:data:`STAGING_NAME`); the
drop and the clean-up touch nothing else, and never a logged table (docs/writing.md, "Staging
objects and reserved names").

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from connectors.errors import SparkPgError, WriteRefusedError
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
#: The comment of every staging object: this plus its write's staging table name.
MARKER_PREFIX = "sparkpg staging "
#: A write's staging table: the prefix, the last 16 characters of the Spark application id
#: (other characters than letters and digits as ``_``, lowercase) and 10 random hex digits.
STAGING_NAME = re.compile(r"sparkpg_stage_[a-z0-9_]{1,16}_[0-9a-f]{10}")
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

    @classmethod
    def new(cls, schema: str, application_id: str) -> Staging:
        """A new write's staging objects in ``schema``: :data:`STAGING_NAME`, at most 41
        characters (a chunk table adds ``_t`` and up to 19 digits: within PostgreSQL's 63)."""
        run = re.sub(r"[^A-Za-z0-9]", "_", application_id)[-16:]
        return cls(schema, f"{STAGING_PREFIX}{run}_{uuid.uuid4().hex[:10]}".lower())

    @property
    def marker(self) -> str:
        """The comment every object of this write carries (see the module's docstring)."""
        return MARKER_PREFIX + self.table

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
        """The staging tables, each with its marker. Streaming: the chunk tables' template (no
        tag: a chunk's table is its tag), the registry, whose indexes keep the driver's poll (by
        seq) and each task's look for a failure (by tag) proportional to what is new, and the
        progress sequence. Autovacuum is off: they are written once, read once and dropped, and
        its VACUUM ANALYZE while the tasks insert would only take CPU from the write. Run them
        with :func:`one_transaction`: all or nothing."""
        columns = [f"{p.staging_name} {staging_type(p.spark_type, p.spark_name)}" for p in pairs]
        if not streaming:
            columns.append(TAG_COLUMN + " bigint")
        statements = [f"CREATE UNLOGGED TABLE {self.rows} ({', '.join(columns)}) {_NO_AUTOVACUUM}"]
        statements.append(self._mark("TABLE", self.rows))
        if streaming:
            statements += [
                f"CREATE UNLOGGED TABLE {self.registry} (seq bigint GENERATED ALWAYS AS "
                "IDENTITY PRIMARY KEY, tag bigint NOT NULL, partition_id integer NOT NULL, "
                f"failure text) {_NO_AUTOVACUUM}",
                self._mark("TABLE", self.registry),
                f"CREATE INDEX ON {self.registry} (tag)",
                f"CREATE SEQUENCE {self.progress} MINVALUE 0 START 0",
                self._mark("SEQUENCE", self.progress),
            ]
        return statements

    def chunk_create_sql(self) -> str:
        """What a task runs before each chunk's COPY, in its transaction (the engine's
        ``createSql``): the chunk's own table, marked, so that the COPY can FREEZE and the move
        reads the chunk whole, without an index."""
        return (
            f"CREATE UNLOGGED TABLE {self.chunk} (LIKE {self.rows}) {_NO_AUTOVACUUM}; "
            + self._mark("TABLE", self.chunk)
        )

    def _mark(self, kind: str, name: str) -> str:
        return f"COMMENT ON {kind} {name} IS {quote_literal(self.marker)}"

    def drop_sql(self, *, end_attempts: bool = True) -> str:
        """Drops the write's objects (any may be missing; only those with its marker, tables only
        when UNLOGGED). With ``end_attempts`` it first ends the sessions that still lock one of
        them and are attempts of this write: the same role and the same ``application_name`` as
        the session that drops (the write's tasks connect with the driver's URL). Those are task
        attempts whose rows do not count (one that lost to a speculative copy, or of a failed
        job); one whose executor hangs would hold its lock, and the drop would wait, as long as
        the executor lives. Then it locks the template, so that no late task attempt creates a
        chunk table meanwhile (after the drop its CREATE fails). The clean-up of another write's
        leftovers ends no session (``end_attempts=False``): the session's ``lock_timeout`` bounds
        its wait."""
        mine = (
            "c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = "
            f"{quote_literal(self.schema)}) "
            f"AND c.relname ~ {quote_literal(staging_family_pattern(self.table))} "
            "AND (c.relkind = 'S' OR (c.relkind = 'r' AND c.relpersistence = 'u')) "
            f"AND pg_catalog.obj_description(c.oid, 'pg_class') = {quote_literal(self.marker)}"
        )
        ending = (
            "PERFORM pg_terminate_backend(l.pid) FROM pg_catalog.pg_locks l "
            "JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'relation' AND l.database = (SELECT oid FROM "
            "pg_catalog.pg_database WHERE datname = current_database()) "
            f"AND l.relation IN (SELECT c.oid FROM pg_catalog.pg_class c WHERE {mine}) "
            "AND l.pid <> pg_backend_pid() AND a.usename = current_user "
            "AND a.application_name = current_setting('application_name'); "
        )
        return (
            "DO $sparkpg$ DECLARE tables text; sequences text; BEGIN "
            + (ending if end_attempts else "")
            + f"IF pg_catalog.obj_description(to_regclass({quote_literal(self.rows)}), "
            f"'pg_class') = {quote_literal(self.marker)} THEN "
            f"LOCK TABLE {self.rows} IN ACCESS EXCLUSIVE MODE; END IF; "
            "SELECT string_agg(c.oid::regclass::text, ', ') FILTER (WHERE c.relkind = 'r'), "
            "string_agg(c.oid::regclass::text, ', ') FILTER (WHERE c.relkind = 'S') "
            f"INTO tables, sequences FROM pg_catalog.pg_class c WHERE {mine}; "
            "IF tables IS NOT NULL THEN EXECUTE 'DROP TABLE IF EXISTS ' || tables; END IF; "
            "IF sequences IS NOT NULL THEN EXECUTE 'DROP SEQUENCE IF EXISTS ' || sequences; "
            "END IF; END $sparkpg$"
        )


def one_transaction(statements: Sequence[str]) -> str:
    """``statements`` as one statement (a ``DO`` block): all of them or, when one fails or is
    cancelled, none."""
    return "DO $sparkpg$ BEGIN " + " ".join(f"{s};" for s in statements) + " END $sparkpg$"


_FAMILY_SUFFIX = f"({re.escape(REGISTRY_SUFFIX)}|{re.escape(PROGRESS_SUFFIX)}|{CHUNK_SUFFIX}[0-9]+)"


def staging_family_pattern(table: str) -> str:
    """The names of a write's tables (``re.escape`` is enough for PostgreSQL's ``~``: staging
    names are lowercase letters, digits and underscores)."""
    return f"^{re.escape(table)}{_FAMILY_SUFFIX}?$"


def staging_object(name: str, kind: str, persistence: str, comment: Optional[str]) -> Optional[str]:
    """The staging table of the write that made the relation ``name`` (``pg_class.relkind``
    ``kind``, ``relpersistence``, its comment), or None when it is not a staging object: the
    exact name shape, the marker of that write, an UNLOGGED table or a sequence.

    >>> staging_object("sparkpg_stage_app_0c1d2e3f4a_t7", "r", "u", "sparkpg staging "
    ...                "sparkpg_stage_app_0c1d2e3f4a")
    'sparkpg_stage_app_0c1d2e3f4a'
    >>> staging_object("sparkpg_stage_foo", "r", "u", None) is None
    True
    """
    table = staging_owner(name)
    if not STAGING_NAME.fullmatch(table) or comment != MARKER_PREFIX + table:
        return None
    return table if kind == "S" or (kind == "r" and persistence == "u") else None


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
    values = ", ".join(f"{p.staging_name}::{p.target.cast_sql}" for p in pairs)
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


def check_staging_schema(source: DriverConnection, schema: str) -> None:
    """Refuse a staging schema that does not exist or in which the role may not create."""
    rows = source.query(
        "SELECT has_schema_privilege(n.oid, 'CREATE'), current_user FROM "
        "pg_catalog.pg_namespace n WHERE n.nspname = ?",
        [schema],
        what=f"checking the staging schema {schema!r}",
    )
    if not rows:
        raise WriteRefusedError(
            f"staging schema {schema!r} does not exist: create it, or pass staging_schema= a "
            'schema in which the writer role has CREATE (docs/writing.md, "Staging objects and '
            'reserved names")'
        )
    allowed, role = rows[0]
    if not allowed:
        raise WriteRefusedError(
            f"role {role!r} lacks CREATE on schema {schema!r}, where an atomic write creates its "
            f"staging tables: GRANT CREATE ON SCHEMA {quote_ident(schema)} TO "
            f"{quote_ident(str(role))}, or pass staging_schema= a schema in which it has CREATE "
            '(docs/writing.md, "Staging objects and reserved names")'
        )


def remove_abandoned_staging(source: DriverConnection, schema: str) -> None:
    """Drop the staging objects in ``schema`` of writes that are gone (no session holds their
    advisory lock): left behind when the server or the driver died before the drop. Only
    sparkpg's own objects (:func:`staging_object`) of this role are dropped; another role's are
    skipped with a warning, and so are those still locked after the session's lock_timeout."""
    rows = source.query(
        "SELECT c.relname, c.relkind, c.relpersistence, "
        "pg_catalog.obj_description(c.oid, 'pg_class'), pg_catalog.pg_get_userbyid(c.relowner), "
        "pg_catalog.pg_has_role(c.relowner, 'USAGE') FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? "
        "AND c.relkind IN ('r', 'S') AND starts_with(c.relname, ?)",
        [schema, STAGING_PREFIX],
        what="looking for abandoned staging tables",
    )
    writes: Dict[str, List[Tuple[str, str, bool]]] = {}
    for name, kind, persistence, comment, owner, owned in rows:
        table = staging_object(str(name), str(kind), str(persistence), comment)
        if table is not None:
            writes.setdefault(table, []).append((str(name), str(owner), bool(owned)))
    for table, objects in sorted(writes.items()):
        foreign = sorted((name, owner) for name, owner, owned in objects if not owned)
        if foreign:
            logger.warning(
                "left alone the staging objects of another role in schema %s: %s (drop them as "
                "their owner, docs/writing.md)",
                schema,
                ", ".join(f"{name} (owner {owner})" for name, owner in foreign),
            )
            continue
        staging = Staging(schema, table)
        if source.query("SELECT pg_try_advisory_lock(hashtext(?))", [staging.lock])[0][0]:
            try:
                source.execute(
                    staging.drop_sql(end_attempts=False), what=f"dropping {staging.rows}"
                )
                logger.info("dropped the abandoned staging objects of %s.%s", schema, table)
            except SparkPgError as exc:
                logger.warning("could not drop the abandoned staging objects %s: %s", table, exc)
            finally:
                source.query("SELECT pg_advisory_unlock(hashtext(?))", [staging.lock])
