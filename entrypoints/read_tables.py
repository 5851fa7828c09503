"""The main job: read PostgreSQL tables into Spark, optionally run SQL over them, write or show.

Run it with spark-submit (locally or on EMR Serverless) or as a plain local pyspark program::

    spark-submit --jars postgresql-42.7.13.jar entrypoints/read_tables.py \\
        --settings s3://bucket/settings.json --table aurora.public.orders --output s3://bucket/out/
    python -m entrypoints.read_tables --settings settings.json --table aurora.orders --show 10
    sparkpg run --settings settings.json --table aurora.orders --table aurora.customers \\
        --sql "SELECT c.name, count(*) FROM orders o JOIN customers c USING (customer_id) GROUP BY 1"

Without ``--sql`` every table is read in full (to ``--output``/<table> when given, else to Spark's
``noop`` sink) and a summary line per table is printed: rows, partitions, strategy, seconds. With
``--sql`` the tables are temp views named after the table and the query's result is written to
``--output`` itself. Exit codes: see ``entrypoints/errors.py``.

Values the type policy reads as NULL because their Spark type cannot hold them (``numeric`` NaN,
``±infinity`` dates and timestamps, ...) are counted during each table's read (no extra scan) and
reported with a ``WARNING`` line per table and the summary's ``nulled`` column; ``--strict`` makes
them fail the job (exit 5), ``--unrepresentable text`` keeps them exactly as text. With ``--sql``
they are not counted (observing a table stops Spark pushing the query's filters into PostgreSQL)
unless ``--strict`` is given.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

if not __package__:  # run as a script (spark-submit entrypoints/read_tables.py): find the package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.errors import OutputError, SettingsError
from connectors.jdbc import TableRef
from connectors.settings import load_settings
from entrypoints.errors import EXIT_OK, run_main
from spark_jobs.partitioning import STRATEGIES, PartitionOverrides

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from spark_jobs.reader import LoadedTable

logger = logging.getLogger("sparkpg.read_tables")

FORMATS = ("parquet", "csv", "json")
MODES = ("errorifexists", "error", "overwrite", "append", "ignore")


@dataclass
class Outcome:
    """One line of the summary."""

    name: str
    rows: Optional[int]
    partitions: Optional[int]
    strategy: str
    key: str
    seconds: float
    output: str = ""
    nulled: Optional[int] = None  # values read as NULL (unrepresentable); None: not counted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The job's arguments (shared by this script and ``sparkpg run``)."""
    parser.add_argument("--settings", required=True, help="settings.json path or s3:// URI")
    parser.add_argument(
        "--table",
        action="append",
        required=True,
        metavar="CONN.SCHEMA.TABLE",
        help="a table to read (repeatable); schema defaults to public; quote mixed-case parts",
    )
    parser.add_argument("--sql", help="Spark SQL over the tables (views named after each table)")
    parser.add_argument("--output", help="output path or s3:// URI (one subdirectory per table)")
    parser.add_argument("--format", choices=FORMATS, default="parquet", help="output format")
    parser.add_argument(
        "--mode", choices=MODES, default="errorifexists", help="Spark save mode for --output"
    )
    parser.add_argument("--show", type=int, default=0, metavar="N", help="print the first N rows")
    split = parser.add_argument_group("partitioning overrides (applied to every --table)")
    split.add_argument("--strategy", choices=("auto", *STRATEGIES), default=None)
    split.add_argument("--key-column", help="partition key column (integer, date, timestamp)")
    split.add_argument("--num-partitions", type=int, help="partitions (= connections) per table")
    split.add_argument("--lower-bound", help="lower key bound (replaces the min query)")
    split.add_argument("--upper-bound", help="upper key bound (replaces the max query)")
    split.add_argument("--fetch-size", type=int, help="rows per round trip (default: settings)")
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="read every table and partition in one consistent snapshot (writer endpoint only)",
    )
    parser.add_argument(
        "--unrepresentable",
        choices=("null", "text"),
        default="null",
        help="values a native Spark type cannot hold (NaN, infinity, ...): NULL (counted and "
        "reported with a WARNING), or the whole column as exact text (docs/types.md)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 5) after a table's read when any value was read as NULL because its "
        "Spark type cannot hold it; with --sql this also counts them (Spark then no longer "
        "pushes the query's filters into PostgreSQL)",
    )
    parser.add_argument(
        "--no-binary-transfer",
        action="store_true",
        help="use pgjdbc's text protocol (prepareThreshold default) instead of binary transfer",
    )
    local = parser.add_argument_group("local runs (ignored under spark-submit)")
    local.add_argument("--master", help="Spark master for a local run (default local[*])")
    local.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Spark setting for a local session, e.g. spark.driver.memory=2g (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m entrypoints.read_tables``."""
    parser = argparse.ArgumentParser(
        prog="read_tables",
        description="Read PostgreSQL tables into Spark (locally or on EMR Serverless).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    add_arguments(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: parse ``argv``, run the job, return the exit code (never raises)."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    return run_main(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    """argv -> settings -> session -> library -> ``spark.stop()`` (for a session it started)."""
    settings = load_settings(args.settings)
    refs = [TableRef.parse(t) for t in args.table]
    for ref in refs:
        settings.connection(ref.connection)  # unknown connections fail before Spark starts
    overrides = PartitionOverrides(
        strategy=None if args.strategy in (None, "auto") else args.strategy,
        key_column=args.key_column,
        num_partitions=args.num_partitions,
        lower_bound=args.lower_bound,
        upper_bound=args.upper_bound,
    )
    if args.fetch_size is not None and args.fetch_size < 1:
        raise SettingsError(f"--fetch-size must be >= 1, got {args.fetch_size}")
    if args.show < 0:
        raise SettingsError(f"--show must be >= 0, got {args.show}")
    conf = _parse_conf(args.conf)

    from pyspark.sql import SparkSession

    from spark_jobs.session import get_session, local_session

    owned = SparkSession.getActiveSession() is None
    if args.master:
        spark = local_session(settings, master=args.master, conf=conf)
    else:
        spark = get_session(settings, conf=conf)
    notes: List[str] = []
    try:
        outcomes = run_job(spark, settings, refs, overrides, args, notes)
    finally:
        if owned:
            spark.stop()
    print_summary(outcomes, notes)
    return EXIT_OK


def run_job(
    spark: SparkSession,
    settings: Any,
    refs: List[TableRef],
    overrides: PartitionOverrides,
    args: argparse.Namespace,
    notes: Optional[List[str]] = None,
) -> List[Outcome]:
    """Read the tables, run the actions; returns the summary lines (``notes`` gets the summary's
    notes)."""
    from spark_jobs.reader import consistent_snapshot, read_tables

    outcomes: List[Outcome] = []
    notes = notes if notes is not None else []
    strict = bool(getattr(args, "strict", False))
    # Counting observes each table; with --sql that would stop Spark pushing the query's filters
    # into PostgreSQL (as for the row counts, which --sql skips too), so only --strict counts there.
    report = not args.sql or strict
    with ExitStack() as stack:
        snapshots = {}
        if args.snapshot:
            for conn in dict.fromkeys(settings.connection(r.connection).name for r in refs):
                snapshots[conn] = stack.enter_context(consistent_snapshot(spark, settings, conn))
        loaded = read_tables(
            spark,
            settings,
            refs,
            partitioning=overrides,
            fetch_size=args.fetch_size,
            snapshots=snapshots,
            binary_transfer=not args.no_binary_transfer,
            unrepresentable=args.unrepresentable,
            report_unrepresentable=report,
        )
        if args.sql:
            table_outcomes = [_plan_outcome(t) for t in loaded]
            outcomes += table_outcomes
            query_started = time.monotonic()
            result = _guard(loaded, lambda: spark.sql(args.sql), "running --sql")
            rows = _materialize(result, args, args.output, loaded)
            seconds = time.monotonic() - query_started
            if report:
                for table, outcome in zip(loaded, table_outcomes):
                    outcome.nulled = _report_lost(table, strict)
            elif any(t.report is not None and t.report.columns for t in loaded):
                notes.append(
                    "values read as NULL because their Spark type cannot hold them (numeric NaN, "
                    "date/timestamp infinity, ...) are not counted with --sql: observing the "
                    "tables would stop Spark pushing the query's filters into PostgreSQL. Run "
                    "without --sql (or with --strict) to count them, or with --unrepresentable "
                    "text to keep them"
                )
            outcomes.append(Outcome("--sql result", rows, None, "", "", seconds, args.output or ""))
            _show(result, args.show, "--sql result", loaded)
        else:
            for table in loaded:
                action_started = time.monotonic()
                path = _join(args.output, table.name) if args.output else None
                rows = _materialize(table.dataframe, args, path, [table])
                outcome = _plan_outcome(table)
                outcome.rows = rows
                outcome.seconds += time.monotonic() - action_started
                outcome.output = path or ""
                outcomes.append(outcome)
                outcome.nulled = _report_lost(table, strict)
                _show(table.dataframe, args.show, str(table.read.source), [table])
    return outcomes


def _report_lost(table: LoadedTable, strict: bool) -> Optional[int]:
    """After the table's action: print and log a WARNING naming the columns that had values read
    as NULL, and raise in strict mode. Returns the total (None when not counted)."""
    report = table.report
    if report is None:
        return None
    # The action has returned: its observation is delivered on Spark's listener bus right after.
    lost = report.lost(wait_seconds=2.0)
    if lost is None:
        return None
    if lost:
        message = report.message(lost)
        print(f"WARNING: {message}")
        logger.warning("%s", message)
        if strict:
            report.raise_if_lost(wait_seconds=0.0)
    return sum(lost.values())


def _plan_outcome(table: LoadedTable) -> Outcome:
    plan = table.read.plan
    return Outcome(
        name=str(table.read.source),
        rows=None,
        partitions=plan.num_partitions,
        strategy=plan.strategy,
        key=plan.key_column or "",
        seconds=table.read.planning_seconds,
    )


def _materialize(
    df: DataFrame, args: argparse.Namespace, path: Optional[str], tables: List[LoadedTable]
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
        writer = observed.write.format(args.format).mode(args.mode)
        if args.format == "csv":
            writer = writer.option("header", "true")
        _guard(tables, lambda: writer.save(path), f"writing {path}", output=path)
    return int(observation.get["rows"])


def _show(df: DataFrame, n: int, title: str, tables: List[LoadedTable]) -> None:
    if n > 0:
        print(f"== {title} (first {n} rows)")
        _guard(tables, lambda: df.show(n, truncate=False), "showing rows")


def _guard(tables: List[LoadedTable], action: Any, what: str, output: Optional[str] = None) -> Any:
    """Run a Spark action; turn pgjdbc and output failures into sparkpg errors."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import AnalysisException

    from spark_jobs.reader import database_error_of

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


def print_summary(outcomes: List[Outcome], notes: Sequence[str] = ()) -> None:
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
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    for outcome, line in zip(outcomes, lines):
        text = "  ".join(
            cell.rjust(w) if i in (1, 2, 5, 6) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths))
        )
        print(text + (f"  -> {outcome.output}" if outcome.output else ""))
    for note in notes:
        print(f"note: {note}")


def _join(base: str, name: str) -> str:
    """``base/name`` with the table name made safe as one path segment."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "table"
    return base.rstrip("/") + "/" + safe


def _parse_conf(pairs: List[str]) -> Dict[str, str]:
    conf: Dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"--conf {pair!r}: expected KEY=VALUE")
        conf[key.strip()] = value
    return conf


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
