"""Limit pushdown, no backend left after a finished or cancelled task, no secret anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, List

import pytest

from tests import REPO

from .conftest import APPLICATION, PASSWORD, EngineDb


@pytest.fixture(scope="module")
def big(engine_db: EngineDb) -> EngineDb:
    engine_db.execute("DROP TABLE IF EXISTS big")
    engine_db.execute(
        "CREATE UNLOGGED TABLE big AS SELECT g AS id, md5(g::text) AS t "
        "FROM generate_series(1, 1000000) g"
    )
    engine_db.execute("ANALYZE big")
    return engine_db


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def active_backends(db: EngineDb) -> List[Any]:
    return [r for r in db.our_backends() if "pg_stat_activity" not in str(r[1])]


def test_limit_is_pushed_and_reads_only_the_limit(spark: Any, big: EngineDb) -> None:
    df, _ = big.read(spark, '"public"."big"', predicates=["id <= 500000", "id > 500000"])
    limited = df.limit(10)
    rows = limited.collect()
    plan = limited._jdf.queryExecution().executedPlan()
    assert len(rows) == 10 and "PushedLimit: 10" in plan.toString()
    # What the scan produced, from its metrics: at most the limit per partition, not 1M rows.
    scan = plan.collectLeaves().apply(0)
    assert scan.metrics().apply("numOutputRows").value() <= 2 * 10
    assert wait_for(lambda: not active_backends(big), 30)


def test_a_task_that_stops_early_cancels_its_copy(spark: Any, big: EngineDb) -> None:
    """LIKE is not pushed, so neither is the limit: Spark stops reading after the first match
    and the reader's close() cancels the COPY that is still streaming."""
    df, _ = big.read(spark, '"public"."big"')
    limited = df.where("t LIKE '%abc%'").limit(1)
    assert "PushedLimit" not in limited._jdf.queryExecution().executedPlan().toString()
    assert len(limited.collect()) == 1
    # The COPY that was still streaming is cancelled: no backend of ours goes on reading.
    assert wait_for(lambda: not active_backends(big), 30), active_backends(big)


def test_a_cancelled_job_leaves_no_backend(spark: Any, engine_db: EngineDb) -> None:
    from pyspark import InheritableThread

    # generate_series materializes its rows first: the task waits for the server, no row comes
    slow = (
        "(SELECT g AS id FROM generate_series(1, 100000000) g "
        "WHERE pg_catalog.pg_sleep(0.001) IS NOT NULL) AS slow"
    )
    df, _ = engine_db.read(spark, slow)
    errors: List[BaseException] = []

    def run() -> None:
        spark.sparkContext.setJobGroup("engine-cancel", "cancelled on purpose", True)
        try:
            df.count()
        except BaseException as exc:  # the cancellation is the point
            errors.append(exc)

    thread = InheritableThread(target=run)
    thread.start()
    try:
        assert wait_for(lambda: bool(active_backends(engine_db)), 30), "the COPY never started"
    finally:
        spark.sparkContext.cancelJobGroup("engine-cancel")
    thread.join(60)
    assert not thread.is_alive()
    assert errors and "cancel" in str(errors[0]).lower()
    assert wait_for(lambda: not active_backends(engine_db), 10), active_backends(engine_db)


def test_connection_options_reach_the_partition_connection(spark: Any, engine_db: EngineDb) -> None:
    """ApplicationName, TLS and readOnly of the URL, and the session statements, all apply."""
    df, _ = engine_db.read(
        spark,
        "(SELECT current_setting('application_name') AS app, "
        "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())::text AS ssl, "
        "current_setting('transaction_read_only') AS ro, current_setting('jit') AS jit, "
        "current_setting('transaction_isolation') AS iso) AS q",
        session_statements=[
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            "SET LOCAL jit = off",
        ],
    )
    row = df.collect()[0]
    ssl = "true" if engine_db.target.url.find("sslmode=verify-full") >= 0 else "false"
    assert row.asDict() == {
        "app": APPLICATION, "ssl": ssl, "ro": "on", "jit": "off", "iso": "repeatable read"
    }  # fmt: skip


def plan_texts(spark: Any, df: Any, capsys: Any) -> List[str]:
    for mode in ("simple", "extended", "codegen", "cost", "formatted"):
        df.explain(mode)
    return [
        capsys.readouterr().out,
        str(df._jdf.queryExecution().toString()),
        str(df._jdf.queryExecution().executedPlan().toString()),
        str(df._jdf.queryExecution().logical().toJSON()),
        str(df._jdf.queryExecution().optimizedPlan().toJSON()),
        str(df.rdd.toDebugString()),
        str(spark.sparkContext.getConf().getAll()),
    ]


def test_no_secret_in_plans_errors_or_reprs(spark: Any, engine_db: EngineDb, capsys: Any) -> None:
    df, counts = engine_db.read(spark, "(SELECT 1 AS x) AS q")
    filtered = df.where("x > 0")
    texts = plan_texts(spark, filtered, capsys)
    assert filtered.count() == 1
    texts += [repr(counts), repr(df)]
    bad, _ = engine_db.read(spark, "(SELECT 1 AS x) AS q", predicates=["no_such_column > 0"])
    with pytest.raises(Exception) as missing:
        bad.collect()
    texts.append(str(missing.value))
    assert "no_such_column" in texts[-1]
    assert "sparkpg_copy" in texts[0]  # the plans were really rendered
    for text in texts:
        assert PASSWORD not in text
        assert "s3cr" not in text


EVENT_LOG_JOB = """
import json, sys
from spark_jobs.read.copy_columns import EngineColumn
from spark_jobs.read.copy_engine import copy_read
from spark_jobs.engine.session import local_session
args = json.load(open(sys.argv[1]))
spark = local_session(master="local[2]", conf={"spark.eventLog.enabled": "true",
                      "spark.eventLog.dir": args["dir"], "spark.ui.enabled": "true",
                      "spark.ui.port": "0", "spark.eventLog.compress": "false"})
df, counts = copy_read(spark, url=args["url"], properties=args["properties"],
                       source_sql="(SELECT g AS x FROM generate_series(1, 100) g) AS q",
                       columns=[EngineColumn("x", "int4", '"x"', "ordering")], label="q",
                       predicates=["x <= 50", "x > 50"])
assert df.where("x > 10").count() == 90
df.explain("formatted")
try:
    copy_read(spark, url=args["url"], properties=args["properties"], source_sql="nowhere",
              columns=[EngineColumn("x", "int4", '"x"')], label="nowhere")[0].collect()
except Exception as exc:
    print("expected failure:", type(exc).__name__)
spark.stop()
"""


@pytest.mark.slow
def test_no_secret_in_the_event_log(engine_db: EngineDb, tmp_path: Path) -> None:
    """A dedicated session with the event log on (and the UI): plans, SQL executions, task
    metrics and a failing job are logged, the password is not."""
    logs = tmp_path / "events"
    logs.mkdir()
    args = tmp_path / "args.json"
    args.write_text(
        json.dumps(
            {
                "dir": str(logs),
                "url": engine_db.target.url,
                "properties": engine_db.target.properties(),
            }
        )
    )
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "TZ": "UTC"}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(EVENT_LOG_JOB), str(args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    args.unlink()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "expected failure" in result.stdout
    # Spark 4 writes rolling event logs (a directory per application); uncompressed above
    logged = "".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file())
    assert "sparkpg_copy" in logged and "SparkListenerSQLExecutionStart" in logged
    for text in (logged, result.stdout, result.stderr):
        assert PASSWORD not in text
        assert "s3cr" not in text
