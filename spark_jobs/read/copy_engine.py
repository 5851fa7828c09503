"""The COPY engine's Python side: a finished read plan in, a DataFrame and its counts out.

The engine (``jvm/``, data source ``io.sparkpg.engine.read.CopySource``) runs, per partition, on its
own pgjdbc connection and in one transaction, the session statements then one ``COPY (SELECT ...)
TO STDOUT (FORMAT binary)``, and decodes the rows straight into Spark's internal values. Its options (all strings) are built by :func:`engine_options`; ``jvm/README.md`` is the contract
(``url``, ``property.<name>`` with the password, ``source``, ``columns``, ``predicates``,
``sessionStatements``, ``label``, ``readId``, ``partitionColumn``, ``pushDown<Name>``). The engine
pushes filters, aggregates, top-N, limit, offset and samples into the COPY's query where
PostgreSQL's answer is Spark's (docs/reading.md, "Pushdown").

Values read as NULL because the column's Spark type cannot hold them (numeric NaN/±Infinity,
±infinity dates and timestamps, timestamps after 294247-01-10, arrays of another shape) are
counted by the decoder, per column: in the SQL tab as custom metrics, and here through
:meth:`UnrepresentableCounts.counts`. Those counts are, per partition, the most complete read any
successful task of any action on this DataFrame made (retries and repeated actions never count
twice; a ``limit`` never lowers a count a full read reported).

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from connectors.errors import DatabaseError
from connectors.jdbc import quote_ident
from spark_jobs.engine.java import (
    encode_pairs,
    failure_of,
    find_java,
    jvm_static,
    missing_jar,
    py4j_quiet,
)
from spark_jobs.engine.options import connection_options
from spark_jobs.read.copy_columns import (
    CopyEngineError,
    EngineColumn,
    engine_column,
)
from spark_jobs.read.options import PUSHDOWNS
from spark_jobs.read.plan import RESERVED_PREFIX, TableRead
from spark_jobs.read.report import UnrepresentableReport

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SOURCE_CLASS = "io.sparkpg.engine.read.CopySource"
COUNTS_CLASS = "io.sparkpg.engine.read.UnrepresentableCounts"
PLAN_CHANGED_CLASS = "io.sparkpg.engine.read.PlanChangedException"

PROBE_ALIAS = RESERVED_PREFIX + "probe"


class PlanChangedError(DatabaseError, CopyEngineError):
    """The source changed between planning and an action: a column's type (``column``,
    ``planned_type``, ``actual_type``), or a table or column it reads was renamed or dropped
    (those three are then None). Nothing was read; plan the read again."""

    def __init__(
        self,
        message: str,
        *,
        table: str,
        column: Optional[str] = None,
        planned_type: Optional[str] = None,
        actual_type: Optional[str] = None,
    ) -> None:
        DatabaseError.__init__(self, message)
        self.table = table
        self.column = column
        self.planned_type = planned_type
        self.actual_type = actual_type


def action_error(exc: BaseException) -> Optional[PlanChangedError]:
    """The :class:`PlanChangedError` of a failed action when a partition of a COPY engine read
    found its source changed since planning (the engine's ``PlanChangedException`` in the Java
    cause chain, read by its fields), else None."""
    java = find_java(exc, PLAN_CHANGED_CLASS)
    if java is None:
        return None

    def text(value: Any) -> Optional[str]:
        return None if value is None else str(value)

    return PlanChangedError(
        " ".join(str(java.getMessage()).split()),
        table=str(java.getTable()),
        column=text(java.getColumn()),
        planned_type=text(java.getPlannedType()),
        actual_type=text(java.getActualType()),
    )


def engine_options(
    *,
    url: str,
    properties: Mapping[str, str],
    source_sql: str,
    columns: Sequence[EngineColumn],
    predicates: Sequence[str] = (),
    session_statements: Sequence[str] = (),
    label: str,
    read_id: str,
    partition_column: Optional[str] = None,
    pushdown: Optional[Mapping[str, bool]] = None,
) -> Dict[str, str]:
    """The data source options of one read (see the module docstring). PASSWORD INCLUDED.

    ``partition_column``: the column (Spark name) whose values decide each row's partition, so
    aggregates grouped by it are complete per partition; ``pushdown``: ``{"Aggregate": False}``
    etc. turns a pushdown off (``TopN``, ``Offset``, ``TableSample``)."""
    names = [c.name for c in columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CopyEngineError(
            f"{label}: duplicate column names {duplicates}: give the query's columns distinct aliases"
        )
    options = connection_options(url, properties)
    options.update(
        {
            "source": source_sql,
            "columns": json.dumps([c.to_json() for c in columns]),
            "predicates": json.dumps(list(predicates)),
            "sessionStatements": json.dumps(list(session_statements)),
            "label": label,
            "readId": read_id,
        }
    )
    if partition_column is not None:
        options["partitionColumn"] = partition_column
    for name, allowed in (pushdown or {}).items():
        options[f"pushDown{name}"] = "true" if allowed else "false"
    return options


@dataclass(frozen=True)
class UnrepresentableCounts:
    """The counts of one engine read: ``{column: values read as NULL}`` for the counted columns."""

    spark: Any
    read_id: str
    columns: Tuple[Tuple[int, str], ...]  # (position in the read, name) of the counted columns

    def counts(self) -> Dict[str, int]:
        """Counts so far (0 before any action; see the module docstring for what they cover)."""
        jvm = self.spark.sparkContext._jvm
        values = getattr(jvm, COUNTS_CLASS).counts(self.read_id)
        if values is None:
            return {name: 0 for _, name in self.columns}
        return {name: int(values[i]) for i, name in self.columns}

    def reported(self) -> bool:
        """True once a task of an action over the DataFrame has reported its counts."""
        return bool(getattr(self.spark.sparkContext._jvm, COUNTS_CLASS).reported(self.read_id))

    def release(self) -> None:
        """Forget this read's counts in the driver (the DataFrame still reads)."""
        getattr(self.spark.sparkContext._jvm, COUNTS_CLASS).release(self.read_id)


def copy_read(
    spark: SparkSession,
    *,
    url: str,
    properties: Mapping[str, str],
    source_sql: str,
    columns: Sequence[EngineColumn],
    predicates: Sequence[str] = (),
    session_statements: Sequence[str] = (),
    label: str,
    partition_column: Optional[str] = None,
    pushdown: Optional[Mapping[str, bool]] = None,
) -> Tuple[DataFrame, UnrepresentableCounts]:
    """The DataFrame of a finished plan through the COPY engine, and the handle of its counts.

    ``properties``: pgjdbc connection properties as :meth:`DbTarget.properties` gives them
    (``user``, ``password``, ...); ``partition_column``, ``pushdown``: :func:`engine_options`.
    Lazy: nothing runs until an action.

    >>> df, counts = copy_read(spark, url=url, properties=props, source_sql='"public"."t"',
    ...                        columns=cols, label="it.public.t")  # doctest: +SKIP
    >>> df.count(); counts.counts()  # doctest: +SKIP
    (1000, {'amount': 2})
    """
    from py4j.protocol import Py4JJavaError
    from pyspark.errors.exceptions.captured import CapturedException
    from pyspark.sql import DataFrame

    read_id = uuid.uuid4().hex
    options = engine_options(
        url=url,
        properties=properties,
        source_sql=source_sql,
        columns=columns,
        predicates=predicates,
        session_statements=session_statements,
        label=label,
        read_id=read_id,
        partition_column=partition_column,
        pushdown=pushdown,
    )
    load_source = jvm_static(spark.sparkContext._jvm, SOURCE_CLASS, "load")
    if load_source is None:
        raise CopyEngineError(missing_jar(f"the COPY engine ({SOURCE_CLASS})", "docs/reading.md"))
    try:
        with py4j_quiet():  # the options carry the password
            df = DataFrame(load_source(spark._jsparkSession, encode_pairs(options)), spark)
    except (Py4JJavaError, CapturedException) as exc:
        raise CopyEngineError(
            f"{label}: the COPY engine rejected the read: {failure_of(exc).message}"
        ) from None
    counted = tuple((i, c.name) for i, c in enumerate(columns) if c.counted)
    return df, UnrepresentableCounts(spark, read_id, counted)


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


def read_columns(read: TableRead) -> List[EngineColumn]:
    """The engine's columns of ``read``, in output order."""
    return [
        engine_column(pg, plan, string_filter=pg.string_filter)
        for pg, plan in zip(read.described, read.columns)
    ]


def probe_sql(read: TableRead) -> str:
    """The SELECT each partition's COPY runs (the first partition's), returning no rows (the
    planner runs it)."""
    select = ", ".join(column.expr for column in read_columns(read))
    where = read.partition_filters()[:1] or ("true",)
    return (
        f"SELECT 1 FROM (SELECT {select} FROM {read.from_sql} WHERE ({where[0]}) AND false) "
        f"AS {quote_ident(PROBE_ALIAS)}"
    )


def partition_column(read: TableRead) -> Optional[str]:
    """The DataFrame name of the key a multi-partition read is split on (each key value in one
    partition), or None (one partition, or split by ``ctid``)."""
    key = read.plan.key_column if read.plan.split is not None else None
    names = [
        plan.dataframe_name for pg, plan in zip(read.described, read.columns) if pg.name == key
    ]
    return names[0] if names else None


def load(spark: SparkSession, read: TableRead) -> Tuple[DataFrame, UnrepresentableReport]:
    """The DataFrame of ``read`` through the COPY engine (lazy) and its report: the plan's raw
    source (no ``CASE`` guards, no mask columns: the decoder counts the values read as NULL),
    one partition per partition of the plan, each running the plan's session statements first."""
    df, counts = copy_read(
        spark,
        url=read.target.url,
        properties=read.target.properties(binary_transfer=read.binary_transfer),
        source_sql=read.from_sql,
        columns=read_columns(read),
        predicates=read.partition_filters(),
        session_statements=read.session_statements,
        label=read.source,
        partition_column=partition_column(read),
        pushdown={PUSHDOWNS[name]: False for name in read.pushdown_off},
    )
    metrics = EngineMetrics(counts, [p.dataframe_name for p in read.guarded])
    report = UnrepresentableReport(
        read.source, read.guarded, metrics if read.report_unrepresentable else None
    )
    return df, report
