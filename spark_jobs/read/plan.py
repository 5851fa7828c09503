"""The finished plan of one read, :class:`TableRead`: immutable, engine-neutral, no data read,
no Spark needed.

A plan says what to read (the source, the columns as the type policy planned them, the user's
filter), how it is split (:class:`spark_jobs.read.partitioning.PartitionPlan`), what each
partition's transaction runs first, and on which resolved connection. Each engine renders its
own SQL from it (:mod:`spark_jobs.read.copy_engine`, :mod:`spark_jobs.read.spark_jdbc`);
:func:`spark_jobs.read.loading.load_read` picks the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Tuple

from connectors.jdbc import quote_literal, session_settings, set_statements
from spark_jobs.read.partitioning import PartitionPlan
from spark_jobs.read.snapshots import Snapshot
from spark_jobs.read.strategy import Strategy
from spark_jobs.read.types import ColumnPlan, PgColumn

if TYPE_CHECKING:
    from spark_jobs.db.target import DbTarget

RESERVED_PREFIX = "__sparkpg_"
"""Column names sparkpg reserves for its own SQL (a source may not have columns named so)."""
QUERY_ALIAS = RESERVED_PREFIX + "query"
"""The alias of a query read's subquery (``(SELECT ...) AS "__sparkpg_query"``)."""

PARTITION_SESSION_SETTINGS = "SET LOCAL jit = off"
"""Run in each partition's transaction (after any snapshot statements and the connection's
timeouts): JIT-compiling a bulk scan's expressions costs tens to hundreds of milliseconds per
partition and gains nothing when every row is streamed out. ``LOCAL``: the setting ends with the
read's transaction (poolers)."""


REWRITTEN_MESSAGE = (
    "the table was rewritten after the read was planned (VACUUM FULL, CLUSTER, TRUNCATE, a "
    "rewriting ALTER TABLE or pg_repack gave it new storage): its rows are no longer where the "
    "read's page ranges, or its snapshot, expect them, so the read could miss or repeat rows. "
    "Plan the read again (read_table again, or re-run the job)"
)


def storage_check(from_sql: str, storage: Tuple[int, int]) -> str:
    """The statement with which a partition fails, before it reads anything, when the table
    ``from_sql`` (``storage``: its oid and the filenode it had at planning) was rewritten since:
    it takes the ACCESS SHARE lock the read would take (held to the end of the partition's
    transaction, so no rewrite can start before the read ends), then compares the filenode.

    >>> print(storage_check('"public"."t"', (16384, 16390)))  # doctest: +ELLIPSIS
    DO $sparkpg$BEGIN PERFORM FROM "public"."t" WHERE false; IF pg_catalog.pg_relation_filenode(16384::oid) IS DISTINCT FROM 16390 THEN RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state', MESSAGE = 'the table was rewritten ...'; END IF; END$sparkpg$
    """
    oid, filenode = storage
    body = (
        f"BEGIN PERFORM FROM {from_sql} WHERE false; "
        f"IF pg_catalog.pg_relation_filenode({int(oid)}::oid) IS DISTINCT FROM {int(filenode)} "
        "THEN RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state', "
        f"MESSAGE = {quote_literal(REWRITTEN_MESSAGE)}; END IF; END"
    )
    tag = "$sparkpg$"
    while tag in body:  # a quoted name holding the tag would end the body early
        tag = tag[:-1] + "_$"
    return f"DO {tag}{body}{tag}"


@dataclass(frozen=True)
class TableRead:
    """A finished, immutable read plan: what to select, how it is split and why. No data has
    been read; :func:`spark_jobs.read.loading.load_read` returns the DataFrame and its report.

    The password lives only in ``target.credentials`` (a ``SecretStr``, hidden from the repr).
    """

    name: str
    source: str
    plan: PartitionPlan
    columns: Tuple[ColumnPlan, ...]
    """The type policy's plan of each column, in output order."""
    described: Tuple[PgColumn, ...]
    """The catalog's columns behind ``columns`` (same order)."""
    from_sql: str
    """The FROM item: the quoted table, or the aliased query."""
    target: DbTarget = field(repr=False)
    filter_sql: Optional[str] = None
    """The user's ``where`` (checked), or None."""
    engine: str = "copy"
    """Which engine reads the plan: ``"copy"`` or ``"jdbc"`` (``ReadOptions.engine``)."""
    fetch_size: int = 10_000
    binary_transfer: bool = True
    report_unrepresentable: bool = True
    """Whether the load counts the values it reads as NULL (``ReadOptions``)."""
    pushdown_off: Tuple[str, ...] = ()
    """What the engine must not push into PostgreSQL (``ReadOptions.pushdown_off``)."""
    snapshot: Optional[Snapshot] = None
    planning_seconds: float = 0.0
    server_version_num: int = 0
    """The server's ``server_version_num`` at planning (which session settings it knows)."""
    storage: Optional[Tuple[int, int]] = None
    """The table's oid and filenode at planning (``RelationStats.storage``; None for views,
    partitioned tables, queries)."""

    @property
    def guarded(self) -> Tuple[ColumnPlan, ...]:
        """The columns some of whose values can be read as NULL (their Spark type cannot hold
        them), in order: what a load's report counts."""
        return tuple(plan for plan in self.columns if plan.null_when)

    @property
    def checks_storage(self) -> bool:
        """Whether each partition runs :func:`storage_check` first: page ranges address rows
        by where they are stored, and a rewrite empties a table for an older snapshot (both
        would silently lose or repeat rows)."""
        return self.storage is not None and (
            self.snapshot is not None or self.plan.strategy is Strategy.PAGE_RANGE
        )

    @property
    def session_statements(self) -> Tuple[str, ...]:
        """What each partition's transaction runs first: the snapshot's statements (they must
        precede any query), the connection's ``lock_timeout`` (and
        ``client_connection_check_interval``: :func:`connectors.jdbc.session_settings`),
        :data:`PARTITION_SESSION_SETTINGS`, then the :func:`storage_check` when
        :attr:`checks_storage` (under the lock timeout)."""
        snapshot = self.snapshot.session_statements if self.snapshot is not None else ()
        settings = session_settings(
            self.target.connection, server_version_num=self.server_version_num, planning=False
        )
        checked = self.storage if self.checks_storage else None
        check = (storage_check(self.from_sql, checked),) if checked is not None else ()
        return (
            *snapshot,
            *set_statements(settings, local=True),
            PARTITION_SESSION_SETTINGS,
            *check,
        )

    def partition_filters(self, column_sql: Optional[str] = None) -> Tuple[str, ...]:
        """Each partition's WHERE condition with the user's filter (``[]``: one partition
        reading everything); the split column is named ``column_sql`` (default: its own SQL over
        the source)."""
        split = self.plan.split
        predicates = split.predicates(column_sql) if split is not None else ()
        if self.filter_sql is None:
            return predicates
        where = f"(\n{self.filter_sql}\n)"
        return tuple(f"{where} AND ({p})" for p in predicates) or (where,)

    def describe(self) -> str:
        """One line: the source and how it is read."""
        snap = " in a shared snapshot" if self.snapshot else ""
        return f"{self.source}: {self.plan.describe()}{snap}"
