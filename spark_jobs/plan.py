"""The finished plan of one read, :class:`TableRead`: immutable, no data read, no Spark needed.

A plan says what PostgreSQL runs (``dbtable``: the type policy's SELECT list over the source, the
reserved key/ctid aliases the partition predicates use, the mask columns that count values read
as NULL), how it is split (:class:`spark_jobs.partitioning.PartitionPlan`) and on which resolved
connection. A loader (:mod:`spark_jobs.jdbc_loader`) turns it into a DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from connectors.jdbc import quote_ident, session_settings, set_statements
from spark_jobs.partitioning import PartitionPlan
from spark_jobs.snapshots import Snapshot
from spark_jobs.types import ColumnPlan, PgColumn, custom_schema

if TYPE_CHECKING:
    from spark_jobs.jdbc_client import JdbcTarget

CTID_ALIAS = "__sparkpg_ctid"
"""Reserved column name under which a page-range read exposes ``ctid`` to its predicates."""
KEY_ALIAS = "__sparkpg_key"
"""Reserved column name under which a key-range read exposes the raw key to its predicates."""
LOST_ALIAS = "__sparkpg_lost"
"""Reserved column name (prefix) of the per-row bit mask of values read as NULL (see
:func:`lost_masks`); computed by PostgreSQL, observed by Spark, dropped from the DataFrame."""
LOST_BITS = 31
"""Guarded columns per mask column: bits 0..30 of an ``integer`` (more columns, more masks)."""
SOURCE_ALIAS = "__sparkpg_src"
QUERY_ALIAS = "__sparkpg_query"
RESERVED = (CTID_ALIAS, KEY_ALIAS)
"""Aliases the loader drops right above the scan (the predicates still use them)."""

PARTITION_SESSION_SETTINGS = "SET LOCAL jit = off"
"""Run in each partition's transaction (after any snapshot statements and the connection's
timeouts): JIT-compiling a bulk scan's expressions costs tens to hundreds of milliseconds per
partition and gains nothing when every row is streamed out. ``LOCAL``: the setting ends with the
read's transaction (poolers)."""


@dataclass(frozen=True)
class LostMask:
    """One extra integer column of a read: bit ``i`` is set when ``columns[i]`` was read as NULL
    because its value cannot be held by the column's Spark type (``ColumnPlan.null_when``)."""

    alias: str
    columns: Tuple[ColumnPlan, ...]

    @property
    def select_sql(self) -> str:
        """``(CASE WHEN <null_when> THEN 1 ELSE 0 END + CASE WHEN ... THEN 2 ...) AS "alias"``."""
        terms = [
            f"CASE WHEN {plan.null_when} THEN {1 << bit} ELSE 0 END"
            for bit, plan in enumerate(self.columns)
        ]
        return f"({' + '.join(terms)}) AS {quote_ident(self.alias)}"


def lost_masks(plans: Sequence[ColumnPlan]) -> List[LostMask]:
    """The mask columns that count the values ``plans`` read as NULL (none when nothing can be).

    One ``integer`` per :data:`LOST_BITS` guarded columns, named ``__sparkpg_lost``,
    ``__sparkpg_lost_2``, ...
    """
    guarded = [plan for plan in plans if plan.null_when]
    chunks = [tuple(guarded[i : i + LOST_BITS]) for i in range(0, len(guarded), LOST_BITS)]
    return [
        LostMask(LOST_ALIAS if n == 0 else f"{LOST_ALIAS}_{n + 1}", chunk)
        for n, chunk in enumerate(chunks)
    ]


def dbtable_sql(
    plans: Sequence[ColumnPlan],
    from_sql: str,
    filter_sql: Optional[str],
    partitions: PartitionPlan,
    masks: Sequence[LostMask] = (),
) -> str:
    """The subquery Spark reads: the policy's SELECT list (plus the column the partition
    predicates compare, ``partitions.split_column``, and the mask columns) over ``from_sql``,
    filtered by ``filter_sql``."""
    select = [p.select_sql for p in plans] + [m.select_sql for m in masks]
    if partitions.split_column is not None:
        expression, alias = partitions.split_column
        select.insert(0, f"{expression} AS {quote_ident(alias)}")
    where = f" WHERE (\n{filter_sql}\n)" if filter_sql else ""
    return f"(SELECT {', '.join(select)} FROM {from_sql}{where}) AS {quote_ident(SOURCE_ALIAS)}"


@dataclass(frozen=True)
class TableRead:
    """A finished, immutable read plan: what to select, how it is split and why. No data has
    been read; loading it (:func:`spark_jobs.jdbc_loader.load_read`) returns the DataFrame and
    its report.

    The password lives only in ``target.credentials`` (a ``SecretStr``, hidden from the repr).
    """

    name: str
    source: str
    dbtable: str
    plan: PartitionPlan
    columns: Tuple[ColumnPlan, ...]
    fetch_size: int
    binary_transfer: bool
    target: JdbcTarget = field(repr=False)
    snapshot: Optional[Snapshot] = None
    planning_seconds: float = 0.0
    lost_masks: Tuple[LostMask, ...] = ()
    """Mask columns of ``dbtable`` that count values read as NULL (empty: not reported)."""
    from_sql: str = ""
    """The raw source (quoted table or aliased subquery) the COPY engine selects from."""
    filter_sql: Optional[str] = None
    """The user's ``where`` (checked), or None."""
    described: Tuple[PgColumn, ...] = ()
    """The catalog's columns behind ``columns`` (same order)."""
    engine: str = "copy"
    """Which loader reads the plan: ``"copy"`` or ``"jdbc"`` (``ReadOptions.engine``)."""
    server_version_num: int = 0
    """The server's ``server_version_num`` at planning (which session settings it knows)."""

    @property
    def report_unrepresentable(self) -> bool:
        """True when the read counts the values it reads as NULL (or none can be)."""
        return bool(self.lost_masks) or not any(p.null_when for p in self.columns)

    @property
    def custom_schema(self) -> Optional[str]:
        """Spark's ``customSchema`` option from the type policy, or None."""
        return custom_schema(self.columns)

    @property
    def session_init_statement(self) -> str:
        """What each partition's connection runs first, in its transaction: the snapshot's
        statements (they must precede any query), the connection's ``lock_timeout`` (and
        ``client_connection_check_interval``: :func:`connectors.jdbc.session_settings`), then
        :data:`PARTITION_SESSION_SETTINGS`."""
        return "; ".join(self.session_statements)

    @property
    def session_statements(self) -> Tuple[str, ...]:
        """The statements of :attr:`session_init_statement`, one by one (the COPY engine)."""
        snapshot = self.snapshot.session_statements if self.snapshot is not None else ()
        settings = session_settings(
            self.target.connection, server_version_num=self.server_version_num, planning=False
        )
        return (*snapshot, *set_statements(settings, local=True), PARTITION_SESSION_SETTINGS)

    def jdbc_options(self) -> Dict[str, str]:
        """The Spark JDBC options of the read (the connection's
        :func:`connectors.jdbc.jdbc_options` plus ``customSchema`` and
        ``sessionInitStatement``), PASSWORD INCLUDED: never log."""
        options = self.target.options(
            binary_transfer=self.binary_transfer, fetch_size=self.fetch_size
        )
        if self.custom_schema:
            options["customSchema"] = self.custom_schema
        options["sessionInitStatement"] = self.session_init_statement
        return options

    def describe(self) -> str:
        """One line: the source and how it is read."""
        snap = " in a shared snapshot" if self.snapshot else ""
        return f"{self.source}: {self.plan.describe()}{snap}"
