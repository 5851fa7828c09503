"""What more than one benchmark runs: timed psql processes, short error texts, versions, machine.

The read benchmark's floor (``read_benchmark.run_floor``) and the pushdown benchmark's ``psql``
variant both start psql processes against the throwaway server and time them with the CPU of
every psql (``os.wait4``); the environment that points psql at the server is built here once.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from benchmarks.chart import redraw


def psql_env(server: Any) -> Dict[str, str]:
    """This process's environment plus the ``PG*`` variables that point psql at ``server``
    (TLS ``verify-full`` when the server has a CA certificate, otherwise ``disable``)."""
    env = dict(os.environ)
    env.update(
        PGHOST=server.host,
        PGPORT=str(server.port),
        PGUSER=server.user,
        PGPASSWORD=server.password,
        PGDATABASE=server.database,
        PGSSLMODE="verify-full" if server.ca_cert_path else "disable",
    )
    if server.ca_cert_path:
        env["PGSSLROOTCERT"] = str(server.ca_cert_path)
    return env


def psql_command(psql: str, sql: str, *extra: str) -> List[str]:
    """psql running one statement: no ``.psqlrc``, quiet, stopping at the first error.

    >>> psql_command("psql", "SELECT 1", "-A")
    ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-A', '-c', 'SELECT 1']
    """
    return [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", *extra, "-c", sql]


@dataclass
class PsqlRun:
    """Concurrent psql processes, timed from the first start to the last exit."""

    seconds: float
    cpu_seconds: float
    """User + system CPU of every psql process (``ru_utime + ru_stime``)."""
    peak_rss_kib: Optional[int] = None
    """The largest psql's ``ru_maxrss``."""
    errors: List[str] = field(default_factory=list)


def run_psql(commands: Sequence[Sequence[str]], env: Dict[str, str]) -> PsqlRun:
    """Start ``commands`` (psql command lines) together, output to /dev/null, and wait for all."""
    started = time.monotonic()
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for cmd in commands
    ]
    peak: Optional[int] = None
    errors: List[str] = []
    cpu = 0.0
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = max(peak or 0, int(usage.ru_maxrss))
        cpu += usage.ru_utime + usage.ru_stime
        if proc.returncode != 0:
            assert proc.stderr is not None
            errors.append(proc.stderr.read().decode(errors="replace").strip())
    elapsed = time.monotonic() - started
    for proc in procs:
        if proc.stderr is not None:
            proc.stderr.close()
    return PsqlRun(elapsed, cpu, peak, errors)


def short_error(exc: BaseException) -> str:
    """One line of an exception's text for a report: the out-of-memory or SQL error in it if
    there is one, otherwise its first line (at most 200 characters).

    >>> short_error(RuntimeError("An error occurred: java.lang.OutOfMemoryError: Java heap space"))
    'An error occurred: java.lang.OutOfMemoryError: Java heap space'
    """
    text = str(exc)
    for marker in ("OutOfMemoryError", "GC overhead limit exceeded", "SQLException"):
        if marker in text:
            start = text.index(marker)
            return text[max(0, start - 40) : start + 160].splitlines()[0]
    return (text.strip().splitlines() or [type(exc).__name__])[0][:200]


def machine() -> Dict[str, Any]:
    """The machine a report was measured on: CPU count, platform, load average at the end."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def versions(spark: Any, server_version: str) -> Dict[str, str]:
    """Spark's, pgjdbc's (from the session's JVM), PostgreSQL's, Java's and Python's versions."""
    jvm = spark.sparkContext._jvm
    return {
        "spark": spark.version,
        "pgjdbc": str(jvm.org.postgresql.Driver.getVersion()),
        "postgresql": server_version,
        "java": str(jvm.java.lang.System.getProperty("java.version")),
        "python": platform.python_version(),
    }


def setting_lines(report: Mapping[str, Any]) -> List[str]:
    """The last lines of a printed report: the versions, the machine and the Spark session."""
    v = report["versions"]
    m = report["machine"]
    return [
        f"versions: Spark {v['spark']}, {v['pgjdbc']}, PostgreSQL {v['postgresql']}, "
        f"Java {v['java']}, Python {v['python']}",
        f"machine: {m['cpus']} CPUs, {m['platform']}, load average at the end "
        f"{' '.join(str(x) for x in m['load_average'])}; Spark {report['spark']['master']}, "
        f"driver memory {report['spark']['driver_memory']}; median of {report['repeat']}",
    ]


def publish(
    report: Mapping[str, Any],
    json_path: Optional[Path],
    chart: Optional[Path],
    chart_with: Sequence[Path],
) -> None:
    """Write the report's JSON and redraw the chart with it, as asked, saying where each went."""
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwritten to {json_path}")
    if chart:
        redraw(chart, report, chart_with)
        print(f"chart drawn in {chart}")
