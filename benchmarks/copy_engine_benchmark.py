"""A quick measurement (not a test) of the COPY engine against today's JDBC engine.

Run ``python -m benchmarks.copy_engine_benchmark [--rows 5000000] [--repeat 3]`` after
``make jvm``. It builds ``benchmarks.read_benchmark``'s table in a throwaway PostgreSQL (TLS off),
plans it once with ``plan_table`` (the planner's partitions), and times, materialised with Spark's
``noop`` sink, interleaved, medians of ``--repeat`` runs after one warm-up:

- ``floor``: the concurrent binary ``COPY`` streams through psql to /dev/null;
- ``jdbc-engine``: ``read_table`` with defaults (counting on);
- ``copy-engine``: the same plan (partition predicates, type policy) through
  :func:`spark_jobs.copy_engine.copy_read` (counting on).

Client CPU is the Spark JVM's (or psql's), server CPU the postmaster's reaped backends.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from benchmarks.read_benchmark import (
    CONNECTION,
    TABLE,
    build_table,
    cpu_seconds,
    jvm_pid,
    postmaster_pid,
    run_floor,
    write_settings,
)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import psycopg

    from connectors.settings import load_settings
    from devtools.postgres_server import postgres_server
    from spark_jobs.copy_engine import copy_read, engine_columns
    from spark_jobs.reader import (
        CTID_ALIAS,
        KEY_ALIAS,
        PARTITION_SESSION_SETTINGS,
        plan_table,
        read_table,
    )
    from spark_jobs.session import local_session
    from spark_jobs.types import describe_source, plan_columns

    psql = shutil.which("psql")
    assert psql is not None, "psql is needed for the floor"
    with postgres_server(tls=False) as server, tempfile.TemporaryDirectory() as tmp:
        table = build_table(server.conninfo(), args.rows)
        settings = load_settings(str(write_settings(server, Path(tmp), max_connections=8)))
        spark = local_session(
            settings, app_name="copy-engine-bench", conf={"spark.ui.enabled": "false"}
        )
        spark.sparkContext.setLogLevel("ERROR")
        ref = f"{CONNECTION}.public.{TABLE}"
        planned = plan_table(spark, settings, ref)
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            pg_columns = describe_source(
                lambda q, p: conn.execute(q).fetchall(), f'"public"."{TABLE}"'
            )
        columns = engine_columns(pg_columns, plan_columns(pg_columns))
        # The planner's predicates name the key / ctid aliases of its dbtable: the same here.
        source = (
            f'(SELECT t.*, t."id" AS "{KEY_ALIAS}", t.ctid AS "{CTID_ALIAS}" '
            f'FROM "public"."{TABLE}" t) AS q'
        )
        streams = max(1, len(planned.plan.predicates))

        def jdbc_engine() -> None:
            read_table(spark, settings, ref).write.format("noop").mode("overwrite").save()

        def copy_engine() -> None:
            df, counts = copy_read(
                spark,
                url=planned.target.url,
                properties=planned.target.properties(),
                source_sql=source,
                columns=columns,
                predicates=planned.plan.predicates,
                session_statements=[PARTITION_SESSION_SETTINGS],
                label=ref,
            )
            df.write.format("noop").mode("overwrite").save()
            assert counts.counts() == {"amount": 0, "created_at": 0, "day": 0}, counts.counts()

        pid, postmaster = jvm_pid(spark), postmaster_pid(server)
        results: Dict[str, List[Tuple[float, float, float]]] = {}

        def server_cpu() -> float:
            return (cpu_seconds(postmaster, children=True) or 0.0) if postmaster else 0.0

        def in_jvm(run: Callable[[], None]) -> Callable[[], float]:
            def timed() -> float:
                before = cpu_seconds(pid) or 0.0
                run()
                return (cpu_seconds(pid) or 0.0) - before

            return timed

        def floor() -> float:
            return run_floor(server, table["pages"], streams, psql)[3]

        variants: List[Tuple[str, Callable[[], float]]] = [
            ("floor", floor),
            ("jdbc-engine", in_jvm(jdbc_engine)),
            ("copy-engine", in_jvm(copy_engine)),
        ]
        for _, run in variants:  # warm-up
            run()
        for i in range(args.repeat):
            for name, run in variants[i % 3 :] + variants[: i % 3]:
                server0, started = server_cpu(), time.monotonic()
                client = run()  # client CPU seconds
                wall = time.monotonic() - started
                results.setdefault(name, []).append((wall, client, server_cpu() - server0))
        spark.stop()

    floor_wall = statistics.median(r[0] for r in results["floor"])
    print(f"{args.rows:,} rows, {streams} partitions, medians of {args.repeat}")
    print(f"{'variant':<12} {'wall s':>7} {'x floor':>8} {'client CPU s':>13} {'server CPU s':>13}")
    for name, _ in variants:
        wall, client, backends = (statistics.median(r[k] for r in results[name]) for k in range(3))
        print(f"{name:<12} {wall:7.2f} {wall / floor_wall:8.2f} {client:13.2f} {backends:13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
