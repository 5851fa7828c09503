"""The main job: read tables (one snapshot per connection when asked), run each table's action
(or ``--sql`` over them), count and report values read as NULL, write or show; per-table
outcomes. Output targets, staging and publication: :mod:`spark_jobs.job.output` (docs/output.md);
Ctrl-C: :mod:`spark_jobs.job.interrupt`; the options: :mod:`spark_jobs.job.options`; the Spark
actions: :mod:`spark_jobs.job.actions`.

:func:`run_job` is what ``entrypoints/read_tables.py`` (and ``sparkpg run``) calls with a typed
:class:`JobOptions`; it returns a :class:`JobResult` and raises sparkpg errors
(:mod:`connectors.errors`), never a raw py4j error for a database or output failure.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from connectors.errors import (
    DatabaseAuthenticationError,
    SparkPgError,
)
from connectors.jdbc import TableRef
from spark_jobs.job.actions import guard, materialize
from spark_jobs.job.options import JobOptions
from spark_jobs.job.output import table_targets
from spark_jobs.job.summary import JobResult, TableOutcome, plan_outcome
from spark_jobs.read.options import ReadOptions

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from connectors.settings import Settings
    from spark_jobs.job.output import OutputRun
    from spark_jobs.read.loading import LoadedTable
    from spark_jobs.read.snapshots import Snapshot

logger = logging.getLogger("sparkpg.read_tables")

SQL_RESULT = "--sql result"


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


def _show(df: DataFrame, n: int, title: str, tables: List[LoadedTable]) -> None:
    if n > 0:
        print(f"== {title} (first {n} rows)")
        guard(tables, lambda: df.show(n, truncate=False), "showing rows")
