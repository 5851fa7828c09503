"""Read PostgreSQL tables and queries into Spark DataFrames: partitioned, memory-bounded, typed.

>>> df = read_table(spark, settings, "aurora.public.orders")  # doctest: +SKIP
>>> df = read_table(spark, settings, "aurora.orders", columns=["id", "total"],
...                 where="status = 'open'", partitioning={"num_partitions": 4})  # doctest: +SKIP
>>> tables = load_tables(spark, settings, ["aurora.orders", "aurora.customers"])  # doctest: +SKIP
>>> spark.sql("SELECT count(*) FROM orders JOIN customers USING (customer_id)")  # doctest: +SKIP

Every function takes ``options`` (a :class:`~spark_jobs.read.options.ReadOptions`) and/or its
fields as keywords. Each read is a pipeline: resolve the connection once, plan (catalog facts in
one step, then the finished, immutable, engine-neutral :class:`~spark_jobs.read.plan.TableRead`;
:func:`plan_table` / :func:`plan_query` return it), load (:func:`~spark_jobs.read.loading.load_read`:
the plan's engine, the COPY engine by default, renders its SQL and returns the DataFrame and its
:class:`~spark_jobs.read.report.UnrepresentableReport`). All planning runs on the driver through
the JVM's pgjdbc before any Spark job; no function here triggers a Spark action.

Defaults (see ``docs/reading.md``): the COPY engine (binary ``COPY`` per partition, decoded
straight into Spark's values); partitioning by :mod:`spark_jobs.read.strategy` and
:mod:`spark_jobs.read.partitioning`. Values the type policy reads as NULL because no native Spark
type holds them (``numeric`` NaN, ``±infinity`` dates, ...) are counted while Spark reads (by the
COPY engine's decoder; by a mask column and an observation on the ``jdbc`` engine) and reported by
the load (``report_unrepresentable=False`` switches it off).
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from connectors.errors import IdentifierError
from connectors.jdbc import TableRef
from spark_jobs.db.connection import DriverConnection, connect
from spark_jobs.db.target import resolve_target
from spark_jobs.read.loading import LoadedTable, load_read
from spark_jobs.read.options import ReadOptions
from spark_jobs.read.plan import TableRead
from spark_jobs.read.planner import QuerySource, TableSource, plan_read, plan_reads
from spark_jobs.read.snapshots import Snapshot, snapshot_for

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from connectors.settings import Settings

TableLike = Union[str, TableRef]


def read_table(
    spark: SparkSession,
    settings: Settings,
    table: TableLike,
    options: Optional[ReadOptions] = None,
    **overrides: Any,
) -> DataFrame:
    """Read ``connection.schema.table`` (``schema`` defaults to ``public``) into a DataFrame.

    ``options`` / keywords: see :class:`~spark_jobs.read.options.ReadOptions` (``columns``, ``where``,
    ``partitioning``, ``fetch_size``, ``snapshot``, ``unrepresentable``, ...). With
    ``report_unrepresentable`` (default) the values read as NULL are counted during the first
    action (``load_read(spark, plan_table(...))`` gives the report); Spark does not push filters
    through that observation, so filter with ``where=`` (or switch it off).
    """
    return load_read(spark, plan_table(spark, settings, table, options, **overrides)).dataframe


def plan_table(
    spark: SparkSession,
    settings: Settings,
    table: TableLike,
    options: Optional[ReadOptions] = None,
    **overrides: Any,
) -> TableRead:
    """Plan a :func:`read_table` without creating the DataFrame (see :class:`TableRead`)."""
    opts = ReadOptions.of(options, **overrides)
    ref = _ref(table)
    with _opened(spark, settings, ref.connection, opts) as source:
        return plan_read(spark, source, TableSource(ref), opts)


def read_query(
    spark: SparkSession,
    settings: Settings,
    connection: str,
    query: str,
    options: Optional[ReadOptions] = None,
    *,
    name: str = "query",
    **overrides: Any,
) -> DataFrame:
    """Run a ``SELECT`` on ``connection`` and return its result as a DataFrame.

    One partition unless ``partitioning`` names a ``key_column`` of the result (integer, date or
    timestamp): then bounds come from one min/max over the query and each partition runs the
    query with its key range. ``columns`` and ``where`` do not apply (write them in the query).
    """
    read = plan_query(spark, settings, connection, query, options, name=name, **overrides)
    return load_read(spark, read).dataframe


def plan_query(
    spark: SparkSession,
    settings: Settings,
    connection: str,
    query: str,
    options: Optional[ReadOptions] = None,
    *,
    name: str = "query",
    **overrides: Any,
) -> TableRead:
    """Plan a :func:`read_query` without creating the DataFrame."""
    opts = ReadOptions.of(options, **overrides)
    with _opened(spark, settings, connection, opts) as source:
        return plan_read(spark, source, QuerySource(query, name), opts)


def load_tables(
    spark: SparkSession,
    settings: Settings,
    tables: Sequence[TableLike],
    options: Optional[ReadOptions] = None,
    *,
    snapshots: Optional[Mapping[str, Snapshot]] = None,
    **overrides: Any,
) -> Dict[str, DataFrame]:
    """Read several tables (the backend's ``selected_postgres_tables``) and register each as a
    temporary view named after the table; returns the DataFrames by that name.

    ``options`` / keywords apply to every table (``partitioning``, ``snapshot``, ...);
    ``snapshots`` maps connection names to snapshots.
    """
    loaded = read_tables(spark, settings, tables, options, snapshots=snapshots, **overrides)
    return {t.name: t.dataframe for t in loaded}


def read_tables(
    spark: SparkSession,
    settings: Settings,
    tables: Sequence[TableLike],
    options: Optional[ReadOptions] = None,
    *,
    snapshots: Optional[Mapping[str, Snapshot]] = None,
    register_views: bool = True,
    **overrides: Any,
) -> List[LoadedTable]:
    """Plan and load ``tables`` with one metadata connection per database connection (each
    resolved once); register temp views by table name. ``snapshots`` maps connection names to
    snapshots (or give one ``snapshot`` for the only connection)."""
    opts = ReadOptions.of(options, **overrides)
    opts.only_source_wide("several tables")
    refs = _distinct_views([_ref(t) for t in tables])
    snaps = dict(snapshots or {})
    if opts.snapshot is not None:
        snaps.setdefault(opts.snapshot.connection, opts.snapshot)
    by_connection: Dict[str, List[TableRef]] = {}
    for ref in refs:
        by_connection.setdefault(settings.connection(ref.connection).name, []).append(ref)
    reads: Dict[TableRef, TableRead] = {}
    with ExitStack() as stack:
        for conn_name, conn_refs in by_connection.items():
            source = stack.enter_context(_opened(spark, settings, conn_name, opts))
            conn_opts = ReadOptions.of(opts, snapshot=snapshot_for(snaps, conn_name, opts.snapshot))
            subjects = [TableSource(ref) for ref in conn_refs]
            reads.update(zip(conn_refs, plan_reads(spark, source, subjects, conn_opts)))
        loaded: List[LoadedTable] = []
        for ref in refs:
            table = load_read(spark, reads[ref])
            if register_views:
                table.dataframe.createOrReplaceTempView(_spark_ident(ref.view_name))
            loaded.append(table)
    return loaded


@contextmanager
def _opened(
    spark: SparkSession, settings: Settings, connection: str, options: ReadOptions
) -> Iterator[DriverConnection]:
    """The connection resolved once (settings entry, credentials, endpoint) and opened."""
    target = resolve_target(settings.connection(connection))
    source = connect(spark, target, binary_transfer=options.binary_transfer)
    try:
        yield source
    finally:
        source.close()


def _ref(table: TableLike) -> TableRef:
    return table if isinstance(table, TableRef) else TableRef.parse(table)


def _distinct_views(refs: Sequence[TableRef]) -> List[TableRef]:
    names: Dict[str, TableRef] = {}
    for ref in refs:
        key = ref.view_name.lower()
        if key in names and names[key] != ref:
            raise IdentifierError(
                f"tables {names[key]} and {ref} would both be registered as view "
                f"{ref.view_name!r}; read one of them with read_table and register it yourself"
            )
        names[key] = ref
    return list(dict.fromkeys(refs))


def _spark_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
