"""Write DataFrames to PostgreSQL: checked before any task runs, atomic, exactly once, by COPY.

>>> write_table(df, settings, "aurora.public.orders")  # doctest: +SKIP
>>> write_table(df, settings, "aurora.orders", mode="upsert", key=["id"])  # doctest: +SKIP

How a write runs (``docs/writing.md``):

1. The driver, through the JVM's pgjdbc (the read side's connection options, credentials, TLS,
   timeouts, ``application_name``), refuses a reader endpoint or a ``read_only`` connection,
   checks (or creates) the target, matches the DataFrame's columns to the target's, checks their
   types and the upsert key, and creates an UNLOGGED staging table (``sparkpg_stage_<run>``, in
   the target's schema or ``staging_schema``) with the DataFrame's types plus a task-attempt tag.
2. Each task attempt streams its rows with ``COPY staging FROM STDIN (FORMAT binary)``
   (the engine ``io.sparkpg.engine.write.WriteSource``), tagged with its task attempt id.
3. Spark's commit coordinator lets one attempt per partition commit; the driver moves exactly
   those attempts' rows into the target in one transaction (``INSERT ... SELECT`` casting to the
   target's types, after ``DELETE`` for ``overwrite``, ``ON CONFLICT`` for ``upsert`` and
   ``insert-missing``) and drops the staging table. Any failure drops it and leaves the target
   unchanged.

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple, Union

from connectors.errors import SparkPgError, WriteFailedError, WriteRefusedError
from connectors.jdbc import TableRef, driver_properties, quote_ident, quote_literal
from spark_jobs.copy_engine import PROPERTY_PREFIX, engine_missing, java_error_text
from spark_jobs.jdbc_client import JdbcSource, JdbcTarget, connect, resolve_target

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from connectors.settings import Settings

logger = logging.getLogger(__name__)

WRITE_SOURCE = "io.sparkpg.engine.write.WriteSource"
MODES = ("append", "overwrite", "upsert", "insert-missing")
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
#: What the engine says when the COMMIT itself failed (StagedWrite.COMMIT_OUTCOME_UNKNOWN).
COMMIT_OUTCOME_UNKNOWN = (
    "the connection was lost during the commit: whether the rows were committed is unknown"
)
#: Spark conf: COPY bytes per chunk (default 4 MiB, jvm/README.md): smaller chunks start the
#: moves sooner and leave less to move after the last task, at one commit per chunk.
CHUNK_BYTES_CONF = "spark.sparkpg.write.chunkBytes"

#: Spark type (``DataType.simpleString()``) -> PostgreSQL type: the staging table's columns, and
#: the columns ``create=True`` makes (the inverse of docs/types.md). The engine's encoder
#: (jvm/src/io/sparkpg/engine/write/RowEncoder.java) writes exactly these types.
STAGING_TYPES: Dict[str, str] = {
    "boolean": "boolean",
    "tinyint": "smallint",
    "smallint": "smallint",
    "int": "integer",
    "bigint": "bigint",
    "float": "real",
    "double": "double precision",
    "string": "text",
    "binary": "bytea",
    "date": "date",
    "timestamp": "timestamp with time zone",
    "timestamp_ntz": "timestamp without time zone",
}
_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")
_ARRAY = re.compile(r"array<(.+)>")

_INTEGERS = frozenset({"int2", "int4", "int8", "oid"})
_FLOATS = frozenset({"float4", "float8"})
_NUMBERS = _INTEGERS | _FLOATS | {"numeric", "money"}
#: Target base types a Spark STRING may not go into (the read side never reads them as text).
_NOT_FROM_TEXT = _INTEGERS | _FLOATS | {"bool", "bytea"}


@dataclass(frozen=True)
class TargetColumn:
    """A column of the target table, from the catalog."""

    name: str
    type_sql: str  # format_type(): what the final INSERT casts to
    base_type: str  # the type's name, domains resolved (int4, numeric, text, _int4 ...)
    category: str  # pg_type.typcategory of the base type (N, S, D, B, A, ...)
    element_type: Optional[str]  # for arrays, the element's base type name
    not_null: bool
    has_default: bool  # a default, an identity or a generated value
    generated: bool


@dataclass(frozen=True)
class ColumnPair:
    """A DataFrame column (position, name, Spark type) and the target column it goes to."""

    position: int
    spark_name: str
    spark_type: str
    target: TargetColumn

    @property
    def staging_name(self) -> str:
        """The staging table's column (``c0``, ``c1``, ...)."""
        return f"c{self.position}"


def staging_type(spark_type: str, column: str) -> str:
    """The PostgreSQL type holding a Spark type exactly (see :data:`STAGING_TYPES`).

    >>> staging_type("decimal(12,2)", "total"), staging_type("array<int>", "ids")
    ('numeric(12,2)', 'integer[]')
    """
    if spark_type in STAGING_TYPES:
        return STAGING_TYPES[spark_type]
    decimal = _DECIMAL.fullmatch(spark_type)
    if decimal:
        return f"numeric({decimal.group(1)},{decimal.group(2)})"
    array = _ARRAY.fullmatch(spark_type)
    if (array and array.group(1) in STAGING_TYPES) or (
        array and _DECIMAL.fullmatch(array.group(1))
    ):
        return staging_type(array.group(1), column) + "[]"
    raise WriteRefusedError(
        f"column {column!r} has Spark type {spark_type}, which sparkpg cannot write; cast it to "
        "one of the types in docs/writing.md (for example to_json() for structs and maps)"
    )


def match_columns(
    spark_columns: Sequence[Tuple[str, str]], target: Sequence[TargetColumn], *, table: str
) -> List[ColumnPair]:
    """Pair each DataFrame column ``(name, spark type)`` with a target column: exact name, else
    case-insensitive (with a warning). Refuses extra columns, columns without a writable target,
    two columns for one target, target columns left out that are NOT NULL without a default,
    and incompatible types (:func:`check_compatible`)."""
    by_name = {c.name: c for c in target}
    by_folded: Dict[str, List[TargetColumn]] = {}
    for c in target:
        by_folded.setdefault(c.name.lower(), []).append(c)
    pairs: List[ColumnPair] = []
    extras: List[str] = []
    for position, (name, spark_type) in enumerate(spark_columns):
        staging_type(spark_type, name)  # refuses types the engine cannot write
        column = by_name.get(name)
        if column is None:
            candidates = by_folded.get(name.lower(), [])
            if len(candidates) == 1:
                column = candidates[0]
                logger.warning(
                    "%s: DataFrame column %r written to column %r (names differ in case)",
                    table,
                    name,
                    column.name,
                )
        if column is None:
            extras.append(name)
            continue
        pairs.append(ColumnPair(position, name, spark_type, column))
    if extras:
        raise WriteRefusedError(
            f"{table} has no column {', '.join(repr(e) for e in extras)} (target columns: "
            f"{', '.join(c.name for c in target)}): drop or rename the DataFrame's columns"
        )
    used: Dict[str, str] = {}
    for pair in pairs:
        if pair.target.name in used:
            raise WriteRefusedError(
                f"{table}: DataFrame columns {used[pair.target.name]!r} and {pair.spark_name!r} "
                f"both go to column {pair.target.name!r}: rename one"
            )
        used[pair.target.name] = pair.spark_name
        if pair.target.generated:
            raise WriteRefusedError(
                f"{table}: column {pair.target.name!r} is generated and cannot be written: drop "
                f"{pair.spark_name!r} from the DataFrame"
            )
        check_compatible(pair, table=table)
    missing = [c.name for c in target if c.name not in used and c.not_null and not c.has_default]
    if missing:
        raise WriteRefusedError(
            f"{table}: column(s) {', '.join(repr(m) for m in missing)} are NOT NULL without a "
            "default and the DataFrame has no such column: add them to the DataFrame"
        )
    return pairs


def check_compatible(pair: ColumnPair, *, table: str) -> None:
    """Refuse a Spark type the target column's type cannot take without changing its meaning
    (a string into an integer, a fraction into an integer, a number into a date, ...). Strings go
    into every other type: the server parses them at commit (how text-kept values such as
    unconstrained numeric, interval or ranges write back exactly)."""
    if not _compatible(
        pair.spark_type, pair.target.base_type, pair.target.category, pair.target.element_type
    ):
        raise WriteRefusedError(
            f"{table}: DataFrame column {pair.spark_name!r} ({pair.spark_type}) cannot be "
            f"written to column {pair.target.name!r} ({pair.target.type_sql}): cast it in Spark "
            "first (docs/writing.md lists what goes where)"
        )


def _compatible(spark_type: str, base: str, category: str, element: Optional[str]) -> bool:
    if category == "S" or base in ("json", "jsonb"):  # text types take anything
        return spark_type != "binary" or base not in ("json", "jsonb")
    array = _ARRAY.fullmatch(spark_type)
    if array:
        return category == "A" and _compatible(array.group(1), element or "", "", None)
    if spark_type == "string":
        return base not in _NOT_FROM_TEXT
    if spark_type == "boolean":
        return base == "bool"
    if spark_type in ("tinyint", "smallint", "int", "bigint"):
        return base in _NUMBERS
    if spark_type in ("float", "double"):
        return base in _FLOATS | {"numeric"}
    decimal = _DECIMAL.fullmatch(spark_type)
    if decimal:
        return base in _NUMBERS - _INTEGERS or (base in _INTEGERS and decimal.group(2) == "0")
    if spark_type == "binary":
        return base == "bytea"
    if spark_type == "date":
        return base in ("date", "timestamp", "timestamptz")
    if spark_type in ("timestamp", "timestamp_ntz"):
        return base in ("timestamp", "timestamptz")
    return False


def create_table_sql(table: TableRef, spark_columns: Sequence[Tuple[str, str]]) -> str:
    """``CREATE TABLE`` for ``create=True``: one column per DataFrame column, named as in the
    DataFrame, typed by :data:`STAGING_TYPES`, all nullable, no key."""
    columns = ", ".join(
        f"{quote_ident(name)} {staging_type(spark_type, name)}"
        for name, spark_type in spark_columns
    )
    return f"CREATE TABLE {table.qualified_name} ({columns})"


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


def write_table(
    df: DataFrame,
    settings: Settings,
    table: Union[str, TableRef],
    *,
    mode: str = "append",
    key: Optional[Sequence[str]] = None,
    create: bool = False,
    atomic: bool = True,
    staging_schema: Optional[str] = None,
) -> None:
    """Write ``df`` to ``connection.schema.table`` atomically: all rows or none, each exactly once.

    ``mode``: ``append``; ``overwrite`` (the rows are replaced in one transaction, the table with
    its grants, indexes, constraints, triggers and dependent views stays); ``upsert`` (insert, or
    update the row with the same ``key``); ``insert-missing`` (insert, skip rows whose ``key``
    exists). ``key`` (upsert, insert-missing): target column names matching a unique index or the
    primary key. ``create``: create a missing target with the types of docs/writing.md.
    ``staging_schema``: where the staging table goes (default: the target's schema).
    ``atomic=False`` (append only): each task COPYs straight into the target and commits on its
    own: faster, NOT atomic (a failed job leaves the rows of the tasks that finished, a retried
    task writes its rows again); every column's Spark type must be the target's exact type.

    At most the connection's ``max_connections`` tasks write at once (a DataFrame with more
    partitions is coalesced). Runs one Spark job; raises :class:`WriteRefusedError` before any row
    is written, :class:`WriteFailedError` when the job or the commit fails (target unchanged).
    """
    ref = table if isinstance(table, TableRef) else TableRef.parse(table)
    if mode not in MODES:
        raise WriteRefusedError(f"mode={mode!r}: expected one of {', '.join(MODES)}")
    keys = list(key or ())
    if mode in ("upsert", "insert-missing") and not keys:
        raise WriteRefusedError(f"mode={mode!r} needs key=[...]: the columns of a unique index")
    if not atomic and mode != "append":
        raise WriteRefusedError(f"atomic=False is only for mode='append', not mode={mode!r}")
    if mode not in ("upsert", "insert-missing") and keys:
        raise WriteRefusedError(f"key= is only for upsert and insert-missing, not mode={mode!r}")
    connection = settings.connection(ref.connection)
    _check_writable(connection, ref)
    spark = df.sparkSession
    target = resolve_target(connection)
    _check_writer_endpoint(target, ref)
    spark_columns = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
    source = connect(spark, target)
    try:
        if atomic:
            _write(df, spark, source, ref, spark_columns, mode, keys, create, staging_schema)
        else:
            _write_direct(df, source, ref, spark_columns, create)
    finally:
        source.close()


def _check_writable(connection: object, ref: TableRef) -> None:
    if getattr(connection, "read_only", True):
        raise WriteRefusedError(
            f'connection {ref.connection!r} is read-only: set "read_only": false on '
            "postgres.connections[] in the settings to write to it (and point it at the writer "
            "endpoint)"
        )


def _check_writer_endpoint(target: JdbcTarget, ref: TableRef) -> None:
    if target.endpoint.is_reader:
        raise WriteRefusedError(
            f"connection {ref.connection!r} points at the Aurora reader endpoint "
            f"{target.endpoint.host}, which cannot write: set its host to the cluster (writer) "
            "endpoint (the one without -ro-)"
        )


def _write(
    df: DataFrame,
    spark: SparkSession,
    source: JdbcSource,
    ref: TableRef,
    spark_columns: List[Tuple[str, str]],
    mode: str,
    keys: List[str],
    create: bool,
    staging_schema: Optional[str],
) -> None:
    columns = _existing_or_created(source, ref, spark_columns, create)
    pairs = match_columns(spark_columns, columns, table=str(ref))
    if keys:
        check_key(source, ref, keys)
    schema = staging_schema or ref.schema
    remove_abandoned_staging(source, schema)
    # At most 14 + 16 + 1 + 10 = 41 characters: a chunk table adds _t and a tag of up to 19
    # digits and stays within PostgreSQL's 63.
    run = re.sub(r"[^A-Za-z0-9]", "_", spark.sparkContext.applicationId)[-16:]
    staging = Staging(schema, f"{STAGING_PREFIX}{run}_{uuid.uuid4().hex[:10]}".lower())
    # Held while the job runs: another write removes staging tables nobody holds (left behind
    # when the server or the driver died before the drop).
    source.query("SELECT pg_advisory_lock(hashtext(?))", [staging.lock])
    try:
        for statement in staging.create_sql(pairs, streaming=mode in STREAMING_MODES):
            source.execute(statement, what=f"creating the staging table {staging.rows}")
        options = _engine_options(source.target, ref, staging, pairs, mode, keys)
        options.update(_chunk_option(spark))
        renamed = _bounded(df, source).toDF(*[p.staging_name for p in pairs])
        _save(renamed, options, ref)
    finally:
        try:
            source.execute(staging.drop_sql(), what=f"dropping {staging.rows}")
        except SparkPgError as exc:
            logger.warning("%s: could not drop the staging table %s: %s", ref, staging.rows, exc)


def _write_direct(
    df: DataFrame,
    source: JdbcSource,
    ref: TableRef,
    spark_columns: List[Tuple[str, str]],
    create: bool,
) -> None:
    pairs = match_columns(
        spark_columns, _existing_or_created(source, ref, spark_columns, create), table=str(ref)
    )
    for pair in pairs:
        check_exact(pair, table=str(ref))
    names = ", ".join(quote_ident(p.target.name) for p in pairs)
    options = {
        "url": source.target.url,
        "copySql": f"COPY {ref.qualified_name} ({names}) FROM STDIN (FORMAT binary)",
        "tagged": "false",
        "label": str(ref),
    }
    for name, value in driver_properties(source.target.options()).items():
        options[PROPERTY_PREFIX + name] = value
    _save(_bounded(df, source), options, ref)


def check_exact(pair: ColumnPair, *, table: str) -> None:
    """For ``atomic=False``: binary COPY into the target needs the target's exact type."""
    staged = staging_type(pair.spark_type, pair.spark_name)
    scalar = staged[:-2] if staged.endswith("[]") else staged
    if scalar.startswith("numeric"):  # binary numeric is rounded to the column's scale: same typmod
        target = pair.target.type_sql[:-2] if staged.endswith("[]") else pair.target.type_sql
        name: Optional[str] = "numeric" if target in (scalar, "numeric") else None
    else:
        name = _BINARY_NAMES.get(scalar)
    expected = ("_" + name if staged.endswith("[]") else name) if name else None
    actual = pair.target.base_type
    if actual in ("varchar", "_varchar"):  # varchar takes text's binary form
        actual = actual.replace("varchar", "text")
    if expected is None or expected != actual:
        raise WriteRefusedError(
            f"{table}: atomic=False needs DataFrame column {pair.spark_name!r} "
            f"({pair.spark_type}) to have column {pair.target.name!r}'s exact type "
            f"({pair.target.type_sql}): cast it in Spark, or write with atomic=True"
        )


_BINARY_NAMES = {
    "boolean": "bool",
    "smallint": "int2",
    "integer": "int4",
    "bigint": "int8",
    "real": "float4",
    "double precision": "float8",
    "text": "text",
    "bytea": "bytea",
    "date": "date",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
}


def _bounded(df: DataFrame, source: JdbcSource) -> DataFrame:
    """``df`` with at most ``max_connections`` partitions (coalesced, no shuffle)."""
    max_connections = source.target.connection.max_connections
    return df.coalesce(max_connections) if df.rdd.getNumPartitions() > max_connections else df


def _existing_or_created(
    source: JdbcSource, ref: TableRef, spark_columns: List[Tuple[str, str]], create: bool
) -> List[TargetColumn]:
    columns = target_columns(source, ref)
    if columns:
        return columns
    if not create:
        raise WriteRefusedError(
            f"table {ref} does not exist: create it, or pass create=True to create it with "
            "the DataFrame's columns (types: docs/writing.md)"
        )
    source.execute(create_table_sql(ref, spark_columns), what=f"creating {ref}")
    return target_columns(source, ref)


def _save(df: DataFrame, options: Dict[str, str], ref: TableRef) -> None:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors.exceptions.captured import CapturedException

    try:
        df.write.format(WRITE_SOURCE).options(**options).mode("append").save()
    except (Py4JJavaError, CapturedException) as exc:
        text = java_error_text(exc)
        missing = engine_missing(text, f"the write engine ({WRITE_SOURCE})", "docs/writing.md")
        if missing:
            raise WriteFailedError(missing) from None
        found = re.search(r"SQLSTATE (\w{5})", text)
        sqlstate = found.group(1) if found else None
        cause = _cause(text, str(ref))
        if cause.startswith(COMMIT_OUTCOME_UNKNOWN):
            raise WriteFailedError(
                f"writing {ref}: {cause}. Check the target before retrying (docs/writing.md, "
                '"When the server crashes mid-write")',
                sqlstate=sqlstate,
            ) from None
        hint = ""
        if sqlstate is not None and sqlstate.startswith("08"):
            hint = " (the connection to the server was lost: retry once it answers again)"
        raise WriteFailedError(
            f"writing {ref} failed, the target is unchanged: {cause}{hint}", sqlstate=sqlstate
        ) from None


_TRACEBACK = "Traceback (most recent call last):"


def _cause(text: str, label: str) -> str:
    """The engine's own message (it starts with the label), else the exception a Python
    function raised in a task (pyspark's text of it starts with an empty line), else the first
    line that is not empty."""
    lines = text.splitlines()
    for line in lines:
        at = line.find(label + ":")
        if at >= 0:
            return line[at + len(label) + 1 :].strip()
    for line in lines:
        at = line.find(label + " (task attempt")
        if at >= 0:
            return line[at:].strip()
    tracebacks = [i for i, line in enumerate(lines) if line.rstrip().endswith(_TRACEBACK)]
    if tracebacks:  # the exception is the traceback's first line that is not indented
        for line in lines[tracebacks[-1] + 1 :]:
            if line.strip() and not line[0].isspace():
                return f"a Python function raised {line.strip()}"
    return next((line.strip() for line in lines if line.strip()), text)


def _chunk_option(spark: SparkSession) -> Dict[str, str]:
    """``chunkBytes`` from :data:`CHUNK_BYTES_CONF` when it is set (a positive integer)."""
    value = spark.conf.get(CHUNK_BYTES_CONF, None)
    if value is None:
        return {}
    if not value.strip().isdigit() or int(value) <= 0:
        raise WriteRefusedError(
            f"{CHUNK_BYTES_CONF}={value!r}: expected a positive number of bytes (e.g. 4194304)"
        )
    return {"chunkBytes": str(int(value))}


def _engine_options(
    target: JdbcTarget,
    ref: TableRef,
    staging: Staging,
    pairs: Sequence[ColumnPair],
    mode: str,
    keys: Sequence[str],
) -> Dict[str, str]:
    """The write engine's options (jvm/README.md, "Writing"). PASSWORD INCLUDED."""
    staged = ", ".join(p.staging_name for p in pairs)
    options = {
        "url": target.url,
        "copySql": f"COPY {staging.rows} ({staged}, {TAG_COLUMN}) FROM STDIN (FORMAT binary)",
        "tagged": "true",
        "commitSql": json.dumps(commit_statements(ref, mode)),
        "moveSql": move_sql(ref, staging, pairs, mode, keys),
        "dropSql": staging.drop_sql(),
        "label": str(ref),
    }
    if mode in STREAMING_MODES:
        options.update(
            createSql=staging.chunk_create_sql(),
            copySql=f"COPY {staging.chunk} ({staged}) FROM STDIN (FORMAT binary, FREEZE)",
            tagged="false",
            chunkSql=f"INSERT INTO {staging.registry} (tag, partition_id) VALUES (?, ?)",
            pollSql=f"SELECT seq, tag, partition_id FROM {staging.registry} WHERE seq > ? "
            "ORDER BY seq",
            exactCount="true",
            failSql=f"INSERT INTO {staging.registry} (tag, partition_id, failure) "
            f"VALUES ({FAILURE_TAG}, -1, ?)",
            failedSql=f"SELECT failure FROM {staging.registry} WHERE tag = {FAILURE_TAG}",
            progressSql=f"SELECT setval({quote_literal(staging.progress)}, ?)",
            backlogSql=f"SELECT (SELECT max(seq) FROM {staging.registry}) - last_value "
            f"FROM {staging.progress}",
        )
    for name, value in driver_properties(target.options()).items():
        options[PROPERTY_PREFIX + name] = value
    return options


_COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), bt.typname, bt.typcategory,
       et.typname, a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',
       a.attgenerated <> ''
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
WHERE n.nspname = ? AND c.relname = ? AND c.relkind IN ('r', 'p', 'f')
ORDER BY a.attnum
"""


def target_columns(source: JdbcSource, ref: TableRef) -> List[TargetColumn]:
    """The target's columns in order (empty when there is no such table)."""
    rows = source.query(_COLUMNS_SQL, [ref.schema, ref.table], what=f"describing {ref}")
    return [
        TargetColumn(
            name=str(r[0]),
            type_sql=str(r[1]),
            base_type=str(r[2]),
            category=str(r[3]),
            element_type=None if r[4] is None else str(r[4]),
            not_null=bool(r[5]),
            has_default=bool(r[6]),
            generated=bool(r[7]),
        )
        for r in rows
    ]


def check_key(source: JdbcSource, ref: TableRef, keys: Sequence[str]) -> None:
    """Refuse a key that is not exactly the columns of a unique index or the primary key."""
    rows = source.query(
        "SELECT array_to_string(array_agg(a.attname::text ORDER BY a.attname), ',') "
        "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
        f"WHERE i.indrelid = {quote_literal(ref.qualified_name)}::regclass AND i.indisunique "
        "AND i.indpred IS NULL AND i.indexprs IS NULL GROUP BY i.indexrelid",
        what=f"reading the unique indexes of {ref}",
    )
    unique = [set(str(r[0]).split(",")) for r in rows]
    if set(keys) not in unique:
        found = "; ".join(sorted(", ".join(sorted(u)) for u in unique)) or "none"
        raise WriteRefusedError(
            f"key {list(keys)} of {ref} is not a primary key or unique index (unique column sets: "
            f"{found}): pass one of those, or create a unique index on the key"
        )


def remove_abandoned_staging(source: JdbcSource, schema: str) -> None:
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
