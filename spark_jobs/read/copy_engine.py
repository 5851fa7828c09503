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
import re
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from connectors.errors import DatabaseError, EngineError
from connectors.jdbc import quote_ident
from spark_jobs.engine.java import engine_missing, failure_of, find_java
from spark_jobs.engine.options import connection_options
from spark_jobs.read.plan import RESERVED_PREFIX, TableRead
from spark_jobs.read.report import UnrepresentableReport
from spark_jobs.read.types import ColumnPlan, PgColumn

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SOURCE_CLASS = "io.sparkpg.engine.read.CopySource"
COUNTS_CLASS = "io.sparkpg.engine.read.UnrepresentableCounts"
PLAN_CHANGED_CLASS = "io.sparkpg.engine.read.PlanChangedException"

PROBE_ALIAS = RESERVED_PREFIX + "probe"
FILTERS = ("none", "equality", "ordering")
COUNTED_KINDS = frozenset({"numeric", "date", "timestamp", "timestamptz", "array"})

_SCALAR_KINDS: Dict[str, str] = {  # PostgreSQL base type -> decoder kind
    "bool": "bool",
    "int2": "int2",
    "int4": "int4",
    "int8": "int8",
    "oid": "oid",
    "float4": "float4",
    "float8": "float8",
    "text": "text",
    "varchar": "text",
    "bpchar": "text",
    "bytea": "bytea",
    "uuid": "uuid",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
}
_SPARK_TYPES: Dict[str, str] = {  # decoder kind -> Spark type (as the type policy writes it)
    "bool": "BOOLEAN",
    "int2": "SMALLINT",
    "int4": "INT",
    "int8": "BIGINT",
    "oid": "BIGINT",
    "float4": "FLOAT",
    "float8": "DOUBLE",
    "text": "STRING",
    "bytea": "BINARY",
    "uuid": "STRING",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMP",
}
_ORDERED_KINDS = frozenset(
    {"bool", "int2", "int4", "int8", "oid", "float4", "float8", "numeric", "date"}
    | {"timestamp", "timestamptz"}
)
_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")


class CopyEngineError(EngineError):
    """The COPY engine cannot read this plan, or its JAR is not on the Spark classpath."""


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


@dataclass(frozen=True)
class EngineColumn:
    """One column as the engine reads it: Spark name, decoder kind, SELECT expression, filters,
    and the source column and type it was planned from.

    ``kind`` is one of the decoders (``int4``, ``numeric``, ``text``, ``array``, ...); ``element``
    the decoder of an array's elements; ``precision``/``scale`` a numeric's Spark DECIMAL; ``expr``
    the SQL selected (a plain quoted column wherever ``filter`` is not ``none``); ``filter`` which
    Spark filters are pushed as SQL: ``none``, ``equality`` (=, IN, IS NULL) or ``ordering``
    (also <, <=, >, >=). ``pg_column``, ``pg_type`` (the type's oid, as declared: a domain's for
    a domain column) and ``pg_type_name`` (``format_type``): each partition checks, before its
    COPY, that the source column still has that type (:class:`PlanChangedError` otherwise);
    ``pg_type`` 0: not checked.
    """

    name: str
    kind: str
    expr: str
    filter: str = "none"
    element: Optional[str] = None
    precision: Optional[int] = None
    scale: Optional[int] = None
    pg_column: Optional[str] = None
    pg_type: int = 0
    pg_type_name: Optional[str] = None

    @property
    def spark_type(self) -> str:
        """The Spark type the engine produces, in the type policy's spelling."""
        if self.kind == "numeric":
            return f"DECIMAL({self.precision},{self.scale})"
        if self.kind == "array":
            return f"ARRAY<{_SPARK_TYPES[self.element or '']}>"
        return _SPARK_TYPES[self.kind]

    @property
    def counted(self) -> bool:
        """True when some values of this column may be read as NULL (and are counted)."""
        return self.kind in COUNTED_KINDS

    def to_json(self) -> Dict[str, Any]:
        """The column's entry in the ``columns`` option."""
        data: Dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "expr": self.expr,
            "filter": self.filter,
        }
        if self.element is not None:
            data["element"] = self.element
        if self.kind == "numeric":
            data.update(precision=self.precision, scale=self.scale)
        if self.pg_type:
            data.update(pgColumn=self.pg_column, pgType=self.pg_type, pgTypeName=self.pg_type_name)
        return data


def engine_column(
    column: PgColumn, plan: ColumnPlan, *, string_filter: str = "equality"
) -> EngineColumn:
    """The engine's reading of ``column`` as the type policy planned it (``plan``).

    Native types are selected raw (no ``CASE WHEN`` guard: the decoder counts what Spark cannot
    hold); types the policy reads as text keep the policy's expression. ``string_filter`` is for
    text/varchar columns: ``"equality"`` for deterministic collations, ``"ordering"`` under a
    ``"C"``/``POSIX`` collation (ranges then order bytes like Spark), ``"none"`` for
    nondeterministic ones. bpchar never gets filters (PostgreSQL ignores its trailing blanks).

    >>> c = PgColumn(name="total", formatted_type="numeric(12,2)", base_type="numeric",
    ...              base_typmod=786438)
    >>> engine_column(c, ColumnPlan("total", 'CASE WHEN ... END AS "total"', "DECIMAL(12,2)", "decimal"))
    EngineColumn(name='total', kind='numeric', expr='"total"', filter='ordering', element=None, precision=12, scale=2, pg_column=None, pg_type=0, pg_type_name=None)
    """
    decoded = _decoder_column(column, plan, string_filter)
    if not column.type_oid:
        return decoded  # described without oids: not checked
    return replace(
        decoded, pg_column=column.name, pg_type=column.type_oid, pg_type_name=column.formatted_type
    )


def _decoder_column(column: PgColumn, plan: ColumnPlan, string_filter: str) -> EngineColumn:
    if string_filter not in FILTERS:
        raise ValueError(f"string_filter={string_filter!r}: expected one of {', '.join(FILTERS)}")
    q = quote_ident(column.name)
    name = plan.dataframe_name  # the DataFrame's name (case clashes renamed: docs/types.md)
    policy = plan.policy
    if plan.spark_type == "STRING" and policy != "native":
        return EngineColumn(name, "text", plan.select_sql)
    if policy in ("decimal", "money-decimal"):
        match = _DECIMAL.fullmatch(plan.spark_type or "")
        if match is None:
            raise CopyEngineError(f"column {plan.name}: unexpected decimal type {plan.spark_type}")
        expr = q if policy == "decimal" else f"{q}::numeric"
        precision, scale = int(match.group(1)), int(match.group(2))
        return EngineColumn(name, "numeric", expr, "ordering", None, precision, scale)
    if policy == "array":
        element = _SCALAR_KINDS.get(column.element_type or "")
        if element is None or element in COUNTED_KINDS:
            raise CopyEngineError(
                f"column {plan.name}: no native decoder for {column.formatted_type}"
            )
        value = f"{q}::pg_catalog.{quote_ident(column.element_type or '')}[]"
        return EngineColumn(
            name, "array", value if column.element_is_domain else q, element=element
        )
    kind = _SCALAR_KINDS.get(column.base_type)
    if kind is None or policy not in ("native", "date", "timestamp", "timestamptz"):
        raise CopyEngineError(
            f"column {plan.name}: the engine has no decoder for policy {policy!r} "
            f"({column.formatted_type})"
        )
    if kind in _ORDERED_KINDS:
        return EngineColumn(name, kind, q, "ordering")
    if kind == "text" and column.base_type != "bpchar":
        return EngineColumn(name, kind, q, string_filter)
    return EngineColumn(name, kind, q)


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
    try:
        df = spark.read.format(SOURCE_CLASS).options(**options).load()
    except (Py4JJavaError, CapturedException) as exc:
        missing = engine_missing(exc, f"the COPY engine ({SOURCE_CLASS})", "docs/reading.md")
        if missing:
            raise CopyEngineError(missing) from None
        raise CopyEngineError(
            f"{label}: the COPY engine rejected the read: {failure_of(exc).message}"
        ) from None
    counted = tuple((i, c.name) for i, c in enumerate(columns) if c.counted)
    return df, UnrepresentableCounts(spark, read_id, counted)


def engine_columns(
    columns: Sequence[PgColumn],
    plans: Sequence[ColumnPlan],
    *,
    string_filters: Optional[Mapping[str, str]] = None,
) -> List[EngineColumn]:
    """:func:`engine_column` for each (column, plan) pair; ``string_filters`` by column name."""
    filters = string_filters or {}
    return [
        engine_column(column, plan, string_filter=filters.get(column.name, "equality"))
        for column, plan in zip(columns, plans)
    ]


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
    )
    metrics = EngineMetrics(counts, [p.dataframe_name for p in read.guarded])
    report = UnrepresentableReport(
        read.source, read.guarded, metrics if read.report_unrepresentable else None
    )
    return df, report
