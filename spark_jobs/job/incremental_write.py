"""The main job's ``--incremental --write`` (docs/incremental.md): the one table's changed rows
upserted by the key, and the state row in ``<target schema>.`` :data:`STATE_TABLE` updated in
the transaction that commits them (a compare-and-set on the previous state). With
``--delete-missing`` the target's rows whose key is gone from the source are deleted in that
same transaction.
"""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

from connectors.errors import IncrementalStateError, SettingsError, WriteRefusedError
from connectors.jdbc import TableRef, quote_ident, quote_literal
from spark_jobs.job.actions import guard
from spark_jobs.job.summary import JobResult, change_outcome
from spark_jobs.read.incremental_state import IncrementalState
from spark_jobs.read.options import ReadOptions

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from connectors.settings import Settings
    from spark_jobs.db.connection import DriverConnection
    from spark_jobs.job.options import JobOptions
    from spark_jobs.read.incremental import IncrementalRead

STATE_TABLE = "sparkpg_incremental_state"
"""One row per (target, source) in the target's schema."""
MAX_DELETES = 100_000
"""``--delete-missing``: keys deleted per run at most (they travel in the commit's SQL)."""


def run_write(spark: SparkSession, settings: Settings, options: JobOptions) -> JobResult:
    """The one table's changes upserted; the state row (and ``--delete-missing``'s deletes) in
    the commit's transaction."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from spark_jobs.db.connection import connect
    from spark_jobs.db.target import resolve_target
    from spark_jobs.read.incremental import read_changes
    from spark_jobs.write.api import write_table

    assert options.write is not None
    if options.write_mode != "upsert" or not options.write_key:
        raise SettingsError(
            "--incremental --write upserts the changed rows: give --write-mode upsert and --key "
            "(the target's primary key or a unique index)"
        )
    target = TableRef.parse(options.write)
    source_ref = options.tables[0]
    connection = settings.connection(target.connection)
    keys = list(options.write_key)
    db = connect(spark, resolve_target(connection))
    try:
        stored = None if options.incremental_reset else _stored_state(db, target, source_ref)
        key_types = _key_types(db, target, keys) if options.delete_missing else ()
    finally:
        db.close()
    started = time.monotonic()
    with read_changes(
        spark,
        settings,
        source_ref,
        None if stored is None else stored[0],
        options.read,
        cursor=options.cursor,
    ) as changes:
        statements = [
            state_update_sql(
                target,
                str(source_ref),
                None if stored is None else stored[1],
                changes.state,
                reset=options.incremental_reset,
            )
        ]
        deleted = "deletes not captured (--delete-missing deletes them)"
        if options.delete_missing:
            gone = guard(
                [changes.loaded],
                lambda: _missing_keys(spark, settings, changes, target, keys),
                f"finding the keys of {target} gone from {source_ref}",
            )
            statements += delete_sql(target, keys, key_types, gone)
            deleted = f"{len(gone)} row(s) whose key is gone from the source deleted"
        observation = Observation("sparkpg_incremental_rows")
        observed = changes.dataframe.observe(observation, F.count(F.lit(1)).alias("rows"))
        guard(
            [changes.loaded],
            lambda: write_table(
                observed, settings, target, mode="upsert", key=keys, in_commit=statements
            ),
            f"writing {target}",
        )
    rows = int(observation.get["rows"])
    seconds = time.monotonic() - started
    return JobResult((change_outcome(changes, rows, seconds, str(target), deletes=deleted),))


def _key_types(db: DriverConnection, target: TableRef, keys: Sequence[str]) -> Tuple[str, ...]:
    """The target's key columns' types (``format_type``), in the order of ``keys``."""
    rows = db.query(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
        "WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped",
        [target.qualified_name],
        what=f"reading the key columns of {target}",
    )
    types = {str(name): str(kind) for name, kind in rows}
    missing = [k for k in keys if k not in types]
    if missing:
        raise WriteRefusedError(f"{target} has no column {missing[0]!r} (--key)")
    return tuple(types[k] for k in keys)


def _missing_keys(
    spark: SparkSession,
    settings: Settings,
    changes: IncrementalRead,
    target: TableRef,
    keys: Sequence[str],
) -> List[Tuple[Any, ...]]:
    """The target's keys that the source no longer has (the source read in the changes' own
    snapshot), at most :data:`MAX_DELETES`."""
    from spark_jobs.read.api import read_table

    source = read_table(
        spark,
        settings,
        changes.loaded.read.source,
        ReadOptions(columns=tuple(keys), snapshot=changes.loaded.read.snapshot),
        report_unrepresentable=False,
    )
    present = read_table(spark, settings, target, columns=tuple(keys), report_unrepresentable=False)
    gone = present.join(source, list(keys), "left_anti").limit(MAX_DELETES + 1).collect()
    if len(gone) > MAX_DELETES:
        raise WriteRefusedError(
            f"more than {MAX_DELETES} rows of {target} have keys gone from the source: too many "
            "to delete in the commit; resynchronize the target (docs/incremental.md, Deletes)"
        )
    return [tuple(row) for row in gone]


def delete_sql(
    target: TableRef, keys: Sequence[str], types: Sequence[str], gone: Sequence[Sequence[Any]]
) -> List[str]:
    """The ``DELETE`` of the rows of ``target`` whose key is in ``gone`` (none: no statement).

    >>> print(*delete_sql(TableRef("c", "w", "t"), ["id"], ["integer"], [(3,), (5,)]))
    DELETE FROM "w"."t" WHERE ("id") IN (VALUES ('3'::integer), ('5'::integer))
    """
    if not gone:
        return []
    columns = ", ".join(quote_ident(k) for k in keys)
    rows = ", ".join(
        "(" + ", ".join(f"{quote_literal(_text(v))}::{t}" for v, t in zip(key, types)) + ")"
        for key in gone
    )
    return [f"DELETE FROM {target.qualified_name} WHERE ({columns}) IN (VALUES {rows})"]


def _text(value: Any) -> str:
    """A key value as PostgreSQL reads it back from text."""
    if isinstance(value, (datetime.datetime, datetime.date)):
        return (
            value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return "\\x" + bytes(value).hex()
    return str(value)


def state_table(target: TableRef) -> str:
    """The qualified state table of a ``--write`` target (in the target's schema)."""
    return f"{quote_ident(target.schema)}.{quote_ident(STATE_TABLE)}"


def _stored_state(
    db: Any, target: TableRef, source: TableRef
) -> Optional[Tuple[IncrementalState, str]]:
    """The state row of (target, source) and its text as stored (what the commit compares
    with), creating the state table when it is missing."""
    table = state_table(target)
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (target text NOT NULL, source text NOT NULL, "
        "state jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), "
        "PRIMARY KEY (target, source))",
        what=f"creating {table}",
    )
    rows = db.query(
        f"SELECT state::text FROM {table} WHERE target = ? AND source = ?",
        [str(target), str(source)],
        what=f"reading the incremental state in {table}",
    )
    if not rows:
        return None
    text = str(rows[0][0])
    return IncrementalState.from_json(text, f"{table} (target {target}, source {source})"), text


def state_update_sql(
    target: TableRef,
    source: str,
    previous: Optional[str],
    state: IncrementalState,
    *,
    reset: bool = False,
) -> str:
    """The statement run in the upsert's transaction: the state row set to ``state`` only if
    it still holds ``previous`` (the JSON read before the run; None: a first run), else the transaction fails (another run
    moved the state meanwhile; nothing is committed). ``reset``: set whatever it holds."""
    table = state_table(target)
    keys = f"target = {quote_literal(str(target))} AND source = {quote_literal(source)}"
    new = f"{quote_literal(state.to_json())}::jsonb"
    if previous is None:
        change = (
            f"INSERT INTO {table} (target, source, state) VALUES ({quote_literal(str(target))}, "
            f"{quote_literal(source)}, {new}) ON CONFLICT (target, source) "
            + (
                "DO UPDATE SET state = EXCLUDED.state, updated_at = now()"
                if reset
                else "DO NOTHING"
            )
        )
    else:
        change = (
            f"UPDATE {table} SET state = {new}, updated_at = now() WHERE {keys} "
            f"AND state = {quote_literal(previous)}::jsonb"
        )
    message = quote_literal(
        f"sparkpg: the incremental state of {source} in {target} changed while this run ran "
        "(another run of the same load?): nothing was committed; run again"
    )
    tag = "$sparkpg_state$"
    body = f"BEGIN {change}; IF NOT FOUND THEN RAISE EXCEPTION {message}; END IF; END"
    if tag in body:
        raise IncrementalStateError(f"cannot quote the state of {source} (it contains {tag})")
    return f"DO {tag} {body} {tag}"
