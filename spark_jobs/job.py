"""The main job: read tables (one snapshot per connection when asked), run each table's action
(or ``--sql`` over them), count and report values read as NULL, write or show; per-table
outcomes.

:func:`run_job` is what ``entrypoints/read_tables.py`` (and ``sparkpg run``) calls with a typed
:class:`JobOptions`; it returns a :class:`JobResult` and raises sparkpg errors
(:mod:`connectors.errors`), never a raw py4j error for a database or output failure.
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from connectors.errors import OutputError, SettingsError
from connectors.jdbc import TableRef
from spark_jobs.options import ReadOptions

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from connectors.settings import Settings
    from spark_jobs.jdbc_loader import LoadedTable
    from spark_jobs.snapshots import Snapshot

logger = logging.getLogger("sparkpg.read_tables")

FORMATS = ("parquet", "csv", "json")
MODES = ("errorifexists", "error", "overwrite", "append", "ignore")


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
        self.read.only_source_wide("the main job")
        if self.write and not self.sql and len(parsed) != 1:
            raise SettingsError("--write writes the --sql result or the one --table: add --sql")
        if self.write and self.output:
            raise SettingsError("--write and --output: choose one destination")

    @property
    def counts_unrepresentable(self) -> bool:
        """Whether the tables' reads count values read as NULL: always without ``sql``; with it
        only under ``strict`` (observing a table stops Spark pushing the query's filters into
        PostgreSQL, as for the row counts, which ``sql`` skips too)."""
        return not self.sql or self.strict


@dataclass(frozen=True)
class TableOutcome:
    """One line of the summary: a table's read (or the ``--sql`` result)."""

    name: str
    rows: Optional[int]
    partitions: Optional[int]
    strategy: str
    key: str
    seconds: float
    output: str = ""
    nulled: Optional[int] = None
    """Values read as NULL because their Spark type cannot hold them; None: not counted."""


@dataclass(frozen=True)
class JobResult:
    """The outcomes of a job, in order, and notes for the summary."""

    outcomes: Tuple[TableOutcome, ...]
    notes: Tuple[str, ...] = ()

    def summary(self) -> str:
        """The summary table (see :func:`render_summary`)."""
        return render_summary(self.outcomes, self.notes)


def run_job(spark: SparkSession, settings: Settings, options: JobOptions) -> JobResult:
    """Read the tables, run the actions, return the per-table outcomes."""
    from spark_jobs.reader import read_tables
    from spark_jobs.snapshots import consistent_snapshot

    read = ReadOptions.of(options.read, report_unrepresentable=options.counts_unrepresentable)
    with ExitStack() as stack:
        snapshots: Dict[str, Snapshot] = {}
        if options.snapshot:
            names = dict.fromkeys(settings.connection(r.connection).name for r in options.tables)
            for conn in names:
                snapshots[conn] = stack.enter_context(consistent_snapshot(spark, settings, conn))
        loaded = read_tables(spark, settings, list(options.tables), read, snapshots=snapshots)
        if options.write:
            return _run_write(spark, settings, options, loaded)
        if options.sql:
            return _run_sql(spark, options, loaded)
        return JobResult(tuple(_run_table(table, options) for table in loaded))


def _run_table(table: LoadedTable, options: JobOptions) -> TableOutcome:
    started = time.monotonic()
    path = output_path(options.output, table.name) if options.output else None
    rows = _materialize(table.dataframe, options, path, [table])
    seconds = time.monotonic() - started
    outcome = _plan_outcome(table, rows=rows, seconds=seconds, output=path or "")
    outcome = _with_nulled(outcome, table, options.strict)
    _show(table.dataframe, options.show, str(table.read.source), [table])
    return outcome


def _run_sql(spark: SparkSession, options: JobOptions, loaded: List[LoadedTable]) -> JobResult:
    assert options.sql is not None
    started = time.monotonic()
    sql = options.sql
    result = _guard(loaded, lambda: spark.sql(sql), "running --sql")
    rows = _materialize(result, options, options.output, loaded)
    seconds = time.monotonic() - started
    outcomes = [_plan_outcome(t) for t in loaded]
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
    outcomes.append(TableOutcome("--sql result", rows, None, "", "", seconds, options.output or ""))
    _show(result, options.show, "--sql result", loaded)
    return JobResult(tuple(outcomes), tuple(notes))


def _run_write(
    spark: SparkSession, settings: Settings, options: JobOptions, loaded: List[LoadedTable]
) -> JobResult:
    """``--write``: the ``--sql`` result (or the one table) through ``write_table``."""
    from spark_jobs.writer import write_table

    assert options.write is not None
    started = time.monotonic()
    sql = options.sql
    df = _guard(loaded, lambda: spark.sql(sql), "running --sql") if sql else loaded[0].dataframe
    key = options.write_key or None
    write_table(df, settings, options.write, mode=options.write_mode, key=key)
    seconds = time.monotonic() - started
    outcomes = [_plan_outcome(t) for t in loaded]
    outcomes.append(TableOutcome("written", None, None, "", "", seconds, options.write))
    return JobResult(tuple(outcomes))


def _with_nulled(outcome: TableOutcome, table: LoadedTable, strict: bool) -> TableOutcome:
    """After the table's action: print and log a WARNING naming the columns that had values read
    as NULL, and raise in strict mode; the outcome gets the total (None when not counted)."""
    from dataclasses import replace

    report = table.report
    # The action has returned: its observation is delivered on Spark's listener bus right after.
    lost = report.lost(wait_seconds=2.0)
    if lost is None:
        return outcome
    if lost:
        message = report.message(lost)
        print(f"WARNING: {message}")
        logger.warning("%s", message)
        if strict:
            report.raise_if_lost(wait_seconds=0.0)
    return replace(outcome, nulled=sum(lost.values()))


def _plan_outcome(
    table: LoadedTable, *, rows: Optional[int] = None, seconds: float = 0.0, output: str = ""
) -> TableOutcome:
    plan = table.read.plan
    return TableOutcome(
        name=str(table.read.source),
        rows=rows,
        partitions=plan.num_partitions,
        strategy=str(plan.strategy),
        key=plan.key_column or "",
        seconds=table.read.planning_seconds + seconds,
        output=output,
    )


def _materialize(
    df: DataFrame, options: JobOptions, path: Optional[str], tables: List[LoadedTable]
) -> int:
    """Write ``df`` to ``path`` (or the noop sink) in one pass, counting rows as they go by."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    observation = Observation("sparkpg_rows")
    observed = df.observe(observation, F.count(F.lit(1)).alias("rows"))
    if path is None:
        writer = observed.write.format("noop").mode("overwrite")
        _guard(tables, lambda: writer.save(), "reading")
    else:
        writer = observed.write.format(options.format).mode(options.mode)
        if options.format == "csv":
            writer = writer.option("header", "true")
        _guard(tables, lambda: writer.save(path), f"writing {path}", output=path)
    return int(observation.get["rows"])


def _show(df: DataFrame, n: int, title: str, tables: List[LoadedTable]) -> None:
    if n > 0:
        print(f"== {title} (first {n} rows)")
        _guard(tables, lambda: df.show(n, truncate=False), "showing rows")


def _guard(
    tables: List[LoadedTable], action: Callable[[], Any], what: str, output: Optional[str] = None
) -> Any:
    """Run a Spark action; turn pgjdbc and output failures into sparkpg errors."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import AnalysisException

    from spark_jobs.jdbc_loader import database_error_of

    try:
        return action()
    except AnalysisException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if output is not None:
            raise OutputError(f"cannot write {output}: {first}") from None
        raise OutputError(f"{what} failed: {first}") from None
    except Py4JJavaError as exc:
        for table in tables:
            error = database_error_of(exc, table.read)
            if error is not None:
                raise error from None
        if output is not None:
            raise OutputError(f"{what} failed: {_java_message(exc)}") from None
        raise


def _java_message(exc: Any) -> str:
    java = getattr(exc, "java_exception", None)
    return str(java.toString()) if java is not None else str(exc).splitlines()[0]


def render_summary(outcomes: Sequence[TableOutcome], notes: Sequence[str] = ()) -> str:
    """The per-table summary: rows, partitions, strategy, key, seconds, values read as NULL
    because their Spark type cannot hold them (``nulled``; ``-``: not counted), where it went;
    then ``notes``."""
    headers = ("table", "rows", "partitions", "strategy", "key", "seconds", "nulled")
    lines = [
        (
            o.name,
            "-" if o.rows is None else str(o.rows),
            "-" if o.partitions is None else str(o.partitions),
            o.strategy or "-",
            o.key or "-",
            f"{o.seconds:.2f}",
            "-" if o.nulled is None else str(o.nulled),
        )
        for o in outcomes
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    text = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    for outcome, line in zip(outcomes, lines):
        row = "  ".join(
            cell.rjust(w) if i in (1, 2, 5, 6) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths))
        )
        text.append(row + (f"  -> {outcome.output}" if outcome.output else ""))
    text += [f"note: {note}" for note in notes]
    return "\n".join(text)


def output_path(base: str, name: str) -> str:
    """``base/name`` with the table name made safe as one path segment."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "table"
    return base.rstrip("/") + "/" + safe
