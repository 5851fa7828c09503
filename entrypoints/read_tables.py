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
``--output`` itself. ``--mode overwrite`` replaces the previous output only once every table's
write has succeeded (docs/output.md). A failed table stops the run: the summary lists the tables
before it, the failure and the tables not run, then the job exits with the failure's code. Ctrl-C
exits 130 after cancelling Spark's jobs and this run's database sessions. Exit codes: see
``entrypoints/errors.py``.

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
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

if not __package__:  # run as a script (spark-submit entrypoints/read_tables.py): find the package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.errors import SettingsError
from connectors.settings import load_settings
from entrypoints.errors import EXIT_OK, run_main
from spark_jobs.job.options import FORMATS, MODES, JobOptions
from spark_jobs.read.options import ENGINES, ReadOptions
from spark_jobs.read.partitioning import STRATEGIES, PartitionOverrides


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
        "--engine",
        choices=ENGINES,
        default="copy",
        help="how tables are read: sparkpg's COPY engine (default) or Spark's JDBC source "
        "(docs/reading.md)",
    )
    parser.add_argument(
        "--no-binary-transfer",
        action="store_true",
        help="use pgjdbc's text protocol (prepareThreshold default) instead of binary transfer",
    )
    parser.add_argument(
        "--write",
        metavar="CONNECTION.SCHEMA.TABLE",
        help="write the --sql result (or the one --table) there, atomically (docs/writing.md)",
    )
    parser.add_argument(
        "--write-mode",
        choices=("append", "overwrite", "upsert", "insert-missing"),
        default="append",
    )
    parser.add_argument("--key", action="append", default=[], help="upsert key column (repeat)")
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="read only the rows inserted or updated since the last run into this --output or "
        "--write target (the first run reads everything; deletes are not seen; "
        "docs/incremental.md)",
    )
    parser.add_argument(
        "--incremental-reset",
        action="store_true",
        help="with --incremental: ignore the stored state, read in full and record a new state",
    )
    parser.add_argument(
        "--cursor",
        metavar="COLUMN",
        help="with --incremental: the cursor method on this timestamp column, set to now() on "
        "insert and update (default: the snapshot method; docs/incremental.md)",
    )
    parser.add_argument(
        "--delete-missing",
        action="store_true",
        help="with --incremental --write: delete the target's rows whose key is gone from the "
        "source, in the transaction that commits the upserts",
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
    """argv -> settings -> session -> :func:`spark_jobs.job.main.run_job` -> summary; stops the
    session it started (in ``finally``)."""
    settings = load_settings(args.settings)
    options = job_options(args)
    from spark_jobs.db.target import resolve_all_targets

    # Unknown connections, unreadable secrets and bad endpoints fail here, before Spark starts.
    resolve_all_targets(settings, options.tables)
    conf = _parse_conf(args.conf)

    from pyspark import SparkContext

    from spark_jobs.engine.session import get_session, local_session
    from spark_jobs.job.main import run_job

    # Stop only a session this run starts: any SparkContext already in the process is the
    # caller's (the active-session lookup is per thread, so it cannot tell).
    owned = SparkContext._active_spark_context is None
    if args.master:
        spark = local_session(settings, master=args.master, conf=conf)
    else:
        spark = get_session(settings, conf=conf)
    try:
        result = run_job(spark, settings, options)
    finally:
        if owned:
            spark.stop()
    print(result.summary())
    if result.error is not None:
        raise result.error  # after the summary of what ran: the failing table's exit code
    return EXIT_OK


def job_options(args: argparse.Namespace) -> JobOptions:
    """The parsed arguments as :class:`JobOptions` (bad values fail here, before Spark starts)."""
    if args.fetch_size is not None and args.fetch_size < 1:
        raise SettingsError(f"--fetch-size must be >= 1, got {args.fetch_size}")
    read = ReadOptions(
        partitioning=PartitionOverrides(
            strategy=args.strategy,
            key_column=args.key_column,
            num_partitions=args.num_partitions,
            lower_bound=args.lower_bound,
            upper_bound=args.upper_bound,
        ),
        fetch_size=args.fetch_size,
        binary_transfer=not args.no_binary_transfer,
        unrepresentable=args.unrepresentable,
        engine=args.engine,
    )
    return JobOptions(
        tables=tuple(args.table),
        read=read,
        sql=args.sql,
        output=args.output,
        format=args.format,
        mode=args.mode,
        show=args.show,
        snapshot=args.snapshot,
        strict=args.strict,
        write=args.write,
        write_mode=args.write_mode,
        write_key=tuple(args.key),
        incremental=args.incremental,
        incremental_reset=args.incremental_reset,
        cursor=args.cursor,
        delete_missing=args.delete_missing,
    )


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
