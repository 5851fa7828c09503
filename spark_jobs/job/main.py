"""The main job: read tables (one snapshot per connection when asked), run each table's action
(or ``--sql`` over them), count and report values read as NULL, write or show; per-table
outcomes. Output targets, staging and publication: :mod:`spark_jobs.job.output` (docs/output.md);
Ctrl-C: :mod:`spark_jobs.job.interrupt`.

:func:`run_job` is what ``entrypoints/read_tables.py`` (and ``sparkpg run``) calls with a typed
:class:`JobOptions`; it returns a :class:`JobResult` and raises sparkpg errors
(:mod:`connectors.errors`), never a raw py4j error for a database or output failure.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from connectors.errors import (
    DatabaseAuthenticationError,
    OutputError,
    SettingsError,
    SparkPgError,
)
from connectors.jdbc import TableRef
from spark_jobs.job.output import check_output_base, table_targets
from spark_jobs.job.summary import JobResult, TableOutcome, plan_outcome
from spark_jobs.read.options import ReadOptions

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from connectors.settings import Settings
    from spark_jobs.job.output import OutputRun
    from spark_jobs.read.loading import LoadedTable
    from spark_jobs.read.snapshots import Snapshot

logger = logging.getLogger("sparkpg.read_tables")

FORMATS = ("parquet", "csv", "json")
MODES = ("errorifexists", "error", "overwrite", "append", "ignore")
SQL_RESULT = "--sql result"
_MICROS = {  # Spark's default text pattern keeps milliseconds only: microseconds would be lost
    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "timestampNTZFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
}
WRITE_OPTIONS: Dict[str, Dict[str, str]] = {"csv": {"header": "true", **_MICROS}, "json": _MICROS}
"""Writer options per output format (read the files back with the same timestamp patterns)."""


@dataclass(frozen=True)
class JobOptions:
    """What the main job does (the command line's arguments, typed).

    ``read`` applies to every table (partitioning, fetch size, binary transfer, type policy);
    ``sql`` runs over the tables' temp views; ``output`` receives one folder per table (or the
    ``sql`` result); ``show`` prints the first rows; ``snapshot`` reads everything in one
    snapshot per connection; ``strict`` fails on values read as NULL.
    """

    tables: Tuple[TableRef, ...]
    read: ReadOptions = field(default_factory=ReadOptions)
    sql: Optional[str] = None
    output: Optional[str] = None
    format: str = "parquet"
    mode: str = "errorifexists"
    show: int = 0
    snapshot: bool = False
    strict: bool = False
    write: Optional[str] = None  # connection.schema.table: write_table's target (docs/writing.md)
    write_mode: str = "append"
    write_key: Tuple[str, ...] = ()
    incremental: bool = False  # docs/incremental.md: the changed rows since the last run
    incremental_reset: bool = False
    cursor: Optional[str] = None  # --incremental's cursor method on this column
    delete_missing: bool = False  # --incremental --write: delete keys gone from the source

    def __post_init__(self) -> None:
        refs: Sequence[Union[str, TableRef]] = self.tables
        if not refs:
            raise SettingsError("no table to read: give at least one --table")
        parsed = tuple(r if isinstance(r, TableRef) else TableRef.parse(r) for r in refs)
        object.__setattr__(self, "tables", parsed)
        if self.format not in FORMATS:
            raise SettingsError(f"format {self.format!r}: use one of {', '.join(FORMATS)}")
        if self.mode not in MODES:
            raise SettingsError(f"mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.show < 0:
            raise SettingsError(f"--show must be >= 0, got {self.show}")
        if self.output is not None:
            object.__setattr__(self, "output", check_output_base(self.output))
            if not self.sql:  # two refs to one folder: refused before Spark starts
                table_targets(self.output, [(str(r), r.table) for r in parsed])
        self.read.only_source_wide("the main job")
        if self.write and not self.sql and len(parsed) != 1:
            raise SettingsError("--write writes the --sql result or the one --table: add --sql")
        if self.write and self.output:
            raise SettingsError("--write and --output: choose one destination")
        if self.incremental or self.incremental_reset or self.cursor or self.delete_missing:
            from spark_jobs.job.incremental import check_incremental_options

            check_incremental_options(self)

    @property
    def counts_unrepresentable(self) -> bool:
        """Whether the tables' reads count values read as NULL: always without ``sql``; with it
        only under ``strict`` (observing a table stops Spark pushing the query's filters into
        PostgreSQL, as for the row counts, which ``sql`` skips too)."""
        return not self.sql or self.strict


def run_job(spark: SparkSession, settings: Settings, options: JobOptions) -> JobResult:
    """Read the tables, run the actions, publish the output, return the per-table outcomes.

    Output targets are checked before anything is read (see :mod:`spark_jobs.job.output`). A failed
    table stops the run: the result lists the tables before it, the failure and the tables not
    run, and carries the error. Ctrl-C cancels the Spark jobs and this run's database sessions
    (found by their run-unique ``application_name``) and raises ``KeyboardInterrupt``.
    """
    from spark_jobs.engine.session import apply_job_conf
    from spark_jobs.job.interrupt import run_cancellable
    from spark_jobs.job.output import new_run_id

    apply_job_conf(spark)
    canonical = tuple(_canonical(settings, ref) for ref in options.tables)
    options = replace(options, tables=canonical)  # output labels = summary names = reads
    run_id = new_run_id()
    settings = with_run_application_name(settings, options, run_id)
    job = _run
    if options.incremental:
        from spark_jobs.job.incremental import run_incremental

        job = run_incremental
    return run_cancellable(
        spark,
        lambda: job(spark, settings, options, run_id),
        lambda: cancel_run_queries(spark, settings, options),
    )


def with_run_application_name(settings: Settings, options: JobOptions, run_id: str) -> Settings:
    """``settings`` with each connection the job uses named ``<application_name>-<run suffix>``
    in ``pg_stat_activity``, so this run's sessions can be found (and cancelled) exactly."""
    used = {settings.connection(ref.connection).name for ref in options.tables}
    suffix = "-" + run_id.rsplit("-", 1)[-1]
    connections = [
        c.model_copy(update={"application_name": c.application_name[: 63 - len(suffix)] + suffix})
        if c.name in used
        else c
        for c in settings.postgres.connections
    ]
    postgres = settings.postgres.model_copy(update={"connections": connections})
    return settings.model_copy(update={"postgres": postgres})


def cancel_run_queries(spark: SparkSession, settings: Settings, options: JobOptions) -> None:
    """End every PostgreSQL session of this run (driver-side metadata queries, snapshots and the
    executors' partition reads) from a fresh connection: ``pg_terminate_backend`` on the
    sessions of the current user with this run's ``application_name``."""
    from spark_jobs.db.connection import connect
    from spark_jobs.db.target import resolve_target

    names = dict.fromkeys(settings.connection(ref.connection).name for ref in options.tables)
    for name in names:
        connection = settings.connection(name)
        source = connect(spark, resolve_target(connection))
        try:
            rows = source.query(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = ? AND usename = current_user AND pid <> pg_backend_pid()",
                [connection.application_name],
                what="cancelling this run's queries",
            )
            logger.info("connection %r: ended %s session(s) of this run", name, rows[0][0])
        finally:
            source.close()


def _run(spark: SparkSession, settings: Settings, options: JobOptions, run_id: str) -> JobResult:
    from spark_jobs.read.api import read_tables
    from spark_jobs.read.snapshots import consistent_snapshot

    output = _output_run(spark, settings, options, run_id)
    read = ReadOptions.of(options.read, report_unrepresentable=options.counts_unrepresentable)
    try:
        with ExitStack() as stack:
            snapshots: Dict[str, Snapshot] = {}
            if options.snapshot:
                names = dict.fromkeys(
                    settings.connection(r.connection).name for r in options.tables
                )
                for conn in names:
                    snapshots[conn] = stack.enter_context(
                        consistent_snapshot(spark, settings, conn)
                    )
            loaded = read_tables(spark, settings, list(options.tables), read, snapshots=snapshots)
            if options.write:
                result = _run_write(spark, settings, options, loaded)
            elif options.sql:
                result = _run_sql(spark, options, loaded, output)
            else:
                result = _run_tables(loaded, options, output)
    except BaseException:
        if output is not None:
            output.abort()
        raise
    if result.error is not None and output is not None:
        output.abort()
    return result


def _output_run(
    spark: SparkSession, settings: Settings, options: JobOptions, run_id: str
) -> Optional[OutputRun]:
    """The run's output targets, checked before anything is read (None: no ``--output``)."""
    if options.output is None:
        return None
    from spark_jobs.job.output import OutputRun, store_for

    if options.sql:
        targets = [(SQL_RESULT, options.output)]
    else:
        labels = [(str(ref), ref.table) for ref in options.tables]
        targets = table_targets(options.output, labels)
    return OutputRun(store_for(spark, options.output), targets, options.mode, run_id)


def _canonical(settings: Settings, ref: TableRef) -> TableRef:
    return TableRef(settings.connection(ref.connection).name, ref.schema, ref.table)


def _run_tables(
    loaded: List[LoadedTable], options: JobOptions, output: Optional[OutputRun]
) -> JobResult:
    """Each table's action in turn; the first failure stops the run (see :class:`JobResult`)."""
    outcomes: List[TableOutcome] = []
    for index, table in enumerate(loaded):
        try:
            outcomes.append(_run_table(table, options, output))
        except SparkPgError as error:
            outcomes.append(plan_outcome(table, status=f"FAILED: {error}"))
            outcomes += [plan_outcome(t, status="not run") for t in loaded[index + 1 :]]
            return JobResult(_unpublished(outcomes, options.mode), error=error)
    if output is not None:
        written = [o.name for o in outcomes if not o.status]
        try:
            output.publish(written)
        except SparkPgError as error:
            return JobResult(_unpublished(outcomes, options.mode), error=error)
    return JobResult(tuple(outcomes))


def _unpublished(outcomes: List[TableOutcome], mode: str) -> Tuple[TableOutcome, ...]:
    """After a failure: the tables that were written say their output was not published."""
    note = "written, not published: the run failed (previous output kept)"
    if mode == "append":
        note = "appended (kept: append commits each table on its own)"
    return tuple(replace(o, status=note) if o.output and not o.status else o for o in outcomes)


def _run_table(
    table: LoadedTable, options: JobOptions, output: Optional[OutputRun]
) -> TableOutcome:
    label = str(table.read.source)
    if output is not None and output.skips(label):
        return plan_outcome(
            table, output=output.targets[label].path, status="kept (exists; --mode ignore)"
        )
    started = time.monotonic()
    path = output.targets[label].path if output is not None else ""
    try:
        rows = materialize(table.dataframe, options, output, label, [table])
    except DatabaseAuthenticationError:
        # The password may have rotated between planning and this action: re-read the secret
        # once, rebuild the DataFrame on the same plan and run the action again.
        table = _reloaded_with_fresh_credentials(table, output, label)
        rows = materialize(table.dataframe, options, output, label, [table])
    seconds = time.monotonic() - started
    outcome = plan_outcome(table, rows=rows, seconds=seconds, output=path)
    outcome = _with_nulled(outcome, table, options.strict)
    _show(table.dataframe, options.show, label, [table])
    return outcome


def _reloaded_with_fresh_credentials(
    table: LoadedTable, output: Optional[OutputRun], label: str
) -> LoadedTable:
    from spark_jobs.read.loading import with_fresh_credentials

    if output is not None:
        output.discard_unfinished(label)
    return with_fresh_credentials(table.dataframe.sparkSession, table)


def _run_sql(
    spark: SparkSession,
    options: JobOptions,
    loaded: List[LoadedTable],
    output: Optional[OutputRun],
) -> JobResult:
    assert options.sql is not None
    started = time.monotonic()
    sql = options.sql
    result = guard(loaded, lambda: spark.sql(sql), "running --sql")
    if output is not None and output.skips(SQL_RESULT):
        outcomes = [plan_outcome(t) for t in loaded]
        kept = output.targets[SQL_RESULT].path
        outcomes.append(
            TableOutcome(
                SQL_RESULT, None, None, "", "", 0.0, kept, status="kept (exists; --mode ignore)"
            )
        )
        return JobResult(tuple(outcomes))
    rows = materialize(result, options, output, SQL_RESULT, loaded)
    if output is not None:
        output.publish([SQL_RESULT])
    seconds = time.monotonic() - started
    outcomes = [plan_outcome(t) for t in loaded]
    notes: List[str] = []
    if options.counts_unrepresentable:
        outcomes = [_with_nulled(o, t, options.strict) for o, t in zip(outcomes, loaded)]
    elif any(t.report.columns for t in loaded):
        notes.append(
            "values read as NULL because their Spark type cannot hold them (numeric NaN, "
            "date/timestamp infinity, ...) are not counted with --sql: observing the tables "
            "would stop Spark pushing the query's filters into PostgreSQL. Run without --sql "
            "(or with --strict) to count them, or with --unrepresentable text to keep them"
        )
    outcomes.append(TableOutcome(SQL_RESULT, rows, None, "", "", seconds, options.output or ""))
    _show(result, options.show, SQL_RESULT, loaded)
    return JobResult(tuple(outcomes), tuple(notes))


def _run_write(
    spark: SparkSession, settings: Settings, options: JobOptions, loaded: List[LoadedTable]
) -> JobResult:
    """``--write``: the ``--sql`` result (or the one table) through ``write_table``."""
    from spark_jobs.write.api import write_table

    assert options.write is not None
    started = time.monotonic()
    sql = options.sql
    df = guard(loaded, lambda: spark.sql(sql), "running --sql") if sql else loaded[0].dataframe
    key = options.write_key or None
    write_table(df, settings, options.write, mode=options.write_mode, key=key)
    seconds = time.monotonic() - started
    outcomes = [plan_outcome(t) for t in loaded]
    outcomes.append(TableOutcome("written", None, None, "", "", seconds, options.write))
    return JobResult(tuple(outcomes))


def _with_nulled(outcome: TableOutcome, table: LoadedTable, strict: bool) -> TableOutcome:
    """After the table's action: log a WARNING naming the columns that had values read as NULL
    (once: the CLI's log handler shows it on stderr), and raise in strict mode; the outcome gets
    the total (None when not counted)."""
    report = table.report
    # The action has returned: its observation is delivered on Spark's listener bus right after.
    lost = report.lost(wait_seconds=2.0)
    if lost is None:
        return outcome
    if lost:
        message = report.message(lost)
        logger.warning("%s", message)
        if strict:
            report.raise_if_lost(wait_seconds=0.0)
    return replace(outcome, nulled=sum(lost.values()))


def materialize(
    df: DataFrame,
    options: JobOptions,
    output: Optional[OutputRun],
    label: str,
    tables: List[LoadedTable],
) -> int:
    """Write ``df`` to its output's write path (or the noop sink) in one pass, counting rows as
    they go by."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    observation = Observation("sparkpg_rows")
    observed = df.observe(observation, F.count(F.lit(1)).alias("rows"))
    if output is None:
        writer = observed.write.format("noop").mode("overwrite")
        guard(tables, lambda: writer.save(), "reading")
    else:
        path = output.write_path(label)
        writer = observed.write.format(options.format).mode(output.spark_mode)
        writer = writer.options(**WRITE_OPTIONS.get(options.format, {}))
        target = output.targets[label].path
        guard(tables, lambda: writer.save(path), f"writing {target}", output=target)
        output.mark_written(label)
    return int(observation.get["rows"])


def _show(df: DataFrame, n: int, title: str, tables: List[LoadedTable]) -> None:
    if n > 0:
        print(f"== {title} (first {n} rows)")
        guard(tables, lambda: df.show(n, truncate=False), "showing rows")


def guard(
    tables: List[LoadedTable], action: Callable[[], Any], what: str, output: Optional[str] = None
) -> Any:
    """Run a Spark action; turn pgjdbc and output failures into sparkpg errors."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import AnalysisException

    from spark_jobs.read.loading import read_error_of

    try:
        return action()
    except AnalysisException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if output is not None:
            raise OutputError(f"cannot write {output}: {first}") from None
        raise OutputError(f"{what} failed: {first}") from None
    except Py4JJavaError as exc:
        for table in tables:
            error = read_error_of(exc, table.read)
            if error is not None:
                raise error from None
        if output is not None:
            raise OutputError(f"{what} failed: {_java_message(exc)}") from None
        raise


def _java_message(exc: Any) -> str:
    java = getattr(exc, "java_exception", None)
    return str(java.toString()) if java is not None else str(exc).splitlines()[0]
