"""The loader of a finished plan, chosen by ``TableRead.engine`` (``ReadOptions.engine``):
``"copy"`` (default) reads through sparkpg's COPY engine (:mod:`spark_jobs.copy_loader`),
``"jdbc"`` through Spark's JDBC source (:mod:`spark_jobs.jdbc_loader`). Both return the same
:class:`~spark_jobs.jdbc_loader.LoadedTable` and trigger no Spark action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_jobs import copy_loader, jdbc_loader
from spark_jobs.jdbc_loader import LoadedTable
from spark_jobs.plan import TableRead

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def load_read(spark: SparkSession, read: TableRead) -> LoadedTable:
    """The DataFrame of ``read`` (lazy) and its report, through the plan's engine.

    >>> loaded = load_read(spark, plan_table(spark, settings, "aurora.orders"))  # doctest: +SKIP
    >>> loaded.dataframe.count(); loaded.unrepresentable_counts()  # doctest: +SKIP
    """
    if read.engine == "jdbc":
        return jdbc_loader.load_read(spark, read)
    return copy_loader.load_read(spark, read)
