"""The read benchmark: our default read against the physical floor and plain Spark.

Run ``python -m benchmarks.read_benchmark [--rows 5000000] [--repeat 3] [--json out.json]``
(``--chart out.svg`` also draws the standing chart, ``benchmarks/chart.py``, from this run and
the ``--chart-with`` files).

In one run it starts a throwaway PostgreSQL (``devtools.postgres_server``, TLS off unless
``--tls``), builds a table of ``--rows`` rows (bigint primary key, int, numeric(12,2), text with
some NULLs, timestamptz, date, boolean; ``VACUUM ANALYZE``), and times, each materialised with
Spark's ``noop`` sink in one ``local[*]`` session (warm-up once, then ``--repeat`` repetitions in
which the variants run interleaved, in a rotating order):

- ``floor``: ``COPY (SELECT * FROM t WHERE <ctid range>) TO STDOUT (FORMAT binary)`` through
  ``psql`` to /dev/null, as many concurrent page-range streams as our default read has partitions;
- ``plain``: ``spark.read.jdbc(url, table, properties)`` as users write it (no fetchsize, one
  partition), in a worker process with its own JVM (Spark's default 1 GiB driver memory) so that an
  out-of-memory error is reported instead of killing the benchmark;
- ``hand-tuned``: ``spark.read.jdbc`` with ``column="id"``, bounds, ``numPartitions`` = ours and
  ``fetchsize=10000``;
- ``sparkpg-jdbc``: ``read_table(..., engine="jdbc")``: Spark's JDBC source, counting on;
- ``sparkpg``: ``read_table(spark, settings, "bench.public.<table>")`` with defaults: the COPY
  engine, counting on (planning included in the time);
- ``wide-floor``, ``wide-sparkpg-jdbc``, ``wide-sparkpg``: the same on a 30-column table
  (text-heavy, numeric, timestamptz, jsonb, arrays, NULLs) of ``--rows / 5`` rows.

It also times the planning of many small tables: ``read_tables`` of the Pagila tables
(``../shared/realworld/``: tables and partitions; plan and lazy load, no Spark action).

It prints the median and minimum seconds, rows/s, ratios to the floor and to ``sparkpg``, peak
RSS (the Spark driver JVM's ``VmHWM``, reset before each run through ``/proc/<pid>/clear_refs``;
psql's ``ru_maxrss``), CPU seconds of the client (the JVM, or all psql processes) and of the
server (the postmaster's reaped backends), for in-process variants the client's CPU in Spark's
task threads (the read itself) and in the JIT compilers (warming up code, most of it not ours),
the plan of our read, versions and the CPU count. Ratios are the claim.

The pure helpers (page ranges, medians, formatting, ``/proc`` parsing) are unit-tested in
``tests/unit/devtools/test_read_benchmark.py``; the benchmark itself is not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

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

TABLE = "bench_read"
CONNECTION = "bench"
DEFAULT_ROWS = 5_000_000
DEFAULT_REPEAT = 3
PLAIN_TIMEOUT_SECONDS = 300.0
# Only changes how an out-of-memory error ends (at once, instead of a JVM wedged in GC).
EXIT_ON_OOM = "-XX:+ExitOnOutOfMemoryError"
WIDE_TABLE = "bench_wide"
WIDE = "wide-"
"""Prefix of the variants reading the wide table (their ratios are to ``wide-floor``)."""
VARIANTS = (
    "floor",
    "plain",
    "hand-tuned",
    "sparkpg-jdbc",
    "sparkpg",
    "sparkpg-snapshot",
    "wide-floor",
    "wide-sparkpg-jdbc",
    "wide-sparkpg",
)
DESCRIPTIONS = {
    "floor": "psql COPY (FORMAT binary) to /dev/null, one stream per partition, concurrent",
    "plain": "spark.read.jdbc(url, table, properties): no fetchsize, one partition",
    "hand-tuned": "spark.read.jdbc(column='id', bounds, numPartitions=ours, fetchsize=10000)",
    "sparkpg-jdbc": "read_table(..., engine='jdbc'): Spark's JDBC source (counting on)",
    "sparkpg": "read_table(spark, settings, ref) with defaults: the COPY engine, counting on",
    "sparkpg-snapshot": "read_table(..., snapshot=snap) in consistent_snapshot (exported and "
    "ended in the run): one snapshot, page ranges",
    "wide-floor": "the floor on the wide table (30 columns)",
    "wide-sparkpg-jdbc": "read_table(..., engine='jdbc') of the wide table",
    "wide-sparkpg": "read_table(...) of the wide table with defaults (COPY engine)",
}
PAGILA = next(  # ../shared/realworld of the checkout or of its worktrees' parent
    (
        p / "shared" / "realworld"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "realworld" / "pagila-schema.sql").is_file()
    ),
    Path("../shared/realworld"),
)
PAGILA_DATABASE = "pagila"

CREATE_SQL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (
    id bigint NOT NULL,
    quantity integer NOT NULL,
    amount numeric(12, 2),
    note text,
    created_at timestamptz NOT NULL,
    day date NOT NULL,
    active boolean NOT NULL
);
"""
# Deterministic, realistic-looking values; every 50th note is NULL, notes are 8 to 31 characters.
INSERT_SQL = """
INSERT INTO {table}
SELECT i,
       ((i * 31) % 1000)::int,
       ((i * 7919) % 10000000) / 100.0,
       CASE WHEN i % 50 = 0 THEN NULL
            ELSE 'order ' || substr(md5(i::text), 1, 2 + (i % 24)::int) END,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second',
       date '2020-01-01' + (i % 1500)::int,
       i % 3 = 0
FROM generate_series({low}::bigint, {high}::bigint) AS i
"""
INSERT_CHUNK = 1_000_000

# About 30 columns: text-heavy, numeric, timestamptz, jsonb, arrays, NULLs in every nullable one.
WIDE_CREATE_SQL = f"""
DROP TABLE IF EXISTS {WIDE_TABLE};
CREATE TABLE {WIDE_TABLE} (
    id bigint NOT NULL,
    {", ".join(f"t{i} text" for i in range(1, 9))},
    {", ".join(f"v{i} varchar(64)" for i in range(1, 4))},
    {", ".join(f"n{i} numeric(14, 4)" for i in range(1, 5))},
    {", ".join(f"i{i} integer" for i in range(1, 4))},
    f1 double precision, f2 double precision,
    {", ".join(f"ts{i} timestamptz" for i in range(1, 4))},
    d1 date, b1 boolean, j1 jsonb, j2 jsonb, a1 integer[], a2 text[]
);
"""
WIDE_INSERT_SQL = (
    "INSERT INTO {table} SELECT i, "
    + ", ".join(
        f"CASE WHEN i % {7 + k} = 0 THEN NULL ELSE repeat(md5((i + {k})::text), {1 + k % 3}) END"
        for k in range(8)
    )
    + ", "
    + ", ".join(f"'code-' || substr(md5((i * {k})::text), 1, {8 + 4 * k})" for k in range(1, 4))
    + ", "
    + ", ".join(
        f"CASE WHEN i % {11 + k} = 0 THEN NULL ELSE ((i * {7919 + k}) % 100000000) / 10000.0 END"
        for k in range(4)
    )
    + ", (i % 1000)::int, (i * 13 % 100000)::int, CASE WHEN i % 5 = 0 THEN NULL ELSE i::int END, "
    "i / 7.0, CASE WHEN i % 9 = 0 THEN NULL ELSE sqrt(i::float8) END, "
    "timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', "
    "timestamptz '2020-01-01 00:00:00+00' + i * interval '1 minute', "
    "CASE WHEN i % 13 = 0 THEN NULL ELSE now() END, "
    "date '2020-01-01' + (i % 1500)::int, i % 2 = 0, "
    "jsonb_build_object('id', i, 'tag', md5(i::text), 'n', i % 17), "
    "CASE WHEN i % 4 = 0 THEN NULL ELSE jsonb_build_array(i, i + 1, 'x') END, "
    "ARRAY[i::int, (i + 1)::int, (i + 2)::int], "
    "CASE WHEN i % 6 = 0 THEN NULL ELSE ARRAY[md5(i::text), 'b'] END "
    "FROM generate_series({low}::bigint, {high}::bigint) AS i"
)


# --- pure helpers (unit-tested) -----------------------------------------------------------------


def page_ranges(pages: int, n: int) -> List[Tuple[Optional[int], Optional[int]]]:
    """``n`` page ranges ``[low, high)`` covering a table of ``pages`` pages, open at both ends.

    The same cuts as ``spark_jobs.read.partitioning.plan_page_ranges``: ``None`` means open (the
    first range has no lower bound, the last no upper bound).

    >>> page_ranges(10, 3)
    [(None, 3), (3, 6), (6, None)]
    """
    n = max(1, min(n, pages))
    if n == 1:
        return [(None, None)]
    cuts = [(pages * i) // n for i in range(1, n)]
    bounds: List[Optional[int]] = [None, *cuts, None]
    return list(zip(bounds[:-1], bounds[1:]))


def ctid_condition(low: Optional[int], high: Optional[int]) -> str:
    """The ``WHERE`` condition of a page range (``true`` for the whole table)."""
    parts = []
    if low is not None:
        parts.append(f"ctid >= '({low},0)'::tid")
    if high is not None:
        parts.append(f"ctid < '({high},0)'::tid")
    return " AND ".join(parts) or "true"


def copy_statement(table: str, low: Optional[int], high: Optional[int]) -> str:
    """The floor's statement for one page range."""
    return (
        f"COPY (SELECT * FROM {table} WHERE {ctid_condition(low, high)}) TO STDOUT (FORMAT binary)"
    )


def parse_vm_kib(status: str, field_name: str = "VmHWM") -> Optional[int]:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmHWM``: peak RSS), or None."""
    for line in status.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return None


def parse_stat_cpu_ticks(stat: str, *, children: bool = False) -> int:
    """CPU clock ticks (user + system) from ``/proc/<pid>/stat``; with ``children``, those of
    reaped children (a postmaster's ``cutime + cstime``: its finished backends) instead."""
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 is fields[0]
    first = 15 if children else 13  # utime is field 14, cutime field 16 (1-based)
    return int(fields[first - 2]) + int(fields[first - 1])


def cpu_seconds(pid: int, *, children: bool = False) -> Optional[float]:
    """CPU seconds used so far by ``pid`` (or by its reaped children), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return parse_stat_cpu_ticks(stat, children=children) / os.sysconf("SC_CLK_TCK")


def thread_group(name: str) -> str:
    """The group of a JVM thread, by its (15-character) name, in the client-CPU breakdown:
    ``task`` (Spark's executor task threads: the read itself), ``jit`` (the JIT compilers) or
    ``other`` (GC, py4j, Spark's scheduler and listeners).

    >>> [thread_group(n) for n in ("Executor task l", "C2 CompilerThre", "GC Thread#0")]
    ['task', 'jit', 'other']
    """
    if name.startswith("Executor task"):
        return "task"
    return "jit" if "CompilerThre" in name else "other"


def thread_cpu_ticks(pid: int) -> Dict[int, Tuple[str, int]]:
    """Each live thread of ``pid``: its :func:`thread_group` and CPU clock ticks so far."""
    threads: Dict[int, Tuple[str, int]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        threads[int(tid)] = (thread_group(name), parse_stat_cpu_ticks(stat))
    return threads


def group_cpu_seconds(
    before: Dict[int, Tuple[str, int]], after: Dict[int, Tuple[str, int]]
) -> Dict[str, float]:
    """CPU seconds per thread group between two :func:`thread_cpu_ticks` snapshots (a thread
    started meanwhile counts from zero; one that ended meanwhile is not counted)."""
    seconds: Dict[str, float] = {"task": 0.0, "jit": 0.0, "other": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for tid, (group, ticks) in after.items():
        seconds[group] += (ticks - before.get(tid, (group, 0))[1]) / tick
    return seconds


@dataclass
class VariantResult:
    """The measurements of one variant."""

    name: str
    description: str
    seconds: List[float] = field(default_factory=list)
    peak_rss_kib: Optional[int] = None
    client_cpu: List[float] = field(default_factory=list)
    server_cpu: List[float] = field(default_factory=list)
    task_cpu: List[float] = field(default_factory=list)
    jit_cpu: List[float] = field(default_factory=list)
    error: Optional[str] = None
    note: Optional[str] = None

    @property
    def median(self) -> Optional[float]:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def minimum(self) -> Optional[float]:
        return min(self.seconds) if self.seconds else None

    def add_peak(self, kib: Optional[int]) -> None:
        if kib is not None:
            self.peak_rss_kib = max(self.peak_rss_kib or 0, kib)


def ratio(value: Optional[float], reference: Optional[float]) -> Optional[float]:
    """``value / reference``, or None when either is unknown."""
    if value is None or not reference:
        return None
    return value / reference


def summarise(
    results: Sequence[VariantResult], rows: int, wide_rows: Optional[int] = None
) -> List[Dict[str, Any]]:
    """One JSON-able record per variant: times, rows/s, ratios to ``floor`` and ``sparkpg`` (for
    the ``wide-`` variants: to ``wide-floor`` and ``wide-sparkpg``, over ``wide_rows`` rows)."""
    by_name = {r.name: r for r in results}

    def median_of(name: str) -> Optional[float]:
        return by_name[name].median if name in by_name else None

    records = []
    for r in results:
        group = WIDE if r.name.startswith(WIDE) else ""
        floor, ours = median_of(group + "floor"), median_of(group + "sparkpg")
        med = r.median
        records.append(
            {
                "variant": r.name,
                "description": r.description,
                "status": "failed" if r.error else "ok",
                "error": r.error,
                "note": r.note,
                "seconds": [round(s, 3) for s in r.seconds],
                "median_seconds": _round(med),
                "min_seconds": _round(r.minimum),
                "rows_per_second": round((wide_rows or rows if group else rows) / med)
                if med
                else None,
                "ratio_to_floor": _round(ratio(med, floor)),
                "ratio_to_sparkpg": _round(ratio(med, ours)),
                "peak_rss_mib": round(r.peak_rss_kib / 1024) if r.peak_rss_kib else None,
                "client_cpu_seconds": _round(_median(r.client_cpu), 2),
                "server_cpu_seconds": _round(_median(r.server_cpu), 2),
                "client_task_cpu_seconds": _round(_median(r.task_cpu), 2),
                "client_jit_cpu_seconds": _round(_median(r.jit_cpu), 2),
            }
        )
    return records


def _median(values: Sequence[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def _round(value: Optional[float], digits: int = 3) -> Optional[float]:
    return None if value is None else round(value, digits)


def format_table(records: Sequence[Dict[str, Any]]) -> str:
    """The results as a fixed-width text table (failed variants show their error)."""
    header = (
        "variant",
        "median s",
        "min s",
        "rows/s",
        "x floor",
        "x sparkpg",
        "peak RSS",
        "client CPU s",
        "server CPU s",
        "task CPU s",
        "JIT CPU s",
    )
    lines = [header]
    notes = []
    for rec in records:
        if rec["status"] != "ok":
            lines.append((rec["variant"], "FAILED", *[""] * (len(header) - 2)))
            notes.append(f"{rec['variant']}: {rec['error']}")
            continue
        lines.append(
            (
                rec["variant"],
                _fmt(rec["median_seconds"], "{:.2f}"),
                _fmt(rec["min_seconds"], "{:.2f}"),
                _fmt(rec["rows_per_second"], "{:,}"),
                _fmt(rec["ratio_to_floor"], "{:.2f}"),
                _fmt(rec["ratio_to_sparkpg"], "{:.2f}"),
                _mib(rec["peak_rss_mib"]),
                _fmt(rec.get("client_cpu_seconds"), "{:.2f}"),
                _fmt(rec.get("server_cpu_seconds"), "{:.2f}"),
                _fmt(rec.get("client_task_cpu_seconds"), "{:.2f}"),
                _fmt(rec.get("client_jit_cpu_seconds"), "{:.2f}"),
            )
        )
        if rec.get("note"):
            notes.append(f"{rec['variant']}: {rec['note']}")
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = []
    for idx, row in enumerate(lines):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        text.append("  ".join(cells).rstrip())
        if idx == 0:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text + notes)


def _fmt(value: Any, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def _mib(value: Optional[int]) -> str:
    return "-" if value is None else f"{value} MiB"


def rotated(items: Sequence[str], shift: int) -> List[str]:
    """``items`` rotated left by ``shift``: each repetition starts with another variant."""
    if not items:
        return []
    k = shift % len(items)
    return [*items[k:], *items[:k]]


# --- memory -------------------------------------------------------------------------------------


def reset_peak_rss(pid: int) -> bool:
    """Reset ``VmHWM`` of ``pid`` to its current RSS (Linux ``clear_refs`` 5); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_kib(pid: int) -> Optional[int]:
    """``VmHWM`` of ``pid`` in KiB, or None."""
    try:
        return parse_vm_kib(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None


def postmaster_pid(server: Any) -> Optional[int]:
    """The pid of the server's postmaster (a local server: ``postmaster.pid``), or None."""
    data_dir = getattr(server, "data_dir", None)
    try:
        return int((Path(data_dir) / "postmaster.pid").read_text().split()[0]) if data_dir else None
    except (OSError, ValueError, IndexError):
        return None


def jvm_pid(spark: Any) -> int:
    """The pid of the Spark driver JVM (local mode: driver and executor share it)."""
    return int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())


# --- the database -------------------------------------------------------------------------------


def build_table(
    conninfo: str, rows: int, table: str = TABLE, create: str = CREATE_SQL, insert: str = INSERT_SQL
) -> Dict[str, Any]:
    """Create and fill the table, add the primary key, ``VACUUM ANALYZE``; returns its stats."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(create.encode())
        for low in range(1, rows + 1, INSERT_CHUNK):
            high = min(rows, low + INSERT_CHUNK - 1)
            conn.execute(insert.format(table=table, low=int(low), high=int(high)).encode())
        conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)".encode())
        conn.execute(f"VACUUM (ANALYZE, FREEZE) {table}".encode())
        row = conn.execute(
            "SELECT relpages, pg_relation_size(oid), pg_total_relation_size(oid), "
            "current_setting('server_version') FROM pg_class WHERE oid = %s::regclass",
            (table,),
        ).fetchone()
        assert row is not None
        # Read the table once so every variant starts from the same (cached) state.
        conn.execute(f"SELECT count(*) FROM {table}".encode())
    return {
        "rows": rows,
        "pages": int(row[0]),
        "heap_bytes": int(row[1]),
        "total_bytes": int(row[2]),
        "server_version": str(row[3]),
        "build_seconds": round(time.monotonic() - started, 1),
    }


def run_floor(
    server: Any, pages: int, streams: int, psql: str, table: str = TABLE
) -> Tuple[float, Optional[int], List[str], float]:
    """Time the concurrent binary COPY streams; returns seconds, psql's peak RSS, errors and
    the CPU seconds of all psql processes."""
    run = run_psql(
        [
            psql_command(psql, copy_statement(table, low, high))
            for low, high in page_ranges(pages, streams)
        ],
        psql_env(server),
    )
    return run.seconds, run.peak_rss_kib, run.errors, run.cpu_seconds


# --- the plain read, in a worker process --------------------------------------------------------


def plain_worker() -> int:
    """``--plain-worker``: a JVM of its own for the plain read (an OOM kills only this process).

    Reads one JSON line of config from stdin, answers ``{"ready": ...}``, then one JSON line per
    ``run`` command: ``{"seconds": s, "peak_rss_kib": k}`` or ``{"error": ...}``.
    """
    config = json.loads(sys.stdin.readline())
    # Answers go to the original stdout; everything else (the JVM's output included) to stderr.
    global _CHANNEL
    _CHANNEL = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    from spark_jobs.engine.session import local_session

    spark = local_session(
        master=config["master"], app_name="sparkpg-bench-plain", conf=config["conf"]
    )
    spark.sparkContext.setLogLevel("ERROR")
    pid = jvm_pid(spark)
    _answer({"ready": True, "jvm_pid": pid})
    for line in sys.stdin:
        if line.strip() != "run":
            break
        reset_peak_rss(pid)
        cpu_before = cpu_seconds(pid) or 0.0
        started = time.monotonic()
        try:
            df = spark.read.jdbc(config["url"], config["table"], properties=config["properties"])
            df.write.format("noop").mode("overwrite").save()
        except Exception as exc:  # reported to the parent, which carries on
            _answer({"error": short_error(exc)})
            continue
        _answer(
            {
                "seconds": time.monotonic() - started,
                "peak_rss_kib": peak_rss_kib(pid),
                "cpu_seconds": (cpu_seconds(pid) or 0.0) - cpu_before,
            }
        )
    spark.stop()
    return 0


_CHANNEL: Optional[IO[str]] = None


def _answer(message: Dict[str, Any]) -> None:
    channel = _CHANNEL or sys.stdout
    channel.write(json.dumps(message) + "\n")
    channel.flush()


class PlainWorker:
    """The parent's handle on :func:`plain_worker`."""

    def __init__(self, config: Dict[str, Any], log_path: Path) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.read_benchmark", "--plain-worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True,  # its own process group: close() ends the JVM with it
        )
        self.failed: Optional[str] = None
        self._send(json.dumps(config))
        ready = self._receive(180.0)
        if "error" in ready:
            self.failed = ready["error"]

    def run(self, timeout: float) -> Dict[str, Any]:
        if self.failed:
            return {"error": self.failed}
        self._send("run")
        answer = self._receive(timeout)
        if "error" in answer:
            oom = self._oom_in_log()
            if oom or self.proc.poll() is not None:
                self.failed = oom or answer["error"]
                answer = {"error": self.failed}
        return answer

    def _oom_in_log(self) -> Optional[str]:
        self._log.flush()
        for line in self.log_path.read_text(errors="replace").splitlines():
            if "OutOfMemoryError" in line or "GC overhead limit exceeded" in line:
                return f"the JVM ran out of memory: {line.strip()[:200]}"
        return None

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def _receive(self, timeout: float) -> Dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self._kill()
            return {"error": f"no answer within {timeout:.0f} s (killed)"}
        line = self.proc.stdout.readline()
        while line and not line.startswith("{"):  # stray output: not an answer
            line = self.proc.stdout.readline()
        if line:
            answer: Dict[str, Any] = json.loads(line)
            return answer
        self.proc.wait()
        return {"error": self._death_cause()}

    def _death_cause(self) -> str:
        oom = self._oom_in_log()
        if oom:
            return oom
        log = self.log_path.read_text(errors="replace")
        tail = " | ".join(log.strip().splitlines()[-3:])
        return f"worker exited with code {self.proc.returncode}: {tail[:300]}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self._send("quit")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=60)
        self._kill()
        self._log.close()

    def _kill(self) -> None:
        """End the worker's process group (the worker and its JVM), which it alone holds."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


# --- the run ------------------------------------------------------------------------------------


def write_settings(
    server: Any, directory: Path, max_connections: int, extra_databases: Sequence[str] = ()
) -> Path:
    """A settings file with one connection ``bench`` to ``server`` (credentials in a file), and
    one connection per ``extra_databases`` (named after the database)."""
    creds = directory / "credentials.json"
    creds.write_text(json.dumps({"username": server.user, "password": server.password}))
    creds.chmod(0o600)
    conn: Dict[str, Any] = {
        "name": CONNECTION,
        "host": server.host,
        "port": server.port,
        "database": server.database,
        "credentials_file": str(creds),
        "max_connections": max_connections,
    }
    if server.ca_cert_path:
        conn.update(ssl_mode="verify-full", ssl_root_cert=str(server.ca_cert_path))
    else:
        conn.update(ssl_mode="disable")
    connections = [conn] + [{**conn, "name": db, "database": db} for db in extra_databases]
    path = directory / "settings.json"
    path.write_text(json.dumps({"postgres": {"connections": connections}}, indent=2))
    return path


def load_pagila(server: Any, psql: str) -> List[str]:
    """Load Pagila (schema, data) into database ``pagila`` of ``server``; its tables' refs
    (``pagila.public.<table>``: tables, partitioned tables and their partitions)."""
    import psycopg

    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PAGILA_DATABASE}".encode())
        conn.execute(f"CREATE DATABASE {PAGILA_DATABASE}".encode())
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'postgres'").fetchone():
            conn.execute("CREATE ROLE postgres")  # the dump's OWNER TO statements name it
    env = {**os.environ, "PGPASSWORD": server.password, "PGSSLMODE": "prefer"}
    for name in ("pagila-schema.sql", "pagila-data.sql"):
        subprocess.run(
            [
                psql,
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                server.host,
                "-p",
                str(server.port),
                "-U",
                server.user,
                "-d",
                PAGILA_DATABASE,
                "-f",
                str(PAGILA / name),
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )
    with psycopg.connect(server.conninfo(dbname=PAGILA_DATABASE), autocommit=True) as conn:
        conn.execute("ANALYZE")
        rows = conn.execute(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
            "ORDER BY 1"
        ).fetchall()
    return [f"{PAGILA_DATABASE}.public.{r[0]}" for r in rows]


def time_planning(run: Any, repeat: int) -> Dict[str, Any]:
    """Median and minimum seconds of ``run()`` (plan and load all tables, no Spark action)."""
    run()  # warm-up
    seconds = []
    for _ in range(repeat):
        started = time.monotonic()
        run()
        seconds.append(time.monotonic() - started)
    return {"median_seconds": _round(_median(seconds)), "min_seconds": _round(min(seconds))}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.read_benchmark", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="table rows (5,000,000)")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="timed repetitions")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--tls", action="store_true", help="TLS on (verify-full) for every variant")
    parser.add_argument("--master", default="local[*]", help="Spark master (local[*])")
    parser.add_argument(
        "--driver-memory", default="1g", help="spark.driver.memory of both JVMs (Spark's 1g)"
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=VARIANTS[1:],
        help="leave a variant out (repeatable)",
    )
    add_chart_arguments(parser)
    parser.add_argument("--plain-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.plain_worker:
        return plain_worker()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    psql = shutil.which("psql")
    if psql is None:
        print("read_benchmark: psql is not on the PATH (needed for the floor)", file=sys.stderr)
        return 2

    from connectors.jdbc import DRIVER_CLASS
    from connectors.settings import load_settings
    from devtools.postgres_server import postgres_server
    from spark_jobs.engine.session import local_session
    from spark_jobs.read.api import plan_table, read_table, read_tables
    from spark_jobs.read.snapshots import consistent_snapshot

    variants = [v for v in VARIANTS if v not in args.skip]
    results = {v: VariantResult(v, DESCRIPTIONS[v]) for v in variants}
    ref = f"{CONNECTION}.public.{TABLE}"
    spark_conf = {"spark.ui.enabled": "false", "spark.driver.memory": args.driver_memory}

    with postgres_server(tls=args.tls) as server, tempfile.TemporaryDirectory() as tmp:
        print(
            f"PostgreSQL on {server.host}:{server.port} ({server.source}), "
            f"TLS {'on (verify-full)' if args.tls else 'off (sslmode=disable)'}; "
            f"building {args.rows:,} rows ...",
            flush=True,
        )
        table = build_table(server.conninfo(), args.rows)
        print(
            f"table {TABLE}: {table['pages']:,} pages, heap {table['heap_bytes'] / 2**20:.0f} MiB"
            f" (with index {table['total_bytes'] / 2**20:.0f} MiB), built in "
            f"{table['build_seconds']} s",
            flush=True,
        )
        wide_rows = max(1, args.rows // 5)
        wide = build_table(
            server.conninfo(), wide_rows, WIDE_TABLE, WIDE_CREATE_SQL, WIDE_INSERT_SQL
        )
        print(
            f"table {WIDE_TABLE}: {wide_rows:,} rows, 30 columns, {wide['pages']:,} pages, heap "
            f"{wide['heap_bytes'] / 2**20:.0f} MiB",
            flush=True,
        )
        pagila = load_pagila(server, psql)
        print(f"Pagila: {len(pagila)} tables", flush=True)
        settings_path = write_settings(
            server, Path(tmp), max_connections=8, extra_databases=[PAGILA_DATABASE]
        )
        settings = load_settings(str(settings_path))
        spark = local_session(
            settings, master=args.master, app_name="sparkpg-bench", conf=spark_conf
        )
        spark.sparkContext.setLogLevel("ERROR")
        pid = jvm_pid(spark)
        planned = plan_table(spark, settings, ref)
        partitions = max(1, len(planned.plan.predicates))
        wide_ref = f"{CONNECTION}.public.{WIDE_TABLE}"
        wide_partitions = max(1, len(plan_table(spark, settings, wide_ref).plan.predicates))
        url = planned.target.url
        props = {**planned.target.properties(binary_transfer=False), "driver": DRIVER_CLASS}
        report_versions = versions(spark, table["server_version"])
        low_high = (1, args.rows)  # a careful user knows (or queries) the key's bounds

        def sparkpg(engine: str, source: str = ref) -> None:
            df = read_table(spark, settings, source, engine=engine)
            df.write.format("noop").mode("overwrite").save()

        def sparkpg_in_snapshot() -> None:
            with consistent_snapshot(spark, settings, CONNECTION) as snap:
                df = read_table(spark, settings, ref, snapshot=snap)
                df.write.format("noop").mode("overwrite").save()

        def hand_tuned() -> None:
            df = spark.read.jdbc(
                url,
                TABLE,
                column="id",
                lowerBound=low_high[0],
                upperBound=low_high[1],
                numPartitions=partitions,
                properties={**props, "fetchsize": "10000"},
            )
            df.write.format("noop").mode("overwrite").save()

        in_process = {
            "sparkpg": lambda: sparkpg("copy"),
            "sparkpg-jdbc": lambda: sparkpg("jdbc"),
            "sparkpg-snapshot": sparkpg_in_snapshot,
            "wide-sparkpg": lambda: sparkpg("copy", wide_ref),
            "wide-sparkpg-jdbc": lambda: sparkpg("jdbc", wide_ref),
            "hand-tuned": hand_tuned,
        }

        # Row counts once, untimed: every variant reads the whole table.
        counted = read_table(spark, settings, ref).count()
        if counted != args.rows:
            print(f"read_benchmark: sparkpg read {counted} rows, not {args.rows}", file=sys.stderr)
            return 1

        worker: Optional[PlainWorker] = None
        if "plain" in variants:
            worker = PlainWorker(
                {
                    "master": args.master,
                    "conf": {**spark_conf, "spark.driver.extraJavaOptions": EXIT_ON_OOM},
                    "url": url,
                    "table": TABLE,
                    "properties": props,
                },
                Path(tmp) / "plain-worker.log",
            )

        postmaster = postmaster_pid(server)

        def run_one(name: str, record: bool) -> None:
            result = results[name]
            if result.error:
                return
            server_before = cpu_seconds(postmaster, children=True) if postmaster else None
            client_cpu: Optional[float] = None
            if name in ("floor", "wide-floor"):
                seconds, peak, errors, client_cpu = (
                    run_floor(server, table["pages"], partitions, psql)
                    if name == "floor"
                    else run_floor(server, wide["pages"], wide_partitions, psql, WIDE_TABLE)
                )
                if errors:
                    result.error = errors[0][:300]
                    return
            elif name == "plain":
                assert worker is not None
                answer = worker.run(PLAIN_TIMEOUT_SECONDS)
                if "error" in answer:
                    result.error = answer["error"] + (
                        "" if record else " (in the warm-up run; not retried)"
                    )
                    return
                seconds, peak = answer["seconds"], answer.get("peak_rss_kib")
                client_cpu = answer.get("cpu_seconds")
            else:
                reset_peak_rss(pid)
                cpu_before, threads_before = cpu_seconds(pid), thread_cpu_ticks(pid)
                started = time.monotonic()
                try:
                    in_process[name]()
                except Exception as exc:
                    result.error = short_error(exc)
                    return
                seconds, peak = time.monotonic() - started, peak_rss_kib(pid)
                cpu_after = cpu_seconds(pid)
                if cpu_before is not None and cpu_after is not None:
                    client_cpu = cpu_after - cpu_before
                groups = group_cpu_seconds(threads_before, thread_cpu_ticks(pid))
                if record:
                    result.task_cpu.append(groups["task"])
                    result.jit_cpu.append(groups["jit"])
            result.add_peak(peak)
            server_cpu: Optional[float] = None
            if server_before is not None and postmaster:
                time.sleep(0.3)  # let the postmaster reap the read's backends
                after = cpu_seconds(postmaster, children=True)
                server_cpu = None if after is None else after - server_before
            if record:
                result.seconds.append(seconds)
                if client_cpu is not None:
                    result.client_cpu.append(client_cpu)
                if server_cpu is not None:
                    result.server_cpu.append(server_cpu)
            cpu_text = "" if client_cpu is None else f" (client CPU {client_cpu:.2f} s"
            if cpu_text and server_cpu is not None:
                cpu_text += f", server CPU {server_cpu:.2f} s"
            print(
                f"  {'run ' if record else 'warm-up '}{name}: {seconds:.2f} s"
                f"{cpu_text}{')' if cpu_text else ''}",
                flush=True,
            )

        try:
            for name in variants:
                run_one(name, record=False)
            for rep in range(args.repeat):
                print(f"repetition {rep + 1}/{args.repeat}", flush=True)
                for name in rotated(variants, rep):
                    run_one(name, record=True)
        finally:
            if worker is not None:
                worker.close()
                if results["plain"].error is None:
                    results["plain"].note = "own JVM (worker process), same driver memory"
        results["floor"].note = f"{partitions} streams; peak RSS is one psql process's"
        if "wide-floor" in results:
            results["wide-floor"].note = f"{wide_partitions} streams"

        def plan_pagila() -> None:
            loaded = read_tables(spark, settings, pagila, register_views=False)
            assert len(loaded) == len(pagila)

        planning = {
            "tables": len(pagila),
            **time_planning(plan_pagila, args.repeat),
            "what": "read_tables of every Pagila table (plan + lazy load, no Spark action)",
        }
        print(f"planning {len(pagila)} Pagila tables: {planning['median_seconds']} s", flush=True)
        spark.stop()

    records = summarise([results[v] for v in variants], args.rows, wide_rows)
    report = {
        "benchmark": "read",
        "date": datetime.date.today().isoformat(),
        "rows": args.rows,
        "repeat": args.repeat,
        "command": "python -m benchmarks.read_benchmark " + " ".join(argv or sys.argv[1:]),
        "tls": args.tls,
        "table": table,
        "wide_table": wide,
        "planning": planning,
        "plan": {
            "strategy": planned.plan.strategy,
            "partitions": partitions,
            "reason": planned.plan.reason,
            "fetch_size": planned.fetch_size,
            "binary_transfer": planned.binary_transfer,
        },
        "machine": machine(),
        "spark": {"master": args.master, "driver_memory": args.driver_memory},
        "versions": report_versions,
        "variants": records,
    }
    print()
    print(format_report(report))
    publish(report, args.json, args.chart, args.chart_with)
    return 0


def format_report(report: Dict[str, Any]) -> str:
    """The printed report: table, plan, versions, machine."""
    plan = report["plan"]
    table = report["table"]
    return "\n".join(
        [
            format_table(report["variants"]),
            "",
            *(
                [
                    f"planning {report['planning']['tables']} Pagila tables (read_tables, no "
                    f"action): median {report['planning']['median_seconds']} s"
                ]
                if "planning" in report
                else []
            ),
            f"table: {report['rows']:,} rows, {table['pages']:,} pages "
            f"({table['heap_bytes'] / 2**20:.0f} MiB heap); TLS {'on' if report['tls'] else 'off'}",
            f"sparkpg plan: {plan['strategy']}, {plan['partitions']} partitions, fetch size "
            f"{plan['fetch_size']:,}, binary transfer {'on' if plan['binary_transfer'] else 'off'}"
            f" ({plan['reason']})",
            *setting_lines(report),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
