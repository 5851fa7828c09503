"""Write DataFrames to PostgreSQL: checked before any task runs, atomic, exactly once, by COPY.

>>> write_table(df, settings, "aurora.public.orders")  # doctest: +SKIP
>>> write_table(df, settings, "aurora.orders", mode="upsert", key=["id"])  # doctest: +SKIP

How a write runs (``docs/writing.md``; the engine's side: ``jvm/README.md``, "Writing"):

1. The driver, through the JVM's pgjdbc (the read side's URL and properties, TLS, timeouts,
   ``application_name``), refuses a reader endpoint or a ``read_only`` connection, checks (or
   creates) the target, matches the DataFrame's columns to the target's
   (:mod:`~spark_jobs.write.columns`), checks the upsert key, cleans up what dead writes left
   (:mod:`~spark_jobs.write.staging`) and creates this write's staging objects in one
   transaction, each marked as sparkpg's.
2. One Spark job runs the write engine with a typed spec (:mod:`~spark_jobs.write.contract`):
   ``streamed`` (append, overwrite: each task COPYs chunks into chunk tables of its own and the
   driver moves committed chunks while the tasks run), ``staged`` (upsert, insert-missing: tasks
   stage tagged rows, one move at the commit) or ``direct`` (``atomic=False``: each task COPYs
   into the target and commits on its own).
3. Spark's commit coordinator lets one attempt per partition commit; the driver's one transaction
   moves exactly those attempts' rows (``INSERT ... SELECT`` casting to the target's types,
   after ``DELETE`` for ``overwrite``, ``ON CONFLICT`` for ``upsert`` and ``insert-missing``) and
   commits. This side alone drops the staging objects, whatever happened. A failure is read from
   the engine's ``WriteFailure`` fields and says what the target holds.

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple, Union

from connectors.errors import (
    DatabaseConnectionError,
    SparkPgError,
    WriteRefusedError,
)
from connectors.jdbc import TableRef, session_settings, set_statements
from spark_jobs.db.connection import DriverConnection, connect
from spark_jobs.db.target import DbTarget, resolve_target
from spark_jobs.write.columns import (
    CHAR_VARCHAR_METADATA,
    NewColumn,
    TargetColumn,
    check_exact,
    check_key,
    create_table_sql,
    match_columns,
    target_columns,
)
from spark_jobs.write.contract import atomic_spec, chunk_bytes, direct_spec, save
from spark_jobs.write.staging import (
    STREAMING_MODES,
    Staging,
    check_staging_schema,
    one_transaction,
    remove_abandoned_staging,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from connectors.settings import Settings

logger = logging.getLogger(__name__)

MODES = ("append", "overwrite", "upsert", "insert-missing")


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
    in_commit: Sequence[str] = (),
) -> None:
    """Write ``df`` to ``connection.schema.table`` atomically: all rows or none, each exactly once.

    ``mode``: ``append``; ``overwrite`` (the rows are replaced in one transaction, the table with
    its grants, indexes, constraints, triggers and dependent views stays); ``upsert`` (insert, or
    update the row with the same ``key``); ``insert-missing`` (insert, skip rows whose ``key``
    exists). ``key`` (upsert, insert-missing): target column names matching a unique index or the
    primary key. ``create``: create a missing target with the types of docs/writing.md, NOT NULL
    where the DataFrame's column is not nullable, CHAR(n)/VARCHAR(n) as Spark declared them and,
    for upsert and insert-missing, ``key`` as the primary key.
    ``staging_schema``: where the staging table goes (default: the target's schema).
    ``in_commit``: statements run in the transaction that commits the rows (atomic writes only;
    e.g. recording how far an incremental load got, docs/incremental.md).
    ``atomic=False`` (append only): each task COPYs straight into the target and commits on its
    own: faster, NOT atomic (a failed job leaves the rows of the tasks that finished, a retried
    task writes its rows again); every column's Spark type must be the target's exact type.

    At most the connection's ``max_connections`` tasks write at once (a DataFrame with more
    partitions is coalesced). Every lock the write waits for is bounded by the connection's
    ``lock_timeout_seconds``. Runs one Spark job; raises :class:`WriteRefusedError` before any row
    is written; :class:`LockTimeoutError` (``setting="lock_timeout_seconds"``) or
    :class:`DatabaseUnresponsiveError` when a bounded wait expires; :class:`WriteFailedError`
    when the job or the commit fails. An atomic write's failure leaves the target unchanged
    (unless the message says the connection broke during the COMMIT: then the outcome is
    unknown); a direct write's says which partitions had committed their rows.
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
    if in_commit and not atomic:
        raise WriteRefusedError("in_commit= needs atomic=True: a direct write has no one commit")
    connection = settings.connection(ref.connection)
    _check_writable(connection, ref)
    spark = df.sparkSession
    target = resolve_target(connection)
    _check_writer_endpoint(target, ref)
    new_columns = [
        NewColumn(
            f.name, f.dataType.simpleString(), f.nullable, f.metadata.get(CHAR_VARCHAR_METADATA)
        )
        for f in df.schema.fields
    ]
    source = connect(spark, target)
    try:
        if atomic:
            _write(
                df, spark, source, ref, new_columns, mode, keys, create, staging_schema, in_commit
            )
        else:
            _write_direct(df, source, ref, new_columns, create)
    finally:
        source.close()


def _check_writable(connection: object, ref: TableRef) -> None:
    if getattr(connection, "read_only", True):
        raise WriteRefusedError(
            f'connection {ref.connection!r} is read-only: set "read_only": false on '
            "postgres.connections[] in the settings to write to it (and point it at the writer "
            "endpoint)"
        )


def _check_writer_endpoint(target: DbTarget, ref: TableRef) -> None:
    if target.endpoint.is_reader:
        raise WriteRefusedError(
            f"connection {ref.connection!r} points at the Aurora reader endpoint "
            f"{target.endpoint.host}, which cannot write: set its host to the cluster (writer) "
            "endpoint (the one without -ro-)"
        )


def _write(
    df: DataFrame,
    spark: SparkSession,
    source: DriverConnection,
    ref: TableRef,
    new_columns: List[NewColumn],
    mode: str,
    keys: List[str],
    create: bool,
    staging_schema: Optional[str],
    in_commit: Sequence[str] = (),
) -> None:
    columns = _existing_or_created(source, ref, new_columns, create, keys)
    pairs = match_columns(_spark_columns(new_columns), columns, table=str(ref))
    if keys:
        check_key(source, ref, keys)
    schema = staging_schema or ref.schema
    check_staging_schema(source, schema)
    remove_abandoned_staging(source, schema)
    staging = Staging.new(schema, spark.sparkContext.applicationId)
    # Held while the job runs: another write removes staging objects nobody holds (left behind
    # when the server or the driver died before the drop).
    source.query("SELECT pg_advisory_lock(hashtext(?))", [staging.lock])
    try:
        # One transaction: a cancel or a kill while it runs leaves nothing behind.
        source.execute(
            one_transaction(staging.create_sql(pairs, streaming=mode in STREAMING_MODES)),
            what=f"creating the staging table {staging.rows}",
        )
        spec = atomic_spec(
            ref,
            staging,
            pairs,
            mode,
            keys,
            _session_sql(source),
            chunk_bytes(spark) if mode in STREAMING_MODES else None,
        )
        spec = replace(spec, commit_sql=spec.commit_sql + tuple(in_commit))
        renamed = _bounded(df, source).toDF(*[p.staging_name for p in pairs])
        save(renamed, spec, source.target, ref)
    finally:
        _drop(spark, source, staging, ref)


def _drop(spark: SparkSession, source: DriverConnection, staging: Staging, ref: TableRef) -> None:
    """Drop the write's staging objects (this side alone drops them, jvm/README.md); on a new
    connection when the server ended ``source`` (a failover, pg_terminate_backend). When that
    fails too, the next write's clean-up removes them."""
    try:
        try:
            source.execute(staging.drop_sql(), what=f"dropping {staging.rows}")
        except DatabaseConnectionError:
            fresh = connect(spark, source.target)
            try:
                fresh.execute(staging.drop_sql(), what=f"dropping {staging.rows}")
            finally:
                fresh.close()
    except SparkPgError as exc:
        logger.warning("%s: could not drop the staging table %s: %s", ref, staging.rows, exc)


def _write_direct(
    df: DataFrame,
    source: DriverConnection,
    ref: TableRef,
    new_columns: List[NewColumn],
    create: bool,
) -> None:
    pairs = match_columns(
        _spark_columns(new_columns),
        _existing_or_created(source, ref, new_columns, create, ()),
        table=str(ref),
    )
    for pair in pairs:
        check_exact(pair, table=str(ref))
    save(_bounded(df, source), direct_spec(ref, pairs, _session_sql(source)), source.target, ref)


def _session_sql(source: DriverConnection) -> List[str]:
    """What each of the engine's connections runs first: the connection's ``lock_timeout``
    (every lock a write waits for: the target's, a row's, the staging tables'; an idle in
    transaction holder too) and ``client_connection_check_interval``. No statement_timeout:
    a COPY or a move runs as long as its rows take."""
    settings = session_settings(
        source.target.connection, server_version_num=source.server_version_num, planning=False
    )
    return set_statements(settings, local=False)


def _bounded(df: DataFrame, source: DriverConnection) -> DataFrame:
    """``df`` with at most ``max_connections`` partitions (coalesced, no shuffle)."""
    max_connections = source.target.connection.max_connections
    return df.coalesce(max_connections) if df.rdd.getNumPartitions() > max_connections else df


def _spark_columns(columns: Sequence[NewColumn]) -> List[Tuple[str, str]]:
    return [(c.name, c.spark_type) for c in columns]


def _existing_or_created(
    source: DriverConnection,
    ref: TableRef,
    new_columns: Sequence[NewColumn],
    create: bool,
    keys: Sequence[str],
) -> List[TargetColumn]:
    columns = target_columns(source, ref)
    if columns:
        return columns
    if not create:
        raise WriteRefusedError(
            f"table {ref} does not exist: create it, or pass create=True to create it with "
            "the DataFrame's columns (types: docs/writing.md)"
        )
    source.execute(create_table_sql(ref, new_columns, keys), what=f"creating {ref}")
    return target_columns(source, ref)
