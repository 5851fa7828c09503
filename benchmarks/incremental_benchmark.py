"""Incremental benchmark: a table with 1% of its rows changed since the last run,
read incrementally by each method against a full read, in one run, as ratios.

    python -m benchmarks.incremental_benchmark [--rows 5000000] [--repeat 3]

A throwaway PostgreSQL (devtools.postgres_server, TLS off) and one ``local[2]`` Spark. The read
benchmark's table (``benchmarks/read_benchmark.py``) gets an ``updated_at`` cursor column with an
index; each method's first run records its state; then 1% of the rows are updated (``updated_at
= now()``). Timed, interleaved, ``--repeat`` times after one warm-up, each into Spark's ``noop``
sink: ``full`` (``read_table``), ``snapshot`` and ``cursor`` (``read_changes`` from the recorded
states; the states are not advanced, so every repetition reads the same changes). Reported per
variant: median wall seconds, client CPU (the Spark JVM), server CPU (the postmaster's
children), rows transferred, and each as a ratio to ``full``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from benchmarks.read_benchmark import TABLE, build_table, jvm_pid, postmaster_pid, write_settings
from benchmarks.write_benchmark import cpu_now

VARIANTS = ("full", "snapshot", "cursor")
CHANGED_EVERY = 100  # 1% of the rows


def ratios(medians: Dict[str, Dict[str, float]]) -> Dict[str, Dict[str, Optional[float]]]:
    """Each variant's measures over ``full``'s (None where ``full``'s is 0).

    >>> ratios({"full": {"wall": 10.0, "rows": 100}, "cursor": {"wall": 1.0, "rows": 1}})["cursor"]
    {'wall': 0.1, 'rows': 0.01}
    """
    full = medians["full"]
    return {
        name: {k: round(v / full[k], 3) if full[k] else None for k, v in values.items()}
        for name, values in medians.items()
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/incremental_benchmark.json")
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    import psycopg

    from connectors.settings import load_settings
    from devtools.postgres_server import postgres_server
    from spark_jobs.engine.session import local_session
    from spark_jobs.read.api import read_table
    from spark_jobs.read.incremental import read_changes

    with postgres_server(tls=False) as server, tempfile.TemporaryDirectory() as tmp:
        conninfo = server.conninfo()
        stats = build_table(conninfo, args.rows)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                f"ALTER TABLE {TABLE} ADD COLUMN updated_at timestamptz NOT NULL "
                "DEFAULT '2020-01-01 00:00:00+00'"
            )
            conn.execute(f"ALTER TABLE {TABLE} ALTER COLUMN updated_at SET DEFAULT now()")
            conn.execute(f"CREATE INDEX ON {TABLE} (updated_at)")
        settings = load_settings(str(write_settings(server, Path(tmp), 2)))
        spark = local_session(
            master="local[2]",
            app_name="sparkpg-incremental-bench",
            conf={"spark.ui.enabled": "false"},
        )
        spark.sparkContext.setLogLevel("ERROR")
        ref = f"bench.public.{TABLE}"
        states: Dict[str, Any] = {}
        for method, cursor in (("snapshot", None), ("cursor", "updated_at")):
            with read_changes(spark, settings, ref, cursor=cursor) as first:
                first.dataframe.write.format("noop").mode("overwrite").save()
            states[method] = first.state
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                f"UPDATE {TABLE} SET quantity = quantity + 1, updated_at = now() "
                f"WHERE id % {CHANGED_EVERY} = 0"
            )
            conn.execute(f"VACUUM ANALYZE {TABLE}")

        def run(variant: str) -> int:
            if variant == "full":
                df = read_table(spark, settings, ref)
                return _noop_count(df)
            cursor = "updated_at" if variant == "cursor" else None
            with read_changes(spark, settings, ref, states[variant], cursor=cursor) as changes:
                return _noop_count(changes.dataframe)

        postmaster, jvm = postmaster_pid(server), jvm_pid(spark)
        samples: Dict[str, List[Dict[str, float]]] = {v: [] for v in VARIANTS}
        for repetition in range(args.repeat + 1):
            for variant in VARIANTS[repetition % 3 :] + VARIANTS[: repetition % 3]:
                server_cpu, client_cpu = cpu_now(postmaster, jvm)
                started = time.monotonic()
                rows = run(variant)
                wall = time.monotonic() - started
                server_after, client_after = cpu_now(postmaster, jvm)
                if repetition:  # the first round warms up
                    samples[variant].append(
                        {
                            "wall": wall,
                            "client_cpu": client_after - client_cpu,
                            "server_cpu": server_after - server_cpu,
                            "rows": rows,
                        }
                    )
        spark.stop()
    medians = {
        v: {k: statistics.median(s[k] for s in samples[v]) for k in samples[v][0]} for v in VARIANTS
    }
    report = {"table": stats, "changed_every": CHANGED_EVERY, "repeat": args.repeat}
    report.update(medians=medians, ratios_to_full=ratios(medians))
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _noop_count(df: Any) -> int:
    """Rows read, counted while Spark writes them to its ``noop`` sink (one pass)."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    observation = Observation("bench_rows")
    df.observe(observation, F.count(F.lit(1)).alias("rows")).write.format("noop").mode(
        "overwrite"
    ).save()
    return int(observation.get["rows"])


if __name__ == "__main__":
    sys.exit(main())
