"""The one planner of tables and queries: a straight pipeline from an open connection to the
finished, immutable :class:`~spark_jobs.plan.TableRead`.

1. the connection is resolved once by the caller (:func:`spark_jobs.jdbc_client.resolve_target`)
   and opened (:func:`~spark_jobs.jdbc_client.connect`);
2. the catalog facts of the source are gathered in one step (:mod:`spark_jobs.catalog`);
3. partitioning turns them into the finished partition plan (:func:`plan_partitions`);
4. the type policy plans the columns (:mod:`spark_jobs.types`); the read's SQL is assembled and
   probed with ``WHERE false``, so permissions and bad filters fail before Spark starts.

All of it runs on the driver through pgjdbc; no Spark job runs.
"""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional, Sequence, Union

from connectors.errors import ColumnNotFoundError, QueryError
from connectors.jdbc import TableRef, quote_ident
from spark_jobs import catalog
from spark_jobs.facts import PlanLimits
from spark_jobs.options import ReadOptions
from spark_jobs.partitioning import PartitionOverrides, plan_partitions
from spark_jobs.plan import (
    CTID_ALIAS,
    KEY_ALIAS,
    LOST_ALIAS,
    QUERY_ALIAS,
    RESERVED,
    TableRead,
    dbtable_sql,
    lost_masks,
)
from spark_jobs.snapshots import snapshot_for
from spark_jobs.sqltext import check_fragment
from spark_jobs.types import PgColumn, case_renames, plan_columns

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from spark_jobs.jdbc_client import JdbcSource

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableSource:
    """A table, view, materialized view or foreign table to read."""

    ref: TableRef

    @property
    def name(self) -> str:
        """The view name of the read (the table name)."""
        return self.ref.view_name

    def label(self, connection: str) -> str:
        """The source in plans, messages and summaries: ``aurora.public.orders``."""
        return str(self.ref)

    def gather(
        self, source: JdbcSource, overrides: PartitionOverrides, limits: PlanLimits
    ) -> catalog.CatalogFacts:
        """The catalog facts of the table."""
        return catalog.gather_table_facts(source, self.ref, overrides, limits)


@dataclass(frozen=True)
class QuerySource:
    """A ``SELECT`` run on a connection; ``name`` names the read."""

    sql: str
    name: str = "query"

    def label(self, connection: str) -> str:
        """``query on connection 'aurora'``."""
        return f"query on connection {connection!r}"

    def gather(
        self, source: JdbcSource, overrides: PartitionOverrides, limits: PlanLimits
    ) -> catalog.CatalogFacts:
        """The catalog facts of the query's result."""
        what = self.label(source.target.name)
        sql = check_fragment(self.sql, what)
        from_sql = f"(\n{sql}\n) AS {quote_ident(QUERY_ALIAS)}"
        return catalog.gather_query_facts(source, from_sql, what, overrides, limits)


Source = Union[TableSource, QuerySource]


def plan_read(
    spark: SparkSession, source: JdbcSource, subject: Source, options: ReadOptions
) -> TableRead:
    """The finished plan of reading ``subject`` through the open ``source``."""
    started = time.monotonic()
    target = source.target
    label = subject.label(target.name)
    filter_sql = None
    if isinstance(subject, TableSource):
        if options.where is not None:
            filter_sql = check_fragment(options.where, f"filter of {subject.ref}")
    else:
        options.only_source_wide("read_query")
    limits = PlanLimits(
        server_version_num=source.server_version_num,
        max_connections=target.connection.max_connections,
        parallelism=_parallelism(spark),
    )
    overrides = options.partitioning
    with source.activity(f"planning {label}"):
        facts = subject.gather(source, overrides, limits)
    partitions = plan_partitions(
        facts.partition,
        overrides,
        limits,
        key_alias=KEY_ALIAS,
        ctid_alias=CTID_ALIAS,
    )
    selected = select_columns(facts.columns, options.columns, facts.what)
    plans = plan_columns(selected, unrepresentable=options.unrepresentable)
    masks = lost_masks(plans) if options.report_unrepresentable else []
    dbtable = dbtable_sql(plans, facts.from_sql, filter_sql, partitions, masks)
    probe_what = f"reading {facts.what}" if isinstance(subject, TableSource) else facts.what
    source.query(f"SELECT 1 FROM {dbtable} WHERE false", what=probe_what)
    read = TableRead(
        name=subject.name,
        source=label,
        dbtable=dbtable,
        plan=partitions,
        columns=tuple(plans),
        fetch_size=options.fetch_size or target.connection.fetch_size,
        binary_transfer=options.binary_transfer,
        target=target,
        snapshot=snapshot_for({}, target.name, options.snapshot),
        planning_seconds=time.monotonic() - started,
        lost_masks=tuple(masks),
        from_sql=facts.from_sql,
        filter_sql=filter_sql,
        described=tuple(selected),
        engine=options.engine,
        server_version_num=limits.server_version_num,
    )
    logger.info("%s", read.describe())
    renamed = case_renames(plans)
    if renamed:
        logger.warning(
            "%s: Spark resolves column names case-insensitively, so columns whose names differ "
            "only in case are renamed in the DataFrame: %s (docs/types.md, Names; select or alias "
            "them with columns= or read_query to choose other names)",
            label,
            ", ".join(f"{old!r} -> {new!r}" for old, new in renamed.items()),
        )
    for note in partitions.notes:
        logger.warning("%s: %s", label, note)
    return read


def select_columns(
    described: Sequence[PgColumn], columns: Optional[Sequence[str]], what: str
) -> List[PgColumn]:
    """``described`` checked (no reserved or duplicate names) and narrowed to ``columns`` (in
    that order, duplicates dropped); a clear error with close matches for a missing name."""
    names = [c.name for c in described]
    clash = [n for n in names if n in RESERVED or n.startswith(LOST_ALIAS)]
    if clash:
        raise QueryError(f"{what} has a column named {clash[0]!r}, a name sparkpg reserves")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise QueryError(
            f"{what} returns duplicate column name(s) {', '.join(duplicates)}; alias them"
        )
    if columns is None:
        return list(described)
    if not columns:
        raise ColumnNotFoundError(f"no columns selected from {what}")
    missing = [c for c in columns if c not in names]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, names, n=3) or [
                n for n in names if n.lower() == name.lower()
            ]
            hints.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        raise ColumnNotFoundError(
            f"{what} has no column {', '.join(hints)}; columns: {', '.join(names)}"
        )
    by_name = {c.name: c for c in described}
    return [by_name[name] for name in dict.fromkeys(columns)]


def _parallelism(spark: SparkSession) -> Optional[int]:
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:  # pragma: no cover - Spark Connect has no SparkContext
        return None
