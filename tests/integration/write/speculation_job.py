"""Writes whose partition 0 gets a speculative copy, on a two-host standalone cluster in this
process's JVM. Run by test_write_speculation.py::

    python -m tests.integration.write.speculation_job SETTINGS JDBC_JAR WORKDIR WARM TABLE...

(``WARM`` gets a first write without gates, then one table per entry of :data:`SCENARIOS`, in
order; the superuser conninfo comes in the environment variable :data:`ADMIN_ENV`).

Why not ``local[N]`` or ``local-cluster[2,1,1024]``: local mode never speculates, and Spark never
launches a speculative copy on a host where the task already has an attempt
(``TaskSetManager.dequeueTaskFromList``: ``!(speculative && hasAttemptOnHost(index, host))``),
while local-cluster's workers all register under one host name. So this job does what
local-cluster does (a master and two one-core workers in the driver's JVM, executors in their own
processes) with two host names for the loopback address, ``localhost`` and ``127.0.0.1``.

Each write sends :data:`ROWS` rows ``(id, payload)`` in two partitions, in chunks of
:data:`CHUNK_BYTES` (so an attempt commits chunks into the staging table while it streams, and
the driver moves the first attempt's chunks while the tasks run). The gate is the Python UDF
that computes ``payload``: it holds partition 0's attempts at the partition's last row (attempt
0 streams first, so its chunks are the ones moved while the tasks run). No fixed sleeps:

- ``slow``: attempt 0 waits there until Spark kills it (at most :data:`WAIT_S`); Spark runs a
  speculative attempt 1 on the other executor, which commits.
- ``copy-wins`` and ``original-wins``: attempts 0 and 1 wait there until both have at least
  :data:`STREAMED` rows committed in the staging table; then the winner (attempt 1, attempt 0)
  goes on and commits, and the other goes on once the winner's rows are all in the staging
  table, and is denied the commit or killed.
- ``wedged``: attempt 0 waits there until it has :data:`STREAMED` rows committed in the staging
  table (its next chunk's COPY is open, holding its lock), then stops its executor's JVM
  (SIGSTOP: a hung executor keeps its connections); attempt 1 waits there for that, then wins
  (so the order does not depend on how fast attempt 0 stages). The driver gives the write
  :data:`WAIT_S`, records whether it returned while the executor was still stopped
  (``wedged-returned.json``), and resumes the executor in any case.

Each attempt writes a marker file (``<scenario>-p<partition>-a<attempt>.json``) as it starts;
the winner of a two-attempt scenario writes ``<scenario>-staged.json`` (each attempt's rows in
the staging table when it went on). The event log (``WORKDIR/events``) records every task attempt.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from pyspark import InheritableThread, SparkConf, SparkContext, TaskContext
from pyspark.sql.functions import col, udf
from pyspark.sql.types import StringType

from connectors.settings import load_settings
from spark_jobs.engine.session import ENGINE_JAR, UTC_JAVA_OPTION, local_session
from spark_jobs.write.api import write_table
from spark_jobs.write.contract import CHUNK_BYTES_CONF
from spark_jobs.write.staging import CHUNK_SUFFIX, STAGING_PREFIX

ADMIN_ENV = "SPARKPG_TEST_ADMIN_CONNINFO"
ROWS = 10_000
PARTITION_ROWS = ROWS // 2  # partition 0 holds ids 0 .. PARTITION_ROWS - 1
CHUNK_BYTES = 64 * 1024  # about 300 rows: some 16 chunks per attempt
STREAMED = PARTITION_ROWS * 3 // 4
"""Rows each two-attempt scenario's attempts must have committed in the staging table before
either commits: all but what sits in the buffers between the UDF and the server (Python's
64 KiB output buffer, the chunk being sent)."""
#: The winning attempt of partition 0, by scenario (run in this order: ``wedged`` stops an
#: executor for a while).
SCENARIOS: Dict[str, int] = {"slow": 1, "copy-wins": 1, "original-wins": 0, "wedged": 1}
BOTH_STAGED = ("copy-wins", "original-wins")
CHUNK_BITS = 20  # a staging tag is (task attempt id << 20) | chunk (AttemptCommitted.java)
WAIT_S = 45.0
WORKER_HOSTS = ("localhost", "127.0.0.1")
SPECULATION_CONF = {
    "spark.speculation": "true",
    "spark.speculation.interval": "100ms",
    "spark.speculation.quantile": "0.1",
    "spark.speculation.multiplier": "1.5",
    "spark.speculation.minTaskRuntime": "200ms",
    "spark.task.maxFailures": "1",  # a gate that times out fails the job (no silent retry)
}


def payload_of(value: int) -> str:
    """The payload of row ``id``; in SQL: ``repeat(md5(id::text), 6)``."""
    return hashlib.md5(str(value).encode()).hexdigest() * 6


def make_gate(scenario: str, markers: Path, conninfo: str) -> Callable[[int], str]:
    """The payload UDF of ``scenario``, gating partition 0's attempts at its last row."""
    winner = SCENARIOS[scenario]
    started: set = set()  # per deserialization, that is per task attempt

    def marker(name: str, data: Dict[str, Any]) -> None:
        path = markers / f"{scenario}-{name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)

    def read_marker(name: str) -> Any:
        path = markers / f"{scenario}-{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def wait_for(what: str, condition: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.05)
        raise RuntimeError(f"speculation gate ({scenario}): no {what} within {WAIT_S:.0f} s")

    def query(sql: str, params: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(conninfo, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]  # type: ignore[arg-type]

    def staged_by_task_attempt() -> Dict[int, int]:
        """Task attempt id -> its rows committed in the chunk tables (``<staging>_t<tag>``)."""
        import psycopg

        chunks = query(
            "SELECT oid::regclass::text, substring(relname FROM %s)::bigint FROM pg_class "
            "WHERE relkind = 'r' AND starts_with(relname, %s) AND relname ~ %s",
            (f"{CHUNK_SUFFIX}([0-9]+)$", STAGING_PREFIX, f"{CHUNK_SUFFIX}[0-9]+$"),
        )
        rows: Dict[int, int] = {}
        try:
            for table, tag in chunks:
                count = query(f"SELECT count(*) FROM {table}")[0][0]
                rows[tag >> CHUNK_BITS] = rows.get(tag >> CHUNK_BITS, 0) + int(count)
        except psycopg.errors.UndefinedTable:  # dropped: the write is over
            return {}
        return rows

    def staged() -> Dict[int, int]:
        """Partition 0's attempt number -> its rows committed in the staging table."""
        ids = [read_marker(f"p0-a{attempt}") for attempt in (0, 1)]
        if None in ids:
            return {}
        rows = staged_by_task_attempt()
        return {a: rows.get(ids[a]["task_attempt_id"], 0) for a in (0, 1)}

    def both_staged() -> Dict[int, int]:
        rows = staged()
        return rows if rows and min(rows.values()) >= STREAMED else {}

    def gate(value: int) -> str:
        context = TaskContext.get()
        assert context is not None
        partition, attempt = context.partitionId(), context.attemptNumber()
        if attempt not in started:
            started.add(attempt)
            marker(
                f"p{partition}-a{attempt}",
                {"task_attempt_id": context.taskAttemptId(), "stage": context.stageId()},
            )
        if partition == 0 and value == PARTITION_ROWS - 1:
            if scenario == "wedged" and attempt == 0:
                own = context.taskAttemptId()
                wait_for(
                    "own rows staged", lambda: staged_by_task_attempt().get(own, 0) >= STREAMED
                )
                executor = executor_pid()
                marker("stopped", {"executor_pid": executor})
                os.kill(executor, signal.SIGSTOP)
            if scenario in ("slow", "wedged") and attempt == 0:
                wait_for(
                    "speculative attempt that wins (this attempt was not killed)", lambda: None
                )
            elif scenario == "wedged":  # the copy wins only once the original is stopped
                wait_for("the original's executor stopped", lambda: read_marker("stopped"))
            elif scenario in BOTH_STAGED and winner == attempt:
                marker("staged", wait_for("rows of both attempts staged", both_staged))
            elif scenario in BOTH_STAGED:
                wait_for("rows of both attempts staged", both_staged)
                wait_for("winner's rows all staged", lambda: staged().get(winner) == PARTITION_ROWS)
        return payload_of(value)

    return gate


def executor_pid() -> int:
    """The pid of the executor JVM running this Python worker (its parent is pyspark's daemon,
    whose parent is the JVM)."""
    with open(f"/proc/{os.getppid()}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def is_stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


def write_past_a_stopped_executor(df: Any, settings: Any, table: str, markers: Path) -> None:
    """``write_table`` with at most :data:`WAIT_S` for it to return; records whether it returned
    while the executor the gate stopped was still stopped, then resumes that executor."""
    failures: List[BaseException] = []

    def write() -> None:
        try:
            write_table(df, settings, table)
        except BaseException as exc:  # re-raised below
            failures.append(exc)

    thread = InheritableThread(target=write, daemon=True)  # with the job group
    thread.start()
    stopped = markers / "wedged-stopped.json"
    try:
        thread.join(WAIT_S)
        executor = json.loads(stopped.read_text())["executor_pid"] if stopped.exists() else None
        (markers / "wedged-returned.json").write_text(
            json.dumps(
                {
                    "returned": not thread.is_alive(),
                    "executor_stopped": executor is not None and is_stopped(executor),
                }
            )
        )
    finally:
        if stopped.exists():
            os.kill(json.loads(stopped.read_text())["executor_pid"], signal.SIGCONT)
    thread.join(WAIT_S)
    if thread.is_alive():
        raise RuntimeError(f"the write to {table} still runs after the executor resumed")
    if failures:
        raise failures[0]


def start_cluster(workdir: Path) -> Tuple[str, List[Any]]:
    """A master and one one-core worker per :data:`WORKER_HOSTS` in this process's JVM (started
    before the SparkContext); returns the master URL and the RPC environments to shut down."""
    jvm = SparkContext._jvm
    gateway = SparkContext._gateway
    assert jvm is not None and gateway is not None
    conf = jvm.org.apache.spark.SparkConf(False)
    conf.set("spark.master.rest.enabled", "false")
    conf.set("spark.shuffle.service.enabled", "false")
    master = jvm.org.apache.spark.deploy.master.Master.startRpcEnvAndEndpoint(
        "127.0.0.1", 0, 0, conf
    )._1()
    url = f"spark://{master.address().hostPort()}"
    environments = [master]
    for number, host in enumerate(WORKER_HOSTS, 1):
        masters = gateway.new_array(jvm.java.lang.String, 1)
        masters[0] = url
        work = workdir / f"worker-{number}"
        work.mkdir(parents=True, exist_ok=True)
        environments.append(
            jvm.org.apache.spark.deploy.worker.Worker.startRpcEnvAndEndpoint(
                host, 0, 0, 1, 1024, masters, str(work), jvm.scala.Some(number), conf,
                jvm.scala.Option.empty(),
            )
        )  # fmt: skip
    return url, environments


def wait_for_executors(spark: Any, count: int) -> None:
    """Wait (bounded) until ``count`` executors have registered."""
    deadline = time.monotonic() + 60
    status = spark.sparkContext._jsc.sc().getExecutorMemoryStatus
    while status().size() < count + 1:  # the driver's block manager is in it too
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} executors registered within 60 s")
        time.sleep(0.1)


def wait_for_attempts_to_end(spark: Any, group: str) -> None:
    """Wait (bounded) until no task attempt of ``group``'s jobs runs: a losing attempt ends after
    the job, and its end belongs in the event log."""
    tracker = spark.sparkContext.statusTracker()
    stages = [
        stage
        for job in tracker.getJobIdsForGroup(group)
        for stage in tracker.getJobInfo(job).stageIds
    ]
    deadline = time.monotonic() + 30
    while any(tracker.getStageInfo(stage).numActiveTasks for stage in stages):
        if time.monotonic() > deadline:
            raise RuntimeError(f"task attempts of {group} still run 30 s after the write")
        time.sleep(0.1)


def main(settings_path: str, jar: str, workdir_arg: str, warm: str, *tables: str) -> int:
    workdir = Path(workdir_arg)
    markers = workdir / "markers"
    events = workdir / "events"
    markers.mkdir(parents=True)
    events.mkdir(parents=True)
    conninfo = os.environ[ADMIN_ENV]
    settings = load_settings(settings_path)
    jars = [jar, str(ENGINE_JAR)]
    # The JVM starts here, with the classpath and options local_session gives a driver, so the
    # cluster can run in it before the SparkContext exists.
    SparkContext._ensure_initialized(
        conf=SparkConf()
        .set("spark.driver.extraClassPath", os.pathsep.join(jars))
        .set("spark.driver.extraJavaOptions", UTC_JAVA_OPTION)
    )
    url, environments = start_cluster(workdir)
    spark = local_session(
        master=url,
        jar=Path(jar),
        app_name="sparkpg-write-speculation",
        conf={
            **SPECULATION_CONF,
            "spark.executor.memory": "512m",
            "spark.ui.enabled": "false",
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": events.as_uri(),
            "spark.sql.execution.arrow.pyspark.enabled": "false",
        },
    )
    try:
        wait_for_executors(spark, len(WORKER_HOSTS))
        # A first write without gates warms the executors (code generation, pgjdbc, TLS): the
        # speculation threshold is a multiple of the finished task's run time.
        warm_df = spark.range(0, 2, 1, 2).select("id", udf(payload_of)("id").alias("payload"))
        write_table(warm_df, settings, warm)
        spark.conf.set(CHUNK_BYTES_CONF, str(CHUNK_BYTES))
        for scenario, table in zip(SCENARIOS, tables):
            gate = udf(make_gate(scenario, markers, conninfo), StringType())
            df = spark.range(0, ROWS, 1, 2).select("id", gate(col("id")).alias("payload"))
            group = f"speculation-{scenario}"
            spark.sparkContext.setJobGroup(group, group)
            started = time.monotonic()
            if scenario == "wedged":
                write_past_a_stopped_executor(df, settings, table, markers)
            else:
                write_table(df, settings, table)
            print(f"{scenario}: written in {time.monotonic() - started:.1f} s", flush=True)
            wait_for_attempts_to_end(spark, group)
    finally:
        spark.stop()
        for environment in reversed(environments):
            environment.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
