"""sparkpg's Spark side: read PostgreSQL tables and queries into DataFrames.

>>> from connectors import load_settings  # doctest: +SKIP
>>> from spark_jobs import read_table, ReadOptions  # doctest: +SKIP
>>> df = read_table(spark, load_settings("settings.json"), "aurora.orders", where="id > 10")  # doctest: +SKIP

The names below are loaded on first use (PEP 562), so ``import spark_jobs`` imports neither
pyspark nor boto3. ``docs/reading.md`` and ``docs/writing.md`` document them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict

from connectors.lazy import lazy_exports

_EXPORTS: Dict[str, str] = {
    "read_table": "spark_jobs.reader",
    "read_query": "spark_jobs.reader",
    "load_tables": "spark_jobs.reader",
    "read_tables": "spark_jobs.reader",
    "plan_table": "spark_jobs.reader",
    "plan_query": "spark_jobs.reader",
    "consistent_snapshot": "spark_jobs.snapshots",
    "Snapshot": "spark_jobs.snapshots",
    "ReadOptions": "spark_jobs.options",
    "PartitionOverrides": "spark_jobs.partitioning",
    "PartitionPlan": "spark_jobs.partitioning",
    "Strategy": "spark_jobs.partitioning",
    "TableRead": "spark_jobs.plan",
    "load_read": "spark_jobs.loader",
    "LoadedTable": "spark_jobs.jdbc_loader",
    "UnrepresentableReport": "spark_jobs.report",
    "write_table": "spark_jobs.writer",
}

__all__ = [
    "LoadedTable",
    "PartitionOverrides",
    "PartitionPlan",
    "ReadOptions",
    "Snapshot",
    "Strategy",
    "TableRead",
    "UnrepresentableReport",
    "consistent_snapshot",
    "load_read",
    "load_tables",
    "plan_query",
    "plan_table",
    "read_query",
    "read_table",
    "read_tables",
    "write_table",
]

if TYPE_CHECKING:
    from spark_jobs.jdbc_loader import LoadedTable
    from spark_jobs.loader import load_read
    from spark_jobs.options import ReadOptions
    from spark_jobs.partitioning import PartitionOverrides, PartitionPlan, Strategy
    from spark_jobs.plan import TableRead
    from spark_jobs.reader import (
        load_tables,
        plan_query,
        plan_table,
        read_query,
        read_table,
        read_tables,
    )
    from spark_jobs.report import UnrepresentableReport
    from spark_jobs.snapshots import Snapshot, consistent_snapshot
    from spark_jobs.writer import write_table


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__, globals())
