"""The one planner of tables and queries: a straight pipeline from an open connection to the
finished, immutable :class:`~spark_jobs.read.plan.TableRead`.

1. the connection is resolved once by the caller (:func:`spark_jobs.db.target.resolve_target`)
   and opened (:func:`~spark_jobs.db.connection.connect`);
2. the catalog facts of the source are gathered in one step (:mod:`spark_jobs.read.catalog`), those
   of several tables together (a constant number of catalog queries);
3. partitioning turns them into the finished partition plan (:func:`plan_partitions`);
4. the type policy plans the columns (:mod:`spark_jobs.read.types`); the read's SQL is assembled and
   probed with ``WHERE false``, so permissions and bad filters fail before Spark starts.

All of it runs on the driver through pgjdbc; no Spark job runs.
"""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple, Union

from connectors.errors import ColumnNotFoundError, DatabaseError, QueryError
from connectors.jdbc import TableRef, quote_ident
from spark_jobs.read import catalog
from spark_jobs.read.engines import engine_of
from spark_jobs.read.facts import PlanLimits
from spark_jobs.read.options import ReadOptions
from spark_jobs.read.partitioning import PartitionOverrides, plan_partitions
from spark_jobs.read.plan import QUERY_ALIAS, RESERVED_PREFIX, TableRead
from spark_jobs.read.snapshots import snapshot_for
from spark_jobs.read.sqltext import check_fragment
from spark_jobs.read.types import PgColumn, case_renames, plan_columns

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from spark_jobs.db.connection import DriverConnection

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


@dataclass(frozen=True)
class QuerySource:
    """A ``SELECT`` run on a connection; ``name`` names the read."""

    sql: str
    name: str = "query"

    def label(self, connection: str) -> str:
        """``query on connection 'aurora'``."""
        return f"query on connection {connection!r}"

    def gather(
        self, source: DriverConnection, overrides: PartitionOverrides, limits: PlanLimits
    ) -> catalog.CatalogFacts:
        """The catalog facts of the query's result."""
        what = self.label(source.target.name)
        sql = check_fragment(self.sql, what)
        from_sql = f"(\n{sql}\n) AS {quote_ident(QUERY_ALIAS)}"
        return catalog.gather_query_facts(source, from_sql, what, overrides, limits)


Source = Union[TableSource, QuerySource]


def plan_read(
    spark: SparkSession, source: DriverConnection, subject: Source, options: ReadOptions
) -> TableRead:
    """The finished plan of reading ``subject`` through the open ``source``."""
    return plan_reads(spark, source, [subject], options)[0]


def plan_reads(
    spark: SparkSession, source: DriverConnection, subjects: Sequence[Source], options: ReadOptions
) -> List[TableRead]:
    """The finished plans of reading ``subjects`` through the open ``source``, in order. The
    tables' catalog facts are gathered together and the reads probed together, so the number of
    round trips does not grow with the number of small tables."""
    started = time.monotonic()
    target = source.target
    filters = [_filter_sql(subject, options) for subject in subjects]
    limits = PlanLimits(
        server_version_num=source.server_version_num,
        max_connections=target.connection.max_connections,
        parallelism=_parallelism(spark),
        in_snapshot=options.snapshot is not None,
    )
    overrides = options.partitioning
    labels = [subject.label(target.name) for subject in subjects]
    activity = labels[0] if len(labels) == 1 else f"{len(labels)} tables on {target.name!r}"
    with source.activity(f"planning {activity}"):
        gathered = _gather(source, subjects, overrides, limits)
    reads = []
    for subject, label, facts, filter_sql in zip(subjects, labels, gathered, filters):
        selected = select_columns(facts.columns, options.columns, facts.what)
        reads.append(
            TableRead(
                name=subject.name,
                source=label,
                plan=plan_partitions(facts.partition, overrides, limits),
                columns=tuple(plan_columns(selected, unrepresentable=options.unrepresentable)),
                described=tuple(selected),
                from_sql=facts.from_sql,
                target=target,
                filter_sql=filter_sql,
                engine=options.engine,
                fetch_size=options.fetch_size or target.connection.fetch_size,
                binary_transfer=options.binary_transfer,
                report_unrepresentable=options.report_unrepresentable,
                pushdown_off=options.pushdown_off,
                snapshot=snapshot_for({}, target.name, options.snapshot),
                server_version_num=limits.server_version_num,
                storage=facts.partition.stats.storage,
            )
        )
    whats = [
        f"reading {facts.what}" if isinstance(subject, TableSource) else facts.what
        for subject, facts in zip(subjects, gathered)
    ]
    _probe(
        source, [(engine_of(read.engine).probe_sql(read), what) for read, what in zip(reads, whats)]
    )
    planning_seconds = (time.monotonic() - started) / max(1, len(subjects))
    reads = [replace(read, planning_seconds=planning_seconds) for read in reads]
    for read in reads:
        _log_plan(read, read.source)
    return reads


def _filter_sql(subject: Source, options: ReadOptions) -> Optional[str]:
    if isinstance(subject, QuerySource):
        options.only_source_wide("read_query")
        return None
    if options.where is None:
        return None
    return check_fragment(options.where, f"filter of {subject.ref}")


def _gather(
    source: DriverConnection,
    subjects: Sequence[Source],
    overrides: PartitionOverrides,
    limits: PlanLimits,
) -> List[catalog.CatalogFacts]:
    """The catalog facts of every subject, in order: the tables' in one batch."""
    refs = [s.ref for s in subjects if isinstance(s, TableSource)]
    tables = iter(catalog.gather_tables_facts(source, refs, overrides, limits))
    return [
        next(tables) if isinstance(s, TableSource) else s.gather(source, overrides, limits)
        for s in subjects
    ]


def _probe(source: DriverConnection, probes: Sequence[Tuple[str, str]]) -> None:
    """Run each read's probe (the SQL its engine will run, returning no rows: permissions, bad
    filters) in one round trip; when that fails, each alone so that the error names its read."""
    if len(probes) > 1:
        try:
            source.query(" UNION ALL ".join(sql for sql, _ in probes), what=probes[0][1])
            return
        except DatabaseError:
            pass
    for sql, what in probes:
        source.query(sql, what=what)


def _log_plan(read: TableRead, label: str) -> None:
    logger.info("%s", read.describe())
    renamed = case_renames(read.columns)
    if renamed:
        logger.warning(
            "%s: Spark resolves column names case-insensitively, so columns whose names differ "
            "only in case are renamed in the DataFrame: %s (docs/types.md, Names; select or alias "
            "them with columns= or read_query to choose other names)",
            label,
            ", ".join(f"{old!r} -> {new!r}" for old, new in renamed.items()),
        )
    for note in read.plan.notes:
        logger.warning("%s: %s", label, note)


def select_columns(
    described: Sequence[PgColumn], columns: Optional[Sequence[str]], what: str
) -> List[PgColumn]:
    """``described`` checked (no reserved or duplicate names) and narrowed to ``columns`` (in
    that order, duplicates dropped); a clear error with close matches for a missing name."""
    names = [c.name for c in described]
    clash = [n for n in names if n.startswith(RESERVED_PREFIX)]
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
