"""Incremental reads: the rows of a table inserted or updated since a recorded state, and the
state to record once they are stored (docs/incremental.md). Nothing here commits or stores
anything: :func:`read_changes` plans and loads; the caller stores the rows and then the state,
together (the main job: :mod:`spark_jobs.job.incremental`).

The pure rules (the state, the filters, when a state cannot be continued) are in
:mod:`spark_jobs.read.incremental_state`.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterator, Optional, Tuple, Union

from connectors.errors import DatabaseError, IncrementalStateError, SettingsError
from connectors.jdbc import TableRef, quote_ident
from spark_jobs.read.incremental_cursor import (
    cursor_columns,
    has_cursor_index,
    safe_bound,
    watermark_of,
)
from spark_jobs.read.incremental_state import (
    IncrementalState,
    ServerFacts,
    XidSnapshot,
    changed_rows_filter,
    check_continuation,
    seen_xids_sql,
)
from spark_jobs.read.options import ReadOptions

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from connectors.settings import Settings
    from spark_jobs.db.connection import DriverConnection
    from spark_jobs.read.loading import LoadedTable

logger = logging.getLogger(__name__)

_TABLE_KINDS = ("r", "p")  # ordinary and partitioned tables: row versions with their own xmin


@dataclass(frozen=True)
class IncrementalRead:
    """The changed rows of one table (``loaded``, a lazy DataFrame read in one exported
    snapshot) and ``state``, what to record once they are safely stored; ``previous`` is the
    state the read continued from (None: a full read)."""

    loaded: LoadedTable
    previous: Optional[IncrementalState]
    state: IncrementalState

    @property
    def dataframe(self) -> DataFrame:
        """The changed rows (all rows on a full read)."""
        return self.loaded.dataframe

    @property
    def full(self) -> bool:
        """Whether this read is a full read (no previous state, or a reset)."""
        return self.previous is None

    def describe_change(self) -> str:
        """``snapshot: full read -> xid 725:727`` or ``snapshot: xid 725:727 -> xid 731:731``."""
        before = "full read" if self.previous is None else self.previous.describe()
        return f"{self.state.method}: {before} -> {self.state.describe()}"


@contextmanager
def read_changes(
    spark: SparkSession,
    settings: Settings,
    table: Union[str, TableRef],
    state: Optional[IncrementalState] = None,
    options: Optional[ReadOptions] = None,
    *,
    cursor: Optional[str] = None,
) -> Iterator[IncrementalRead]:
    """The rows of ``table`` created or updated since ``state`` (all rows when ``state`` is
    None), with the state to record after they are stored. Run the Spark action INSIDE the
    block: every partition imports the snapshot the block holds open::

        with read_changes(spark, settings, "aurora.public.orders", state) as changes:
            changes.dataframe.write.parquet(batch_path)  # your action
            store_state(changes.state)                   # only after the rows are stored

    ``cursor``: the cursor method on that timestamp column (default: the snapshot method).
    Deletes are not seen. Raises :class:`~connectors.errors.IncrementalStateError` when
    ``state`` cannot be continued exactly (docs/incremental.md says when).
    """
    from spark_jobs.read.api import plan_table
    from spark_jobs.read.loading import load_read
    from spark_jobs.read.snapshots import consistent_snapshot

    ref = table if isinstance(table, TableRef) else TableRef.parse(table)
    opts = ReadOptions.of(options)
    if opts.where is not None or opts.snapshot is not None:
        raise SettingsError(
            "an incremental read takes no where= and no snapshot=: it filters the changed rows "
            "itself, in its own snapshot (docs/incremental.md)"
        )
    method = "snapshot" if cursor is None else "cursor"
    bound = None
    if cursor is not None:  # before the snapshot: every transaction open at it is seen
        with _connected(spark, settings, ref) as source:
            bound = safe_bound(source, ref)
    with ExitStack() as stack:  # the snapshot first, held until the block ends
        snap = stack.enter_context(consistent_snapshot(spark, settings, ref.connection))
        source = stack.enter_context(_connected(spark, settings, ref))
        facts = _server_facts(source, snap.session_statements)
        facts = replace(facts, table_oid=_table_oid(source, ref))
        found: Tuple[Any, ...] = (None, None, ())
        if bound is None:
            where = None if state is None else changed_rows_filter(state, facts.snapshot)
        else:
            found = _cursor_window(source, ref, str(cursor), state, bound)
            where = found[0]
        read = plan_table(spark, settings, ref, opts, where=where, snapshot=snap)
        columns = tuple((c.name, c.formatted_type) for c in read.described)
        if state is not None:
            check_continuation(state, facts, str(ref), columns, method, cursor)
        seen: Tuple[int, ...] = ()
        sql = seen_xids_sql(read.from_sql, facts.snapshot) if bound is None else None
        if sql is not None:
            seen = tuple(sorted(int(r[0]) for r in source.query(sql, what=f"xids of {ref}")))
        recorded = IncrementalState(
            source=str(ref),
            method=method,
            snapshot=facts.snapshot,
            columns=columns,
            seen=seen,
            system_identifier=facts.system_identifier,
            timeline=facts.timeline,
            table_oid=facts.table_oid,
            cursor=cursor,
            key=found[2],
            watermark=found[1],
        )
        changes = IncrementalRead(load_read(spark, read), state, recorded)
        logger.info("%s: incremental read, %s", ref, changes.describe_change())
        yield changes


@contextmanager
def _connected(
    spark: SparkSession, settings: Settings, ref: TableRef
) -> Iterator[DriverConnection]:
    from spark_jobs.db.connection import connect
    from spark_jobs.db.target import resolve_target

    source = connect(spark, resolve_target(settings.connection(ref.connection)))
    try:
        yield source
    finally:
        source.close()  # ends an open transaction (rolled back)


def _cursor_window(
    source: DriverConnection,
    ref: TableRef,
    cursor: str,
    state: Optional[IncrementalState],
    bound: str,
) -> Tuple[str, Optional[Tuple[str, ...]], Tuple[str, ...]]:
    """The cursor method's filter, new watermark and key, in the read's snapshot."""
    columns = cursor_columns(source, ref, cursor)
    if not has_cursor_index(source, ref, cursor):
        logger.warning(
            "%s: no index leads with the cursor column %r: every incremental run scans the "
            "whole table (CREATE INDEX ON %s (%s))",
            ref,
            cursor,
            ref.qualified_name,
            quote_ident(cursor),
        )
    low = state.watermark if state is not None and state.cursor == cursor else None
    rows = source.query(
        columns.watermark_sql(ref.qualified_name, low, bound),
        what=f"finding the new watermark of {ref}",
    )
    high = watermark_of(rows[0]) if rows else low
    return columns.between(low, high), high, columns.key


def _server_facts(source: DriverConnection, import_statements: Tuple[str, ...]) -> ServerFacts:
    """The cluster's identity (outside the transaction: a role that may not read it gets None),
    then, in a transaction that imports the read's snapshot, that snapshot as 64-bit xids."""
    try:
        rows = source.query(
            "SELECT (SELECT system_identifier::text FROM pg_control_system()), "
            "(SELECT timeline_id FROM pg_control_checkpoint())",
            what="reading the cluster's identity",
        )
        identifier, timeline = rows[0][0], rows[0][1]
    except DatabaseError as exc:
        logger.warning("the cluster's identity cannot be read (%s): not recorded", exc)
        identifier, timeline = None, None
    source.set_autocommit(False)
    for statement in import_statements:
        source.execute(statement, what="importing the read's snapshot")
    function = (
        "pg_current_snapshot" if source.server_version_num >= 130000 else "txid_current_snapshot"
    )
    text = source.query(f"SELECT {function}()::text", what="reading the snapshot's xids")[0][0]
    return ServerFacts(
        XidSnapshot.parse(str(text)),
        None if identifier is None else str(identifier),
        None if timeline is None else int(timeline),
    )


def _table_oid(source: DriverConnection, ref: TableRef) -> Optional[int]:
    """The table's oid (None: not found; the planner says so); refuses views and the like."""
    rows = source.query(
        "SELECT c.relkind::text, c.oid::bigint FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?",
        [ref.schema, ref.table],
        what=f"looking up {ref}",
    )
    if rows and rows[0][0] not in _TABLE_KINDS:
        raise IncrementalStateError(
            f"{ref} is not a table (relkind {rows[0][0]!r}): incremental reads need a table's "
            "row versions; read views and materialized views in full"
        )
    return int(rows[0][1]) if rows else None
