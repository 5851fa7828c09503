"""Loading a finished plan: :func:`load_read` runs the plan's engine
(:mod:`spark_jobs.read.engines`) and returns a :class:`LoadedTable`, the DataFrame with its
report; :func:`with_fresh_credentials` loads the same plan again after a password rotation.
Nothing here triggers a Spark action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Dict, Optional

from connectors.errors import DatabaseError
from spark_jobs.db.failures import database_error_of
from spark_jobs.db.target import resolve_target
from spark_jobs.read.engines import engine_of
from spark_jobs.read.plan import TableRead
from spark_jobs.read.report import UnrepresentableReport
from spark_jobs.read.types import CHAR_TYPE_METADATA, char_lengths

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedTable:
    """A loaded read: its view name, the plan, the (lazy) DataFrame and the report of the values
    read as NULL (counts known after the first action over ``dataframe``)."""

    name: str
    read: TableRead
    dataframe: DataFrame
    report: UnrepresentableReport

    def unrepresentable_counts(self, wait_seconds: float = 1.0) -> Optional[Dict[str, int]]:
        """``{column: values read as NULL}`` once an action over ``dataframe`` has finished
        (see :meth:`UnrepresentableReport.counts`); None before, or when not reported."""
        return self.report.counts(wait_seconds)


def load_read(spark: SparkSession, read: TableRead) -> LoadedTable:
    """The DataFrame of ``read`` (lazy) and its report, through the plan's engine.

    >>> loaded = load_read(spark, plan_table(spark, settings, "aurora.orders"))  # doctest: +SKIP
    >>> loaded.dataframe.count(); loaded.unrepresentable_counts()  # doctest: +SKIP
    """
    dataframe, report = engine_of(read.engine).load(spark, read)
    for name, length in char_lengths(read.described, read.columns).items():
        dataframe = dataframe.withMetadata(name, {CHAR_TYPE_METADATA: f"char({length})"})
    return LoadedTable(read.name, read, dataframe, report)


def read_error_of(exc: BaseException, read: TableRead) -> Optional[DatabaseError]:
    """The :class:`DatabaseError` of a Spark action over ``read``'s DataFrame that failed in
    pgjdbc or on its connection (:func:`spark_jobs.db.failures.database_error_of`), or in the
    plan's engine (the COPY engine's :class:`~spark_jobs.read.copy_engine.PlanChangedError`: the
    source changed since planning), else None."""
    found = engine_of(read.engine).action_error(exc)
    if found is not None:
        return found
    return database_error_of(exc, read.target, what="reading", table=read.source)


def with_fresh_credentials(spark: SparkSession, table: LoadedTable) -> LoadedTable:
    """``table`` loaded again, on the engine it was planned for, with its connection's secret
    re-read (the plan is kept).

    For an action that failed with :class:`~connectors.errors.DatabaseAuthenticationError`
    (the password rotated between planning and the action): a DataFrame's connection options are
    fixed when it is created, so the DataFrame must be rebuilt; run the action once more on the
    returned one (and register its view again if the old one was registered).
    """
    target = resolve_target(table.read.target.connection, refresh=True)
    logger.info(
        "%s: authentication failed during the read; re-read %s once in case it rotated",
        table.read.source,
        target.connection.credential_source,
    )
    return load_read(spark, replace(table.read, target=target))
