"""Load a finished plan through sparkpg's COPY engine (:mod:`spark_jobs.copy_engine`).

:func:`load_read` is the loader interface, like :func:`spark_jobs.jdbc_loader.load_read`:
``(spark, TableRead) -> LoadedTable`` with the same :class:`~spark_jobs.report.UnrepresentableReport`.
The engine reads the plan's raw source (no ``CASE`` guards, no mask columns: the decoder counts
the values read as NULL), one partition per plan predicate, each on a connection opened with the
options of :func:`connectors.jdbc.jdbc_options` and running the plan's session statements first.
It triggers no Spark action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from connectors.jdbc import quote_ident
from spark_jobs.copy_engine import UnrepresentableCounts, copy_read, engine_column
from spark_jobs.jdbc_loader import LoadedTable
from spark_jobs.plan import TableRead
from spark_jobs.report import UnrepresentableReport

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class EngineMetrics:
    """The engine's counts of one read as a report's metrics (``{"c<i>": count}``)."""

    def __init__(self, counts: UnrepresentableCounts, names: Sequence[str]) -> None:
        self._counts = counts
        self._names = tuple(names)

    def get(self, wait_seconds: float) -> Optional[Dict[str, Any]]:
        """The counts once a task of an action has reported them, else None (never blocks:
        the engine's counts arrive with each task, before its action returns)."""
        if not self._counts.reported():
            return None
        counts = self._counts.counts()
        return {f"c{i}": counts.get(name, 0) for i, name in enumerate(self._names)}


def partition_predicates(read: TableRead) -> List[str]:
    """The plan's partition predicates over the raw source (the split alias replaced by its
    expression, ``ctid`` or the quoted key), each with the user's filter; ``[]``: one partition
    reading everything."""
    predicates = list(read.plan.predicates)
    if read.plan.split_column is not None:
        expression, alias = read.plan.split_column
        predicates = [p.replace(quote_ident(alias), expression) for p in predicates]
    if read.filter_sql is None:
        return predicates
    where = f"(\n{read.filter_sql}\n)"
    return [f"{where} AND ({p})" for p in predicates] or [where]


def load_read(spark: SparkSession, read: TableRead) -> LoadedTable:
    """The DataFrame of ``read`` through the COPY engine (lazy) and its report."""
    options = read.target.options(binary_transfer=read.binary_transfer, fetch_size=read.fetch_size)
    url = options.pop("url")
    columns = [
        engine_column(pg, plan, string_filter=pg.string_filter)
        for pg, plan in zip(read.described, read.columns)
    ]
    df, counts = copy_read(
        spark,
        url=url,
        properties=options,
        source_sql=read.from_sql,
        columns=columns,
        predicates=partition_predicates(read),
        session_statements=read.session_statements,
        label=read.source,
    )
    guarded = [plan for plan in read.columns if plan.null_when]
    metrics = EngineMetrics(counts, [p.dataframe_name for p in guarded])
    report = UnrepresentableReport.of_metrics(
        read.source, guarded, metrics if read.report_unrepresentable else None
    )
    return LoadedTable(read.name, read, df, report)
