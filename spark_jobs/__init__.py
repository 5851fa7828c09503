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
    "read_table": "spark_jobs.read.api",
    "read_query": "spark_jobs.read.api",
    "load_tables": "spark_jobs.read.api",
    "read_tables": "spark_jobs.read.api",
    "plan_table": "spark_jobs.read.api",
    "plan_query": "spark_jobs.read.api",
    "consistent_snapshot": "spark_jobs.read.snapshots",
    "Snapshot": "spark_jobs.read.snapshots",
    "ReadOptions": "spark_jobs.read.options",
    "PartitionOverrides": "spark_jobs.read.partitioning",
    "PartitionPlan": "spark_jobs.read.partitioning",
    "Strategy": "spark_jobs.read.partitioning",
    "TableRead": "spark_jobs.read.plan",
    "load_read": "spark_jobs.read.loading",
    "LoadedTable": "spark_jobs.read.loading",
    "UnrepresentableReport": "spark_jobs.read.report",
    "write_table": "spark_jobs.write.api",
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
    from spark_jobs.read.api import (
        load_tables,
        plan_query,
        plan_table,
        read_query,
        read_table,
        read_tables,
    )
    from spark_jobs.read.loading import LoadedTable, load_read
    from spark_jobs.read.options import ReadOptions
    from spark_jobs.read.partitioning import PartitionOverrides, PartitionPlan, Strategy
    from spark_jobs.read.plan import TableRead
    from spark_jobs.read.report import UnrepresentableReport
    from spark_jobs.read.snapshots import Snapshot, consistent_snapshot
    from spark_jobs.write.api import write_table


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__, globals())
