"""Load a finished plan through Spark's JDBC source: one Spark partition per plan predicate.

:func:`load_read` is the loader interface: ``(spark, TableRead) -> LoadedTable`` (the DataFrame
and its :class:`~spark_jobs.report.UnrepresentableReport`). It triggers no Spark action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Dict, Optional

from connectors.errors import DatabaseError
from spark_jobs.jdbc_client import (
    classify_failure,
    failure_of,
    is_database_failure,
    py4j_quiet,
    resolve_target,
    translate_error,
)
from spark_jobs.plan import RESERVED, TableRead, lost_masks
from spark_jobs.report import UnrepresentableReport
from spark_jobs.types import renames

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
    """The DataFrame of ``read`` (lazy: Spark reads when an action runs) and its report."""
    from py4j.protocol import Py4JJavaError

    options = read.jdbc_options()
    url = options.pop("url")
    predicates = list(read.plan.predicates)
    try:
        with py4j_quiet():
            if predicates:
                df = spark.read.jdbc(url, read.dbtable, predicates=predicates, properties=options)
            else:
                df = spark.read.jdbc(url, read.dbtable, properties=options)
    except Py4JJavaError as exc:
        raise translate_error(exc, read.target, what="reading", table=read.source) from None
    # The key/ctid aliases go first: dropped right above the scan, Spark prunes them from the
    # SELECT it sends (the partition predicates still use them inside the subquery).
    hidden = [name for name in RESERVED if name in df.columns]
    if hidden:
        df = df.drop(*hidden)
    observation = None
    if read.lost_masks:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        observation = Observation()  # a unique name: several reads may meet in one query
        metrics = [
            F.count(F.when(F.col(mask.alias).bitwiseAND(F.lit(1 << bit)) != 0, F.lit(1)))
            for mask in read.lost_masks
            for bit in range(len(mask.columns))
        ]
        df = df.observe(observation, *(m.alias(f"c{i}") for i, m in enumerate(metrics)))
        df = df.drop(*(mask.alias for mask in read.lost_masks))
    for spark_name, name in renames(read.columns).items():
        df = df.withColumnRenamed(spark_name, name)
    masks = read.lost_masks or tuple(lost_masks(read.columns))
    report = UnrepresentableReport(read.source, masks, observation)
    return LoadedTable(read.name, read, df, report)


def database_error_of(exc: BaseException, read: TableRead) -> Optional[DatabaseError]:
    """A :class:`DatabaseError` when a Spark action on ``read`` failed in pgjdbc or on its
    connection, else None.

    For callers that run actions: executor-side failures (a lock timeout, a frozen or killed
    server, a rotated password, a released snapshot) reach the driver as a Py4JJavaError (a
    SparkException) with the pgjdbc error in its cause chain; the result is classified like a
    driver-side one (:func:`spark_jobs.jdbc_client.classify_failure`).
    """
    failure = failure_of(exc)
    if not is_database_failure(failure):
        return None
    return classify_failure(failure, read.target, what="reading", table=read.source)


def with_fresh_credentials(spark: SparkSession, table: LoadedTable) -> LoadedTable:
    """``table`` loaded again with its connection's secret re-read (the plan is kept).

    For an action that failed with :class:`~connectors.errors.DatabaseAuthenticationError`
    (the password rotated between planning and the action): a DataFrame's JDBC options are fixed
    when it is created, so the DataFrame must be rebuilt; run the action once more on the
    returned one (and register its view again if the old one was registered).
    """
    target = resolve_target(table.read.target.connection, refresh=True)
    logger.info(
        "%s: authentication failed during the read; re-read %s once in case it rotated",
        table.read.source,
        target.connection.credential_source,
    )
    return load_read(spark, replace(table.read, target=target))
