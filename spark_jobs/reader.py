"""Read PostgreSQL tables and queries into Spark DataFrames: partitioned, memory-bounded, typed.

>>> df = read_table(spark, settings, "aurora.public.orders")  # doctest: +SKIP
>>> df = read_table(spark, settings, "aurora.orders", columns=["id", "total"],
...                 where="status = 'open'", partitioning={"num_partitions": 4})  # doctest: +SKIP
>>> tables = load_tables(spark, settings, ["aurora.orders", "aurora.customers"])  # doctest: +SKIP
>>> spark.sql("SELECT count(*) FROM orders JOIN customers USING (customer_id)")  # doctest: +SKIP

All planning (catalog lookups, one min/max query, pg_stats) runs on the driver through the JVM's
pgjdbc before any Spark job; no function here triggers a Spark action. Each read's plan (strategy,
partitions, key, why) is a :class:`TableRead`: :func:`plan_table` / :func:`plan_query` return it,
``TableRead.load`` turns it into the DataFrame, :func:`read_tables` returns both.

Defaults (see ``docs/reading.md``): ``fetchsize`` from the connection (10,000 rows) so memory is
bounded whatever the table size; binary transfer (``prepareThreshold=-1``), switched off with
``binary_transfer=False``; partitioning by :mod:`spark_jobs.partitioning`.

Values the type policy reads as NULL because no native Spark type holds them (``numeric`` NaN,
``±infinity`` dates, ...) are counted while Spark reads: PostgreSQL computes one extra integer
column per read (a bit per guarded column), an :class:`pyspark.sql.Observation` sums it during the
caller's first action, and the column is dropped from the DataFrame. No extra query, no extra
action; :meth:`TableRead.unrepresentable_counts` / :meth:`LoadedTable.unrepresentable_counts` give
the counts once that action has run (``report_unrepresentable=False`` switches it off).
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from connectors.errors import (
    ColumnNotFoundError,
    DatabaseError,
    IdentifierError,
    PartitioningError,
    QueryError,
    SnapshotError,
    UnrepresentableValuesError,
)
from connectors.jdbc import TableRef, quote_ident, quote_literal, resolve_endpoint
from spark_jobs import catalog
from spark_jobs.jdbc_client import JdbcSource, JdbcTarget, connect, py4j_quiet, translate_error
from spark_jobs.partitioning import (
    KeyCandidate,
    PartitionOverrides,
    PartitionPlan,
    RelationStats,
    StrategyChoice,
    choose_strategy,
    override_bounds,
    plan_key_ranges,
    plan_page_ranges,
    single_plan,
)
from spark_jobs.sqltext import check_fragment
from spark_jobs.types import ColumnPlan, custom_schema, describe_source, plan_columns, renames

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Observation, SparkSession

    from connectors.settings import Settings

logger = logging.getLogger(__name__)

CTID_ALIAS = "__sparkpg_ctid"
"""Reserved column name under which a page-range read exposes ``ctid`` to its predicates."""
KEY_ALIAS = "__sparkpg_key"
"""Reserved column name under which a key-range read exposes the raw key to its predicates."""
LOST_ALIAS = "__sparkpg_lost"
"""Reserved column name (prefix) of the per-row bit mask of values read as NULL (see
:func:`lost_masks`); computed by PostgreSQL, observed by Spark, dropped from the DataFrame."""
LOST_BITS = 31
"""Guarded columns per mask column: bits 0..30 of an ``integer`` (more columns, more masks)."""
SOURCE_ALIAS = "__sparkpg_src"
QUERY_ALIAS = "__sparkpg_query"
_RESERVED = (CTID_ALIAS, KEY_ALIAS)

# What a guarded column's NULLs stand for, by ColumnPlan.policy (for messages).
_LOST_VALUES = {
    "decimal": "numeric NaN",
    "date": "date infinity or 1582-10-05..14",
    "timestamp": "timestamp infinity, 1582-10-05..14 or after 294247",
    "timestamptz": "timestamptz infinity, 1582-10-05..14 or after 294247",
    "array": "array with more dimensions or a lower bound other than 1",
}

Partitioning = Union[PartitionOverrides, Mapping[str, Any], None]


PARTITION_SESSION_SETTINGS = "SET LOCAL jit = off"
"""Run in each partition's transaction (after any snapshot statements): JIT-compiling a bulk
scan's expressions costs tens to hundreds of milliseconds per partition and gains nothing when
every row is streamed out. ``LOCAL``: the setting ends with the read's transaction (poolers)."""


@dataclass(frozen=True)
class Snapshot:
    """A snapshot exported by :func:`consistent_snapshot`; valid only inside its ``with`` block."""

    connection: str
    snapshot_id: str

    @property
    def session_init_statement(self) -> str:
        """What each partition's connection runs before its query (Spark ``sessionInitStatement``)."""
        return (
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
            f"SET TRANSACTION SNAPSHOT {quote_literal(self.snapshot_id)}"
        )


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


class UnrepresentableReport:
    """Per-column counts of the values one load of a read returned as NULL because its Spark type
    cannot hold them, observed during the first Spark action over the DataFrame (or over anything
    built on it). Nothing here runs an action.

    The counts cover every row that action read from PostgreSQL, whatever the caller filtered or
    selected afterwards in Spark (a ``show()`` that stops early covers the partitions it read).
    """

    def __init__(
        self, source: str, masks: Sequence[LostMask], observation: Optional[Observation]
    ) -> None:
        self.source = source
        self.columns: Tuple[ColumnPlan, ...] = tuple(p for m in masks for p in m.columns)
        self._observation = observation

    @property
    def enabled(self) -> bool:
        """False when the read was planned with ``report_unrepresentable=False``."""
        return self._observation is not None or not self.columns

    def counts(self, wait_seconds: float = 1.0) -> Optional[Dict[str, int]]:
        """``{column: values read as NULL}`` for every column that can lose values (zeros
        included; ``{}`` when none can), or None when not known: reporting switched off, or no
        action over the DataFrame has finished yet (waits at most ``wait_seconds`` for one that
        is finishing: Spark delivers observations on its listener bus, just after the action)."""
        if not self.columns:
            return {}
        if self._observation is None:
            return None
        metrics = _observed_metrics(self._observation, wait_seconds)
        if metrics is None:
            return None
        return {plan.name: int(metrics.get(f"c{i}") or 0) for i, plan in enumerate(self.columns)}

    def lost(self, wait_seconds: float = 1.0) -> Optional[Dict[str, int]]:
        """Only the columns with values read as NULL (``{}``: none), or None when not known."""
        counts = self.counts(wait_seconds)
        return None if counts is None else {k: v for k, v in counts.items() if v}

    def message(self, counts: Mapping[str, int]) -> str:
        """The warning for ``counts`` (from :meth:`lost`): table, columns, counts and the fix."""
        policies = {plan.name: plan.policy for plan in self.columns}
        parts = ", ".join(
            f"{quote_ident(name)} {count} ({_LOST_VALUES.get(policies.get(name, ''), 'unrepresentable')})"
            for name, count in counts.items()
        )
        total = sum(counts.values())
        return (
            f"{self.source}: {total} value(s) read as NULL because their Spark type cannot hold "
            f'them: {parts}. Read with --unrepresentable text (unrepresentable="text") to keep '
            "them exactly as PostgreSQL text"
        )

    def raise_if_lost(self, wait_seconds: float = 1.0) -> None:
        """Raise :class:`UnrepresentableValuesError` when values were read as NULL (strict mode)."""
        lost = self.lost(wait_seconds)
        if lost:
            raise UnrepresentableValuesError(self.message(lost))


def _observed_metrics(observation: Observation, wait_seconds: float) -> Optional[Dict[str, Any]]:
    """The observation's metrics without ever blocking for long: Spark 3.5's ``Observation.get``
    waits until the first action over the observed DataFrame completes, forever if none does."""
    jo = getattr(observation, "_jo", None)
    if jo is None:  # pragma: no cover - observe() always sets it on classic (non-Connect) Spark
        return None
    deadline = time.monotonic() + max(wait_seconds, 0.0)
    while True:
        try:
            done = bool(jo.future().isCompleted())
        except Exception:  # pragma: no cover - Spark 3.5 builds whose Observation has no future
            try:
                found = dict(jo.getOrEmpty().items())  # waits at most 100 ms
            except Exception:
                return None
            return found or None
        if done:
            try:
                return {k: v for k, v in jo.getAsJava().items()}
            except Exception:  # pragma: no cover - the action failed
                return None
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


@dataclass(frozen=True)
class TableRead:
    """A planned read: what to select, how it is split and why. No data has been read.

    The password lives only in ``target.credentials`` (a ``SecretStr``, hidden from the repr).
    """

    name: str
    source: str
    dbtable: str
    plan: PartitionPlan
    columns: Tuple[ColumnPlan, ...]
    fetch_size: int
    binary_transfer: bool
    target: JdbcTarget = field(repr=False)
    snapshot: Optional[Snapshot] = None
    planning_seconds: float = 0.0
    lost_masks: Tuple[LostMask, ...] = ()
    """Mask columns of ``dbtable`` that count values read as NULL (empty: not reported)."""
    _reports: List[UnrepresentableReport] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    @property
    def report_unrepresentable(self) -> bool:
        """True when the read counts the values it reads as NULL (or none can be)."""
        return bool(self.lost_masks) or not any(p.null_when for p in self.columns)

    @property
    def custom_schema(self) -> Optional[str]:
        """Spark's ``customSchema`` option from the type policy, or None."""
        return custom_schema(self.columns)

    def jdbc_properties(self) -> Dict[str, str]:
        """Spark JDBC options and pgjdbc properties of the read, PASSWORD INCLUDED: never log."""
        props = self.target.properties(binary_transfer=self.binary_transfer)
        props["fetchsize"] = str(self.fetch_size)
        if self.custom_schema:
            props["customSchema"] = self.custom_schema
        statements = [self.snapshot.session_init_statement] if self.snapshot is not None else []
        statements.append(PARTITION_SESSION_SETTINGS)
        props["sessionInitStatement"] = "; ".join(statements)
        return props

    def load(self, spark: SparkSession) -> DataFrame:
        """The DataFrame of this read (lazy: Spark reads when an action runs).

        The counts of values read as NULL of the latest load are :meth:`unrepresentable_counts`.
        """
        return self.load_reported(spark)[0]

    def unrepresentable_counts(self, wait_seconds: float = 1.0) -> Optional[Dict[str, int]]:
        """``{column: values read as NULL}`` of the latest :meth:`load`, after its first action
        (see :meth:`UnrepresentableReport.counts`); None before that, or when not reported."""
        report = self._reports[-1] if self._reports else None
        return None if report is None else report.counts(wait_seconds)

    def load_reported(self, spark: SparkSession) -> Tuple[DataFrame, UnrepresentableReport]:
        """:meth:`load`, and the :class:`UnrepresentableReport` of that DataFrame."""
        from py4j.protocol import Py4JJavaError

        reader = spark.read
        try:
            with py4j_quiet():
                if self.plan.predicates:
                    df = reader.jdbc(
                        self.target.url,
                        self.dbtable,
                        predicates=list(self.plan.predicates),
                        properties=self.jdbc_properties(),
                    )
                else:
                    df = reader.jdbc(
                        self.target.url, self.dbtable, properties=self.jdbc_properties()
                    )
        except Py4JJavaError as exc:
            raise translate_error(exc, self.target, what="reading", table=self.source) from None
        # The key/ctid aliases go first: dropped right above the scan, Spark prunes them from the
        # SELECT it sends (the partition predicates still use them inside the subquery).
        hidden = [name for name in _RESERVED if name in df.columns]
        if hidden:
            df = df.drop(*hidden)
        observation = None
        if self.lost_masks:
            from pyspark.sql import Observation
            from pyspark.sql import functions as F

            observation = Observation()  # a unique name: several reads may meet in one query
            metrics = [
                F.count(F.when(F.col(mask.alias).bitwiseAND(F.lit(1 << bit)) != 0, F.lit(1)))
                for mask in self.lost_masks
                for bit in range(len(mask.columns))
            ]
            df = df.observe(observation, *(m.alias(f"c{i}") for i, m in enumerate(metrics)))
            df = df.drop(*(mask.alias for mask in self.lost_masks))
        for spark_name, name in renames(self.columns).items():
            df = df.withColumnRenamed(spark_name, name)
        masks = self.lost_masks or tuple(lost_masks(self.columns))
        report = UnrepresentableReport(self.source, masks, observation)
        self._reports[:] = [report]
        return df, report

    def describe(self) -> str:
        """One line: the source and how it is read."""
        snap = " in a shared snapshot" if self.snapshot else ""
        return f"{self.source}: {self.plan.describe()}{snap}"


@dataclass(frozen=True)
class LoadedTable:
    """A table of :func:`read_tables`: its view name, the plan and the (lazy) DataFrame."""

    name: str
    read: TableRead
    dataframe: DataFrame
    report: Optional[UnrepresentableReport] = None

    def unrepresentable_counts(self, wait_seconds: float = 1.0) -> Optional[Dict[str, int]]:
        """``{column: values read as NULL}`` once an action over ``dataframe`` has finished
        (see :meth:`UnrepresentableReport.counts`); None before, or when not reported."""
        return None if self.report is None else self.report.counts(wait_seconds)


# --- public API ---------------------------------------------------------------------------------


def read_table(
    spark: SparkSession,
    settings: Settings,
    table: Union[str, TableRef],
    *,
    columns: Optional[Sequence[str]] = None,
    where: Optional[str] = None,
    partitioning: Partitioning = None,
    fetch_size: Optional[int] = None,
    snapshot: Optional[Snapshot] = None,
    binary_transfer: bool = True,
    unrepresentable: str = "null",
    report_unrepresentable: bool = True,
) -> DataFrame:
    """Read ``connection.schema.table`` (``schema`` defaults to ``public``) into a DataFrame.

    ``columns`` selects columns (names as stored, case-sensitive); ``where`` is a SQL filter run
    by PostgreSQL; ``partitioning`` overrides the planner (a :class:`PartitionOverrides` or a
    mapping with ``strategy``, ``key_column``, ``num_partitions``, ``lower_bound``,
    ``upper_bound``); ``fetch_size`` overrides the connection's rows per round trip;
    ``snapshot`` (from :func:`consistent_snapshot`) makes every partition read one snapshot.
    ``unrepresentable`` is the type policy's choice for values a native Spark type cannot hold
    (``"null"``, the default, or ``"text"``: see ``docs/types.md``). With
    ``report_unrepresentable`` (default) the values read as NULL are counted during the first
    action (use :func:`plan_table` + :meth:`TableRead.load` to get the counts); Spark does not
    push filters through that observation, so filter with ``where=`` (or switch it off).
    """
    return plan_table(
        spark,
        settings,
        table,
        columns=columns,
        where=where,
        partitioning=partitioning,
        fetch_size=fetch_size,
        snapshot=snapshot,
        binary_transfer=binary_transfer,
        unrepresentable=unrepresentable,
        report_unrepresentable=report_unrepresentable,
    ).load(spark)


def read_query(
    spark: SparkSession,
    settings: Settings,
    connection: str,
    query: str,
    *,
    partitioning: Partitioning = None,
    fetch_size: Optional[int] = None,
    snapshot: Optional[Snapshot] = None,
    binary_transfer: bool = True,
    unrepresentable: str = "null",
    report_unrepresentable: bool = True,
) -> DataFrame:
    """Run a ``SELECT`` on ``connection`` and return its result as a DataFrame.

    One partition unless ``partitioning`` names a ``key_column`` of the result (integer, date or
    timestamp): then bounds come from one min/max over the query and each partition runs the
    query with its key range.
    """
    return plan_query(
        spark,
        settings,
        connection,
        query,
        partitioning=partitioning,
        fetch_size=fetch_size,
        snapshot=snapshot,
        binary_transfer=binary_transfer,
        unrepresentable=unrepresentable,
        report_unrepresentable=report_unrepresentable,
    ).load(spark)


def load_tables(
    spark: SparkSession,
    settings: Settings,
    tables: Sequence[Union[str, TableRef]],
    **options: Any,
) -> Dict[str, DataFrame]:
    """Read several tables (the backend's ``selected_postgres_tables``) and register each as a
    temporary view named after the table; returns the DataFrames by that name.

    ``options`` are passed to every :func:`read_table` (``partitioning``, ``snapshot``, ...).
    """
    return {t.name: t.dataframe for t in read_tables(spark, settings, tables, **options)}


def read_tables(
    spark: SparkSession,
    settings: Settings,
    tables: Sequence[Union[str, TableRef]],
    *,
    register_views: bool = True,
    partitioning: Partitioning = None,
    fetch_size: Optional[int] = None,
    snapshots: Optional[Mapping[str, Snapshot]] = None,
    snapshot: Optional[Snapshot] = None,
    binary_transfer: bool = True,
    unrepresentable: str = "null",
    report_unrepresentable: bool = True,
) -> List[LoadedTable]:
    """Plan and load ``tables`` with one metadata connection per database connection; register
    temp views by table name. ``snapshots`` maps connection names to snapshots (or give one
    ``snapshot`` for the only connection)."""
    refs = [t if isinstance(t, TableRef) else TableRef.parse(t) for t in tables]
    names: Dict[str, TableRef] = {}
    for ref in refs:
        key = ref.view_name.lower()
        if key in names and names[key] != ref:
            raise IdentifierError(
                f"tables {names[key]} and {ref} would both be registered as view "
                f"{ref.view_name!r}; read one of them with read_table and register it yourself"
            )
        names[key] = ref
    snaps = dict(snapshots or {})
    if snapshot is not None:
        snaps.setdefault(snapshot.connection, snapshot)
    loaded: List[LoadedTable] = []
    with ExitStack() as stack:
        sources: Dict[str, JdbcSource] = {}
        for ref in dict.fromkeys(refs):
            conn_name = settings.connection(ref.connection).name
            if conn_name not in sources:
                source = connect(
                    spark, settings.connection(conn_name), binary_transfer=binary_transfer
                )
                stack.callback(source.close)
                sources[conn_name] = source
            read = _plan_table(
                spark,
                sources[conn_name],
                ref,
                columns=None,
                where=None,
                overrides=_overrides(partitioning),
                fetch_size=fetch_size,
                snapshot=_snapshot_for(snaps, conn_name, snapshot),
                binary_transfer=binary_transfer,
                unrepresentable=unrepresentable,
                report_unrepresentable=report_unrepresentable,
            )
            df, report = read.load_reported(spark)
            if register_views:
                df.createOrReplaceTempView(_spark_ident(ref.view_name))
            loaded.append(LoadedTable(ref.view_name, read, df, report))
    return loaded


def plan_table(
    spark: SparkSession,
    settings: Settings,
    table: Union[str, TableRef],
    *,
    columns: Optional[Sequence[str]] = None,
    where: Optional[str] = None,
    partitioning: Partitioning = None,
    fetch_size: Optional[int] = None,
    snapshot: Optional[Snapshot] = None,
    binary_transfer: bool = True,
    unrepresentable: str = "null",
    report_unrepresentable: bool = True,
) -> TableRead:
    """Plan a :func:`read_table` without creating the DataFrame (see :class:`TableRead`)."""
    ref = table if isinstance(table, TableRef) else TableRef.parse(table)
    connection = settings.connection(ref.connection)
    source = connect(spark, connection, binary_transfer=binary_transfer)
    try:
        return _plan_table(
            spark,
            source,
            ref,
            columns=columns,
            where=where,
            overrides=_overrides(partitioning),
            fetch_size=fetch_size,
            snapshot=_snapshot_for({}, connection.name, snapshot),
            binary_transfer=binary_transfer,
            unrepresentable=unrepresentable,
            report_unrepresentable=report_unrepresentable,
        )
    finally:
        source.close()


def plan_query(
    spark: SparkSession,
    settings: Settings,
    connection: str,
    query: str,
    *,
    partitioning: Partitioning = None,
    fetch_size: Optional[int] = None,
    snapshot: Optional[Snapshot] = None,
    binary_transfer: bool = True,
    unrepresentable: str = "null",
    report_unrepresentable: bool = True,
    name: str = "query",
) -> TableRead:
    """Plan a :func:`read_query` without creating the DataFrame."""
    started = time.monotonic()
    conn_settings = settings.connection(connection)
    what = f"query on connection {conn_settings.name!r}"
    sql = check_fragment(query, what)
    overrides = _overrides(partitioning)
    source = connect(spark, conn_settings, binary_transfer=binary_transfer)
    try:
        from_sql = f"(\n{sql}\n) AS {quote_ident(QUERY_ALIAS)}"
        result = source.result_columns(f"SELECT * FROM {from_sql}", what=what)
        described = [(c.name, c.type_name) for c in result]
        candidates: List[KeyCandidate] = []
        if overrides.key_column is not None:
            candidates = [catalog.query_column_key(described, overrides.key_column, what)]
        choice = choose_strategy(
            RelationStats("query"),
            candidates,
            server_version_num=source.server_version_num,
            max_connections=conn_settings.max_connections,
            overrides=overrides,
            parallelism=_parallelism(spark),
        )
        if choice.strategy == "page_range":  # pragma: no cover - refused by choose_strategy
            raise PartitioningError("a query has no pages to split on")
        typmods = [c.typmod for c in result]
        plans = _column_plans(source, from_sql, None, what, unrepresentable, typmods)
        masks = lost_masks(plans) if report_unrepresentable else []
        dbtable = _dbtable(plans, from_sql, None, choice, masks)
        plan = _finish_plan(source, choice, from_sql, overrides, None, pages=None)
        _probe(source, dbtable, what)
        return TableRead(
            name=name,
            source=what,
            dbtable=dbtable,
            plan=plan,
            columns=tuple(plans),
            fetch_size=fetch_size or conn_settings.fetch_size,
            binary_transfer=binary_transfer,
            target=source.target,
            snapshot=_snapshot_for({}, conn_settings.name, snapshot),
            planning_seconds=time.monotonic() - started,
            lost_masks=tuple(masks),
        )
    finally:
        source.close()


@contextmanager
def consistent_snapshot(
    spark: SparkSession, settings: Settings, connection: str
) -> Iterator[Snapshot]:
    """Export a snapshot that every partition of every read given it will share.

    The driver holds a REPEATABLE READ transaction open for the whole block; run the Spark
    actions INSIDE it (each partition imports the snapshot when its task starts)::

        with consistent_snapshot(spark, settings, "aurora") as snap:
            orders = read_table(spark, settings, "aurora.orders", snapshot=snap)
            orders.write.parquet("s3://bucket/orders/")

    Refused on an Aurora reader endpoint (``.cluster-ro-``: partitions may land on different
    replicas) and on a hot standby; use the cluster (writer) endpoint.
    """
    conn_settings = settings.connection(connection)
    if conn_settings.host and resolve_endpoint(conn_settings).is_reader:
        raise SnapshotError(
            f"connection {conn_settings.name!r} points at the Aurora reader endpoint "
            f"{conn_settings.host}: each partition may be routed to a different replica, so they "
            "cannot share one snapshot. Use the cluster (writer) endpoint for --snapshot reads"
        )
    source = connect(spark, conn_settings)
    try:
        if (
            source.target.connection.host is None
            and resolve_endpoint(conn_settings, source.target.credentials).is_reader
        ):
            raise SnapshotError(
                f"connection {conn_settings.name!r} points at an Aurora reader endpoint (from "
                "its secret): partitions cannot share one snapshot there; use the writer endpoint"
            )
        if catalog.is_in_recovery(source):
            raise SnapshotError(
                f"connection {conn_settings.name!r} ({source.target.host_port}) is a hot standby "
                "(read replica): a snapshot exported there can be imported only by sessions on "
                "that same standby, which an endpoint in front of replicas does not guarantee. "
                "Use the primary (writer) endpoint for --snapshot reads"
            )
        source.set_autocommit(False)
        source.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", what="starting snapshot")
        snapshot_id = str(
            source.query("SELECT pg_export_snapshot()", what="exporting a snapshot")[0][0]
        )
        logger.info("connection %r: exported snapshot %s", conn_settings.name, snapshot_id)
        yield Snapshot(conn_settings.name, snapshot_id)
    finally:
        try:
            source.rollback()
        finally:
            source.close()


# --- planning -----------------------------------------------------------------------------------


def _plan_table(
    spark: SparkSession,
    source: JdbcSource,
    ref: TableRef,
    *,
    columns: Optional[Sequence[str]],
    where: Optional[str],
    overrides: PartitionOverrides,
    fetch_size: Optional[int],
    snapshot: Optional[Snapshot],
    binary_transfer: bool,
    unrepresentable: str = "null",
    report_unrepresentable: bool = True,
) -> TableRead:
    started = time.monotonic()
    conn_settings = source.target.connection
    relation = catalog.find_relation(source, ref)
    table_sql = ref.qualified_name
    filter_sql = check_fragment(where, f"filter of {ref}") if where is not None else None
    if overrides.key_column is not None:
        candidates = [catalog.column_key(source, relation, overrides.key_column)]
    else:
        candidates = catalog.key_candidates(source, relation)
    choice = choose_strategy(
        relation.stats,
        candidates,
        server_version_num=source.server_version_num,
        max_connections=conn_settings.max_connections,
        overrides=overrides,
        parallelism=_parallelism(spark),
    )
    plans = _column_plans(source, table_sql, columns, f"table {ref}", unrepresentable)
    masks = lost_masks(plans) if report_unrepresentable else []
    dbtable = _dbtable(plans, table_sql, filter_sql, choice, masks)
    plan = _finish_plan(source, choice, table_sql, overrides, relation, pages=relation.stats.pages)
    _probe(source, dbtable, f"reading table {ref}")
    read = TableRead(
        name=ref.view_name,
        source=str(ref),
        dbtable=dbtable,
        plan=plan,
        columns=tuple(plans),
        fetch_size=fetch_size or conn_settings.fetch_size,
        binary_transfer=binary_transfer,
        target=source.target,
        snapshot=snapshot,
        planning_seconds=time.monotonic() - started,
        lost_masks=tuple(masks),
    )
    logger.info("%s", read.describe())
    for note in plan.notes:
        logger.warning("%s: %s", ref, note)
    return read


def _finish_plan(
    source: JdbcSource,
    choice: StrategyChoice,
    from_sql: str,
    overrides: PartitionOverrides,
    relation: Optional[catalog.Relation],
    *,
    pages: Optional[int],
) -> PartitionPlan:
    if choice.strategy == "single":
        return single_plan(choice)
    if choice.strategy == "page_range":
        return plan_page_ranges(choice, pages or 1, ctid_sql=quote_ident(CTID_ALIAS))
    key = choice.key
    assert key is not None
    queried = None
    if overrides.lower_bound is None or overrides.upper_bound is None:
        queried = catalog.key_bounds(source, from_sql, key)
    bounds = override_bounds(overrides, key.kind, queried)
    distribution = None
    if relation is not None and overrides.lower_bound is None and overrides.upper_bound is None:
        distribution = catalog.key_distribution(source, relation, key)
    return plan_key_ranges(
        choice, bounds, distribution=distribution, column_sql=quote_ident(KEY_ALIAS)
    )


def _column_plans(
    source: JdbcSource,
    from_sql: str,
    columns: Optional[Sequence[str]],
    what: str,
    unrepresentable: str = "null",
    query_typmods: Optional[Sequence[int]] = None,
) -> List[ColumnPlan]:
    described = describe_source(source, from_sql, query_typmods=query_typmods)
    names = [c.name for c in described]
    clash = [n for n in names if n in _RESERVED or n.startswith(LOST_ALIAS)]
    if clash:
        raise QueryError(f"{what} has a column named {clash[0]!r}, a name sparkpg reserves")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise QueryError(
            f"{what} returns duplicate column name(s) {', '.join(duplicates)}; alias them"
        )
    if columns is not None:
        if not columns:
            raise ColumnNotFoundError(f"no columns selected from {what}")
        missing = [c for c in columns if c not in names]
        if missing:
            import difflib

            hints = []
            for name in missing:
                close = difflib.get_close_matches(name, names, n=3) or [
                    n for n in names if n.lower() == name.lower()
                ]
                hints.append(
                    f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else "")
                )
            raise ColumnNotFoundError(
                f"{what} has no column {', '.join(hints)}; columns: {', '.join(names)}"
            )
        wanted = list(dict.fromkeys(columns))
        by_name = {c.name: c for c in described}
        described = [by_name[name] for name in wanted]
    return list(plan_columns(list(described), unrepresentable=unrepresentable))


def _dbtable(
    plans: Sequence[ColumnPlan],
    from_sql: str,
    filter_sql: Optional[str],
    choice: StrategyChoice,
    masks: Sequence[LostMask] = (),
) -> str:
    select = [p.select_sql for p in plans] + [m.select_sql for m in masks]
    if choice.strategy == "page_range":
        select.insert(0, f"ctid AS {quote_ident(CTID_ALIAS)}")
    elif choice.strategy == "key_range" and choice.key is not None:
        select.insert(0, f"{quote_ident(choice.key.column)} AS {quote_ident(KEY_ALIAS)}")
    where = f" WHERE (\n{filter_sql}\n)" if filter_sql else ""
    return f"(SELECT {', '.join(select)} FROM {from_sql}{where}) AS {quote_ident(SOURCE_ALIAS)}"


def _probe(source: JdbcSource, dbtable: str, what: str) -> None:
    """Run the read's query with ``WHERE false`` on the driver: permissions, bad filters and bad
    column expressions fail here, before Spark starts."""
    source.query(f"SELECT 1 FROM {dbtable} WHERE false", what=what)


def _overrides(partitioning: Partitioning) -> PartitionOverrides:
    if partitioning is None:
        return PartitionOverrides()
    if isinstance(partitioning, PartitionOverrides):
        return partitioning
    try:
        return PartitionOverrides(**dict(partitioning))
    except TypeError as exc:
        raise PartitioningError(
            f"unknown partitioning option ({exc}); use strategy, key_column, num_partitions, "
            "lower_bound, upper_bound"
        ) from None


def _snapshot_for(
    snapshots: Mapping[str, Snapshot], connection: str, snapshot: Optional[Snapshot]
) -> Optional[Snapshot]:
    for name, snap in snapshots.items():
        if name.lower() == connection.lower():
            return snap
    if snapshot is not None and snapshot.connection.lower() != connection.lower():
        raise SnapshotError(
            f"the snapshot was exported on connection {snapshot.connection!r}, not "
            f"{connection!r}: a snapshot is valid only on the server that exported it"
        )
    return snapshot


def _parallelism(spark: SparkSession) -> Optional[int]:
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:  # pragma: no cover - Spark Connect has no SparkContext
        return None


def _spark_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def database_error_of(exc: BaseException, read: TableRead) -> Optional[DatabaseError]:
    """A :class:`DatabaseError` when a Spark action on ``read`` failed in pgjdbc, else None.

    For entrypoints that run actions: executor-side failures (a dropped connection, a released
    snapshot) surface as py4j errors with the SQLException in their cause chain.
    """
    from spark_jobs.jdbc_client import sql_exception_of

    sqlstate, _ = sql_exception_of(exc)
    if sqlstate is None:
        return None
    return translate_error(exc, read.target, what="reading", table=read.source)
