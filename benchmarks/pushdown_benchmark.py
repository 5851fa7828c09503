"""The pushdown benchmark: count, group-by and top-N, pushed into PostgreSQL or not.

Run ``python -m benchmarks.pushdown_benchmark [--rows 5000000] [--repeat 3] [--json out.json]``.

In one run it starts a throwaway PostgreSQL (``devtools.postgres_server``, TLS off), builds the
read benchmark's ``bench_read`` table (``read_benchmark.build_table``) and times three queries:

- ``count``: ``df.count()`` (SQL ``SELECT count(*) FROM bench_read``);
- ``group-by``: ``df.groupBy("active").agg(count("*"), count("note"), sum("id"), min("amount"),
  max("amount"), max("created_at")).collect()``;
- ``top-10``: ``df.orderBy("amount").limit(10).collect()``;

each in four variants:

- ``sparkpg``: ``read_table(spark, settings, "bench.public.bench_read")`` with defaults (the COPY
  engine, which pushes the aggregate and the top-N into each partition's query);
- ``sparkpg-not-pushed``: the same read with ``pushdown_off`` naming every pushdown: the same
  engine streams every row and Spark does the work;
- ``psql``: PostgreSQL alone: psql running the same SQL, output to /dev/null;
- ``jdbc-catalog``: Spark's own JDBC V2 catalog (``JDBCTableCatalog``) with its pushdowns on
  (``pushDownAggregate``, ``pushDownLimit``, ``pushDownOffset``) and partitioned like ours
  (``partitionColumn=id``, bounds, ``numPartitions`` = ours, ``fetchsize=10000``).

First, untimed, every variant runs every query once: the answers must be equal (the run stops
otherwise), the rows each variant moved from PostgreSQL to Spark are counted (the scan stages'
input records; for psql, the rows of its answer) and each Spark variant's scan is explained (what
it pushed). Then one warm-up of every query and variant, then ``--repeat`` repetitions in which
the variants run interleaved in a rotating order. Reported per query and variant: median and
minimum seconds, ratio to ``sparkpg``, CPU seconds of the client (the Spark JVM, or psql) and of
the server (the postmaster's children), rows moved; ``--json`` writes the same data.

The pure helpers (SQL, answer comparison, explain parsing, summaries) are unit-tested in
``tests/unit/devtools/test_pushdown_benchmark.py``; the benchmark itself is not a test.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from benchmarks.chart import add_chart_arguments
from benchmarks.common import (
    machine,
    psql_command,
    psql_env,
    publish,
    run_psql,
    setting_lines,
    short_error,
    versions,
)
from benchmarks.read_benchmark import (
    CONNECTION,
    TABLE,
    VariantResult,
    build_table,
    cpu_seconds,
    jvm_pid,
    postmaster_pid,
    ratio,
    rotated,
    write_settings,
)
from benchmarks.write_benchmark import cpu_now

DEFAULT_ROWS = 5_000_000
DEFAULT_REPEAT = 3
QUERIES = ("count", "group-by", "top-10")
VARIANTS = ("sparkpg", "sparkpg-not-pushed", "psql", "jdbc-catalog")
REFERENCE = "sparkpg"
DESCRIPTIONS = {
    "sparkpg": "read_table(...) defaults: the COPY engine pushes the query into PostgreSQL",
    "sparkpg-not-pushed": "read_table(..., pushdown_off=<all>): the COPY engine streams every row",
    "psql": "PostgreSQL alone: psql -c <the SQL>, output to /dev/null",
    "jdbc-catalog": "Spark's JDBCTableCatalog, pushDownAggregate/Limit/Offset on, partitioned like ours",
}
GROUP_COLUMN = "active"
AGGREGATES: Tuple[Tuple[str, str], ...] = (
    ("count", "*"),
    ("count", "note"),
    ("sum", "id"),
    ("min", "amount"),
    ("max", "amount"),
    ("max", "created_at"),
)
"""The group-by query's aggregates (function, column): plain columns, each one the COPY engine
pushes (``AVG`` is never pushed; ``SUM`` of a bigint is, per partition)."""
ORDER_COLUMN = "amount"
TOP_N = 10
SPARK_CODE = {
    "count": "df.count()",
    "group-by": f'df.groupBy("{GROUP_COLUMN}").agg('
    + ", ".join(f'{fn}("{col}")' for fn, col in AGGREGATES)
    + ").collect()",
    "top-10": f'df.orderBy("{ORDER_COLUMN}").limit({TOP_N}).collect()',
}
CATALOG = "pg_jdbc"
JDBC_CATALOG_CLASS = "org.apache.spark.sql.execution.datasources.v2.jdbc.JDBCTableCatalog"
FETCH_SIZE = 10_000
SEPARATOR = "\x1f"
"""psql's field separator when the verification reads its answer (``-A -t -F``)."""


# --- pure helpers (unit-tested) -----------------------------------------------------------------


def query_sql(query: str, table: str = TABLE) -> str:
    """The SQL PostgreSQL alone runs for ``query``: the same answer as the Spark code.

    Spark sorts ascending with NULLs first; PostgreSQL puts them last unless told, hence
    ``NULLS FIRST`` (``amount`` has no NULLs, so the plan is the same either way).

    >>> query_sql("top-10", "t")
    'SELECT * FROM t ORDER BY amount NULLS FIRST LIMIT 10'
    """
    if query == "count":
        return f"SELECT count(*) FROM {table}"
    if query == "group-by":
        aggregates = ", ".join(f"{fn}({col})" for fn, col in AGGREGATES)
        return f"SELECT {GROUP_COLUMN}, {aggregates} FROM {table} GROUP BY {GROUP_COLUMN}"
    if query == "top-10":
        return f"SELECT * FROM {table} ORDER BY {ORDER_COLUMN} NULLS FIRST LIMIT {TOP_N}"
    raise ValueError(f"unknown query {query!r}; one of {', '.join(QUERIES)}")


def catalog_conf(
    options: Mapping[str, str], partitions: int, rows: int, name: str = CATALOG
) -> Dict[str, str]:
    """The Spark confs of a JDBC V2 catalog ``name`` reading as a careful user sets it up:
    ``options`` (url, driver, user, password, ...), every pushdown of Spark 3.5's
    ``JDBCOptions`` that applies on, and the read split on ``id`` into ``partitions``.

    >>> conf = catalog_conf({"url": "jdbc:postgresql://h/db"}, 4, 100)
    >>> conf["spark.sql.catalog.pg_jdbc"].rsplit(".", 1)[1], conf["spark.sql.catalog.pg_jdbc.numPartitions"]
    ('JDBCTableCatalog', '4')
    """
    settings = {
        **options,
        "pushDownAggregate": "true",
        "pushDownLimit": "true",  # also the top-N (ORDER BY ... LIMIT) in Spark 3.5
        "pushDownOffset": "true",
        "partitionColumn": "id",
        "lowerBound": "1",
        "upperBound": str(rows),
        "numPartitions": str(partitions),
        "fetchsize": str(FETCH_SIZE),
    }
    prefix = f"spark.sql.catalog.{name}"
    return {prefix: JDBC_CATALOG_CLASS, **{f"{prefix}.{k}": v for k, v in settings.items()}}


def canonical(value: Any) -> str:
    """``value`` as psql prints it (``-A``, server time zone UTC): the common form in which the
    variants' answers are compared. NULL is the empty string, as psql prints it.

    >>> canonical(True), canonical(Decimal("12.30")), canonical(None)
    ('t', '12.30', '')
    >>> canonical(datetime.datetime(2024, 1, 3, 7, 33, 20, 500000, tzinfo=datetime.timezone.utc))
    '2024-01-03 07:33:20.5+00'
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        # PySpark gives a timestamp as a naive datetime in this process's time zone.
        utc = value.astimezone(datetime.timezone.utc)
        fraction = f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else ""
        return utc.strftime("%Y-%m-%d %H:%M:%S") + fraction + "+00"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def canonical_rows(rows: Sequence[Sequence[Any]], *, ordered: bool) -> List[Tuple[str, ...]]:
    """The rows in :func:`canonical` form; sorted unless their order is part of the answer."""
    out = [tuple(canonical(v) for v in row) for row in rows]
    return out if ordered else sorted(out)


def parse_psql_rows(text: str) -> List[Tuple[str, ...]]:
    """psql's ``-A -t -F <SEPARATOR>`` output as rows of fields.

    >>> parse_psql_rows("t\\x1f3\\nf\\x1f\\n")
    [('t', '3'), ('f', '')]
    """
    return [tuple(line.split(SEPARATOR)) for line in text.splitlines() if line]


def first_difference(answers: Mapping[str, Sequence[Tuple[str, ...]]]) -> Optional[str]:
    """None when every variant's answer is the same; otherwise which two differ and how.

    >>> first_difference({"a": [("1",)], "b": [("1",)]}) is None
    True
    """
    names = list(answers)
    if not names:
        return None
    reference = names[0]
    for name in names[1:]:
        if list(answers[name]) != list(answers[reference]):
            ours, theirs = list(answers[reference]), list(answers[name])
            if len(ours) != len(theirs):
                return f"{reference} gave {len(ours)} rows, {name} {len(theirs)}"
            index = next(i for i, (x, y) in enumerate(zip(ours, theirs)) if x != y)
            return f"row {index + 1}: {reference} gave {ours[index]}, {name} {theirs[index]}"
    return None


PUSHED = re.compile(r"Pushed\w+: .*?(?=(?:,? Pushed\w+: )|,? ReadSchema: | Partitions: |$)")


def pushed_of(plan: str) -> str:
    """What the scan of a physical plan's text says was pushed into PostgreSQL, on one line:
    its ``Pushed...`` entries, the empty ones (``PushedFilters: []``) left out; ``nothing``
    when none is left.

    >>> pushed_of("+- BatchScan sparkpg_copy t PushedFilters: [] PushedLimit: 10 Partitions: 1")
    'PushedLimit: 10'
    """
    for line in plan.splitlines():
        if "Pushed" not in line:
            continue
        entries = [
            m.group(0).rstrip(", ")
            for m in PUSHED.finditer(line)
            if not m.group(0).rstrip(", ").endswith(": []")
        ]
        return "; ".join(entries) or "nothing"
    return "nothing"


def summarise(
    results: Mapping[Tuple[str, str], VariantResult],
    rows_moved: Mapping[Tuple[str, str], Optional[int]],
    pushed: Mapping[str, Mapping[str, str]],
) -> List[Dict[str, Any]]:
    """One JSON-able record per (query, variant), in the order of ``results``: times, ratio of
    the median to ``sparkpg``'s for the same query, CPU medians, rows moved, what was pushed."""
    records = []
    for (query, variant), r in results.items():
        ours = results.get((query, REFERENCE))
        med = r.median
        records.append(
            {
                "query": query,
                "variant": variant,
                "description": r.description,
                "status": "failed" if r.error else "ok",
                "error": r.error,
                "seconds": [round(s, 3) for s in r.seconds],
                "median_seconds": _round(med),
                "min_seconds": _round(r.minimum),
                "ratio_to_sparkpg": _round(ratio(med, ours.median if ours else None)),
                "client_cpu_seconds": _round(_median(r.client_cpu), 2),
                "server_cpu_seconds": _round(_median(r.server_cpu), 2),
                "rows_moved": rows_moved.get((query, variant)),
                "pushed": pushed.get(query, {}).get(variant),
            }
        )
    return records


def _median(values: Sequence[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def _round(value: Optional[float], digits: int = 3) -> Optional[float]:
    return None if value is None else round(value, digits)


def format_table(records: Sequence[Dict[str, Any]]) -> str:
    """The results as a fixed-width table, one block of rows per query, then what each Spark
    variant's scan pushed and the failed variants' errors."""
    header = (
        "query",
        "variant",
        "median s",
        "min s",
        "x sparkpg",
        "client CPU s",
        "server CPU s",
        "rows moved",
    )
    lines = [header]
    notes = []
    for rec in records:
        if rec["status"] != "ok":
            lines.append((rec["query"], rec["variant"], "FAILED", *[""] * 5))
            notes.append(f"{rec['query']} / {rec['variant']}: {rec['error']}")
            continue
        lines.append(
            (
                rec["query"],
                rec["variant"],
                _fmt(rec["median_seconds"], "{:.2f}"),
                _fmt(rec["min_seconds"], "{:.2f}"),
                _fmt(rec["ratio_to_sparkpg"], "{:.2f}"),
                _fmt(rec["client_cpu_seconds"], "{:.2f}"),
                _fmt(rec["server_cpu_seconds"], "{:.2f}"),
                _fmt(rec["rows_moved"], "{:,}"),
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = []
    for idx, row in enumerate(lines):
        cells = [c.ljust(w) for c, w in zip(row[:2], widths[:2])]
        cells += [c.rjust(w) for c, w in zip(row[2:], widths[2:])]
        text.append("  ".join(cells).rstrip())
        if idx == 0:
            text.append("  ".join("-" * w for w in widths))
    pushed = [
        f"{rec['query']} / {rec['variant']}: {rec['pushed']}"
        for rec in records
        if rec.get("pushed") is not None
    ]
    return "\n".join(text + (["", "pushed (explain):", *pushed] if pushed else []) + notes)


def _fmt(value: Any, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def schedule(
    queries: Sequence[str], variants: Sequence[str], repetition: int
) -> List[Tuple[str, str]]:
    """The (query, variant) runs of one repetition: queries and, within each, variants in an
    order rotated by ``repetition``, so that drift hits every variant alike.

    >>> schedule(["q1", "q2"], ["a", "b"], 1)
    [('q2', 'b'), ('q2', 'a'), ('q1', 'b'), ('q1', 'a')]
    """
    return [(q, v) for q in rotated(queries, repetition) for v in rotated(variants, repetition)]


def parse_list(text: str, choices: Sequence[str], what: str) -> List[str]:
    """A comma-separated subset of ``choices``, in the order of ``choices``.

    >>> parse_list("top-10,count", QUERIES, "queries")
    ['count', 'top-10']
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown or not names:
        given = ", ".join(unknown) or "(none given)"
        raise ValueError(f"--{what}: unknown {given}; choose among {', '.join(choices)}")
    return [c for c in choices if c in names]


# --- the run ------------------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pushdown_benchmark", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="table rows (5,000,000)")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="timed repetitions")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--queries",
        default=",".join(QUERIES),
        help=f"comma-separated subset of {', '.join(QUERIES)}",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated subset of {', '.join(VARIANTS)}",
    )
    parser.add_argument("--master", default="local[*]", help="Spark master (local[*])")
    parser.add_argument("--driver-memory", default="1g", help="spark.driver.memory (Spark's 1g)")
    add_chart_arguments(parser)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")
    try:
        args.queries = parse_list(args.queries, QUERIES, "queries")
        args.variants = parse_list(args.variants, VARIANTS, "variants")
    except ValueError as exc:
        parser.error(str(exc))
    return args


class InputRecords:
    """Rows the scans of Spark's stages read (their input records), from the status store."""

    def __init__(self, spark: Any) -> None:
        sc = spark.sparkContext
        self._context = sc._jsc.sc()
        self._no_quantiles = sc._gateway.new_array(sc._jvm.double, 0)

    def by_stage(self) -> Dict[Tuple[int, int], int]:
        self._context.listenerBus().waitUntilEmpty()
        stages = self._context.statusStore().stageList(None, False, False, self._no_quantiles, None)
        out = {}
        for i in range(stages.size()):
            stage = stages.apply(i)
            out[(int(stage.stageId()), int(stage.attemptId()))] = int(stage.inputRecords())
        return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    psql = shutil.which("psql")
    if psql is None and "psql" in args.variants:
        print(
            "pushdown_benchmark: psql is not on the PATH (--variants without psql?)",
            file=sys.stderr,
        )
        return 2

    from pyspark.sql import functions as F

    from connectors.settings import load_settings
    from devtools.postgres_server import postgres_server
    from spark_jobs.engine.session import local_session
    from spark_jobs.read.api import plan_table, read_table
    from spark_jobs.read.options import PUSHDOWNS

    queries, variants = args.queries, args.variants
    ref = f"{CONNECTION}.public.{TABLE}"
    spark_conf = {"spark.ui.enabled": "false", "spark.driver.memory": args.driver_memory}

    def frame(df: Any, query: str) -> Any:
        """The DataFrame ``query`` collects (for ``count``: the one ``df.count()`` runs)."""
        if query == "count":
            return df.groupBy().count()
        if query == "group-by":
            return df.groupBy(GROUP_COLUMN).agg(*(getattr(F, fn)(col) for fn, col in AGGREGATES))
        return df.orderBy(ORDER_COLUMN).limit(TOP_N)

    def answer(df: Any, query: str) -> List[Tuple[Any, ...]]:
        """Run ``query`` on ``df`` as a user would: its rows, collected to the driver."""
        if query == "count":
            return [(df.count(),)]
        return [tuple(row) for row in frame(df, query).collect()]

    with postgres_server(tls=False) as server, tempfile.TemporaryDirectory() as tmp:
        print(
            f"PostgreSQL on {server.host}:{server.port} ({server.source}), TLS off; "
            f"building {args.rows:,} rows ...",
            flush=True,
        )
        table = build_table(server.conninfo(), args.rows)
        print(
            f"table {TABLE}: {table['pages']:,} pages, heap {table['heap_bytes'] / 2**20:.0f} MiB",
            flush=True,
        )
        settings = load_settings(str(write_settings(server, Path(tmp), max_connections=8)))
        spark = local_session(
            settings, master=args.master, app_name="sparkpg-pushdown-bench", conf=spark_conf
        )
        spark.sparkContext.setLogLevel("ERROR")
        pid = jvm_pid(spark)
        planned = plan_table(spark, settings, ref)
        partitions = max(1, len(planned.plan.predicates))
        options = planned.target.spark_jdbc_options(binary_transfer=False, fetch_size=FETCH_SIZE)
        for key, value in catalog_conf(options, partitions, args.rows).items():
            spark.conf.set(key, value)
        env = psql_env(server)
        postmaster = postmaster_pid(server)

        reads: Dict[str, Callable[[], Any]] = {
            "sparkpg": lambda: read_table(spark, settings, ref),
            "sparkpg-not-pushed": lambda: read_table(
                spark, settings, ref, pushdown_off=tuple(PUSHDOWNS)
            ),
            "jdbc-catalog": lambda: spark.table(f"{CATALOG}.public.{TABLE}"),
        }

        results = {(q, v): VariantResult(v, DESCRIPTIONS[v]) for q in queries for v in variants}

        # Untimed: the answers, the rows moved, what each scan pushed.
        stages = InputRecords(spark)
        rows_moved: Dict[Tuple[str, str], Optional[int]] = {}
        pushed: Dict[str, Dict[str, str]] = {q: {} for q in queries}
        for query in queries:
            answers: Dict[str, List[Tuple[str, ...]]] = {}
            for variant in variants:
                try:
                    if variant == "psql":
                        assert psql is not None
                        rows = parse_psql_rows(
                            subprocess.run(
                                psql_command(psql, query_sql(query), "-A", "-t", "-F", SEPARATOR),
                                env={**env, "PGTZ": "UTC"},
                                check=True,
                                capture_output=True,
                                text=True,
                            ).stdout
                        )
                        rows_moved[(query, variant)] = len(rows)
                    else:
                        before = stages.by_stage()
                        df = reads[variant]()
                        rows = answer(df, query)
                        after = stages.by_stage()
                        rows_moved[(query, variant)] = sum(
                            n for stage, n in after.items() if stage not in before
                        )
                        plan = frame(df, query)._jdf.queryExecution().executedPlan().toString()
                        pushed[query][variant] = pushed_of(plan)
                except Exception as exc:  # reported; the variant is left out of the timed runs
                    stderr = getattr(exc, "stderr", None)
                    results[(query, variant)].error = short_error(exc) + (
                        f": {stderr.strip()[:200]}" if stderr else ""
                    )
                    print(f"  {query} / {variant} FAILED: {results[(query, variant)].error}")
                    continue
                answers[variant] = canonical_rows(rows, ordered=query == "top-10")
            difference = first_difference(answers)
            if difference:
                print(
                    f"pushdown_benchmark: {query}: the answers differ: {difference}",
                    file=sys.stderr,
                )
                spark.stop()
                return 1
            print(
                f"{query}: the same answer from {', '.join(answers)} "
                f"({len(next(iter(answers.values()), []))} rows)",
                flush=True,
            )
            for variant, text in pushed[query].items():
                print(f"  {variant} pushed: {text}", flush=True)

        def run_one(query: str, variant: str, record: bool) -> None:
            result = results[(query, variant)]
            if result.error:
                return
            server_before = cpu_now(postmaster, pid)[0] if postmaster else None
            if variant == "psql":
                assert psql is not None
                run = run_psql([psql_command(psql, query_sql(query))], env)
                if run.errors:
                    result.error = run.errors[0][:300]
                    return
                seconds, client_cpu = run.seconds, run.cpu_seconds
            else:
                cpu_before = cpu_seconds(pid) or 0.0
                started = time.monotonic()
                try:
                    answer(reads[variant](), query)
                except Exception as exc:
                    result.error = short_error(exc)
                    return
                seconds = time.monotonic() - started
                client_cpu = (cpu_seconds(pid) or 0.0) - cpu_before
            server_cpu: Optional[float] = None
            if server_before is not None:
                time.sleep(0.2)  # the variant's backends exit
                server_cpu = cpu_now(postmaster, pid)[0] - server_before
            if record:
                result.seconds.append(seconds)
                result.client_cpu.append(client_cpu)
                if server_cpu is not None:
                    result.server_cpu.append(server_cpu)
            server_text = "" if server_cpu is None else f", server CPU {server_cpu:.2f} s"
            print(
                f"  {'run' if record else 'warm-up'} {query} / {variant}: {seconds:.2f} s "
                f"(client CPU {client_cpu:.2f} s{server_text})",
                flush=True,
            )

        for query, variant in schedule(queries, variants, 0):
            run_one(query, variant, record=False)
        for rep in range(args.repeat):
            print(f"repetition {rep + 1}/{args.repeat}", flush=True)
            for query, variant in schedule(queries, variants, rep):
                run_one(query, variant, record=True)
        report_versions = versions(spark, table["server_version"])
        spark.stop()

    records = summarise(results, rows_moved, pushed)
    report = {
        "benchmark": "pushdown",
        "date": datetime.date.today().isoformat(),
        "rows": args.rows,
        "repeat": args.repeat,
        "command": "python -m benchmarks.pushdown_benchmark " + " ".join(argv or sys.argv[1:]),
        "table": table,
        "plan": {
            "strategy": planned.plan.strategy,
            "partitions": partitions,
            "reason": planned.plan.reason,
        },
        "queries": {q: {"spark": SPARK_CODE[q], "sql": query_sql(q)} for q in queries},
        "jdbc_catalog": {
            k: v
            for k, v in catalog_conf(options, partitions, args.rows).items()
            if not k.endswith(".password")
        },
        "machine": machine(),
        "spark": {"master": args.master, "driver_memory": args.driver_memory},
        "versions": report_versions,
        "results": records,
    }
    print()
    print(format_report(report))
    publish(report, args.json, args.chart, args.chart_with)
    return 0


def format_report(report: Dict[str, Any]) -> str:
    """The printed report: the table, the plan, versions, machine."""
    plan = report["plan"]
    return "\n".join(
        [
            format_table(report["results"]),
            "",
            f"table: {report['rows']:,} rows, {report['table']['pages']:,} pages; sparkpg plan: "
            f"{plan['strategy']}, {plan['partitions']} partitions ({plan['reason']})",
            *setting_lines(report),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
