"""The ``jdbc`` engine: a finished plan read through Spark's own JDBC source, one Spark partition
per partition of the plan.

Spark's JDBC source reads ``SELECT <columns> FROM (<subquery>) WHERE <predicate>``, so this
engine renders the plan as one subquery (:func:`dbtable_sql`): the type policy's SELECT list over
the source, filtered by the user's ``where``, exposing the split column under a reserved alias
for the partition predicates, and (when counting) integer mask columns in which PostgreSQL sets a
bit for each value read as NULL, summed by a Spark observation during the first action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from connectors.errors import DatabaseError
from connectors.jdbc import quote_ident
from spark_jobs.db.failures import translate_error
from spark_jobs.engine.java import py4j_quiet
from spark_jobs.read.plan import RESERVED_PREFIX, TableRead
from spark_jobs.read.report import ObservedMetrics, UnrepresentableReport
from spark_jobs.read.types import ColumnPlan, custom_schema, renames

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SPLIT_ALIAS = RESERVED_PREFIX + "split"
"""The alias under which the subquery exposes the split column (``ctid`` or the raw key) to the
partition predicates; dropped right above the scan, so Spark does not select it."""
LOST_ALIAS = RESERVED_PREFIX + "lost"
"""Alias (prefix) of the per-row bit mask of values read as NULL (see :func:`lost_masks`)."""
LOST_BITS = 31
"""Guarded columns per mask column: bits 0..30 of an ``integer`` (more columns, more masks)."""
SOURCE_ALIAS = RESERVED_PREFIX + "src"


@dataclass(frozen=True)
class LostMask:
    """One extra integer column of a read: bit ``i`` is set when ``columns[i]`` was read as NULL
    because its value cannot be held by the column's Spark type (``ColumnPlan.null_when``)."""

    alias: str
    columns: Tuple[ColumnPlan, ...]

    @property
    def select_sql(self) -> str:
        """``(CASE WHEN <null_when> THEN 1 ELSE 0 END + CASE WHEN ... THEN 2 ...) AS "alias"``."""
        terms = [
            f"CASE WHEN {plan.null_when} THEN {1 << bit} ELSE 0 END"
            for bit, plan in enumerate(self.columns)
        ]
        return f"({' + '.join(terms)}) AS {quote_ident(self.alias)}"


def lost_masks(plans: Sequence[ColumnPlan]) -> List[LostMask]:
    """The mask columns that count the values ``plans`` read as NULL (none when nothing can be).

    One ``integer`` per :data:`LOST_BITS` guarded columns, named ``__sparkpg_lost``,
    ``__sparkpg_lost_2``, ...
    """
    guarded = [plan for plan in plans if plan.null_when]
    chunks = [tuple(guarded[i : i + LOST_BITS]) for i in range(0, len(guarded), LOST_BITS)]
    return [
        LostMask(LOST_ALIAS if n == 0 else f"{LOST_ALIAS}_{n + 1}", chunk)
        for n, chunk in enumerate(chunks)
    ]


def read_masks(read: TableRead) -> List[LostMask]:
    """The mask columns of ``read`` (none when it does not count)."""
    return lost_masks(read.columns) if read.report_unrepresentable else []


def dbtable_sql(read: TableRead) -> str:
    """The subquery Spark reads: the policy's SELECT list (plus the split column under
    :data:`SPLIT_ALIAS` and the mask columns) over the source, filtered by the user's ``where``."""
    select = [p.select_sql for p in read.columns] + [m.select_sql for m in read_masks(read)]
    if read.plan.split is not None:
        select.insert(0, f"{read.plan.split.expression} AS {quote_ident(SPLIT_ALIAS)}")
    where = f" WHERE (\n{read.filter_sql}\n)" if read.filter_sql else ""
    return (
        f"(SELECT {', '.join(select)} FROM {read.from_sql}{where}) AS {quote_ident(SOURCE_ALIAS)}"
    )


def predicates(read: TableRead) -> Tuple[str, ...]:
    """One WHERE condition per Spark partition, over the subquery's split alias."""
    split = read.plan.split
    return split.predicates(quote_ident(SPLIT_ALIAS)) if split is not None else ()


def probe_sql(read: TableRead) -> str:
    """The subquery this engine reads, returning no rows (the planner runs it)."""
    return f"SELECT 1 FROM {dbtable_sql(read)} WHERE false"


def action_error(exc: BaseException) -> Optional[DatabaseError]:
    """This engine's own failures of an action: none (Spark's JDBC source fails in pgjdbc only)."""
    return None


def spark_options(read: TableRead) -> Dict[str, str]:
    """Spark's JDBC options of the read (the connection's plus ``customSchema`` and
    ``sessionInitStatement``), PASSWORD INCLUDED: never log."""
    options = read.target.spark_jdbc_options(
        binary_transfer=read.binary_transfer, fetch_size=read.fetch_size
    )
    schema = custom_schema(read.columns)
    if schema:
        options["customSchema"] = schema
    options["sessionInitStatement"] = "; ".join(read.session_statements)
    return options


CREDENTIAL_PROPERTIES = ("user", "password")
"""The pgjdbc properties that never go into a URL (Spark shows the URL in plans)."""


def properties_in_url(
    url: str, options: Dict[str, str], pgjdbc_names: Sequence[str]
) -> Tuple[str, Dict[str, str]]:
    """``url`` with the pgjdbc properties of ``options`` named in ``pgjdbc_names`` appended as
    parameters, and the options left (the credentials stay there).

    Spark 4's ``DataFrameReader.jdbc(url, table, predicates, properties)`` lower-cases the
    properties' names, and pgjdbc's are case-sensitive (``prepareThreshold``,
    ``authenticationPluginClassName``: they would be dropped without a word); in the URL pgjdbc
    reads them as written. A parameter already in the URL (the connection's ``jdbc_properties``)
    stays and wins, as it does over a property.

    >>> properties_in_url("jdbc:postgresql://h/d?ssl=true", {"user": "u", "prepareThreshold": "-1",
    ...     "fetchsize": "10"}, ["user", "prepareThreshold"])
    ('jdbc:postgresql://h/d?ssl=true&prepareThreshold=-1', {'user': 'u', 'fetchsize': '10'})
    """
    from urllib.parse import parse_qsl, quote, urlsplit

    present = {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    moved = {
        name: value
        for name, value in options.items()
        if name in pgjdbc_names and name not in CREDENTIAL_PROPERTIES
    }
    extra = "&".join(
        f"{quote(name, safe='')}={quote(value, safe='')}"
        for name, value in moved.items()
        if name not in present
    )
    if extra:
        url += ("&" if "?" in url else "?") + extra
    return url, {name: value for name, value in options.items() if name not in moved}


def load(spark: SparkSession, read: TableRead) -> Tuple[DataFrame, UnrepresentableReport]:
    """The DataFrame of ``read`` (lazy: Spark reads when an action runs) and its report."""
    from py4j.protocol import Py4JJavaError

    options = spark_options(read)
    url = options.pop("url")
    parts = list(predicates(read))
    try:
        with py4j_quiet():
            if parts:
                pgjdbc_names = list(read.target.properties(binary_transfer=read.binary_transfer))
                url, options = properties_in_url(url, options, pgjdbc_names)
                df = spark.read.jdbc(url, dbtable_sql(read), predicates=parts, properties=options)
            else:
                df = spark.read.jdbc(url, dbtable_sql(read), properties=options)
    except Py4JJavaError as exc:
        raise translate_error(exc, read.target, what="reading", table=read.source) from None
    # The split alias goes first: dropped right above the scan, Spark prunes it from the SELECT
    # it sends (the partition predicates still use it inside the subquery).
    if SPLIT_ALIAS in df.columns:
        df = df.drop(SPLIT_ALIAS)
    masks = read_masks(read)
    metrics = None
    if masks:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        observation = Observation()  # a unique name: several reads may meet in one query
        counted = [
            F.count(F.when(F.col(mask.alias).bitwiseAND(F.lit(1 << bit)) != 0, F.lit(1)))
            for mask in masks
            for bit in range(len(mask.columns))
        ]
        df = df.observe(observation, *(m.alias(f"c{i}") for i, m in enumerate(counted)))
        df = df.drop(*(mask.alias for mask in masks))
        metrics = ObservedMetrics(observation)
    for spark_name, name in renames(read.columns).items():
        df = df.withColumnRenamed(spark_name, name)
    return df, UnrepresentableReport(read.source, read.guarded, metrics)
