"""The server dies in the middle of a write: every connection of the writer killed during the
commit (as a failover does), or the whole server crashed while the tasks are in their COPY. The
target is left unchanged; the staging table nobody could drop is removed by the next write. A
dedicated server: the crash would disturb the session's."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import psycopg
import pytest

from connectors.errors import WriteFailedError
from devtools.faults import Background, stop_immediately, wait_for
from devtools.postgres_server import postgres_server, start_again
from spark_jobs.write.api import write_table
from spark_jobs.write.staging import PROGRESS_SUFFIX, staging_owner
from tests.integration.write.conftest import ROLE, SCHEMA, WriteDb, create_write_db

pytestmark = [pytest.mark.spark, pytest.mark.slow]

KEYED = ("upsert", "insert-missing")

#: Each task's rows: about 130 bytes each in binary COPY, so the GATE_ROWS a task sends before it
#: waits fill CopyDataWriter's 64 KiB buffer (FLUSH_BYTES) many times over. Each row's payload is
#: its own string: pickle would send one shared string once, and a partition's first rows could
#: then sit in the Python worker's 64 KiB output buffer, never reaching the JVM before the gate.
ROWS_PER_TASK = 12000
GATE_ROWS = 10000
#: How long a task waits at the gate at most (the test opens it much sooner).
GATE_SECONDS = 120
#: The crashed write fails within this: a task's next send on its dead connection fails at once
#: (under a second here), and so do the driver's new connections (refused). A server that went
#: silent instead would be bounded by the settings' socket timeout (30 s in this test) and
#: connect timeout (5 s); the test stops waiting for the write after FAILS_WITHIN_SECONDS + 15 s.
FAILS_WITHIN_SECONDS = 20


@pytest.fixture(scope="module")
def crash_db(tmp_path_factory: Any) -> Iterator[WriteDb]:
    with postgres_server(tls=False, backend="local") as server:
        db = create_write_db(server, Path(tmp_path_factory.mktemp("crash")))
        # Durable commits for the writer (the test servers commit asynchronously for speed): what
        # a write committed before the crash is there after it, however loaded the machine is.
        db.execute(f"ALTER ROLE {ROLE} SET synchronous_commit = on")
        yield db


def _mode_args(mode: str) -> Dict[str, Any]:
    return {"mode": mode, "key": ["id"] if mode in KEYED else None}


@pytest.mark.parametrize("mode", ["append", "overwrite", "upsert", "insert-missing"])
def test_connections_killed_mid_commit_leave_the_target_unchanged(
    spark: Any, crash_db: WriteDb, mode: str
) -> None:
    name = crash_db.table("killed", "id bigint" + (" PRIMARY KEY" if mode in KEYED else ""))
    crash_db.execute(f"INSERT INTO {SCHEMA}.killed SELECT generate_series(1, 10)")
    df = spark.range(0, 50_000, 1, 2)
    settings = crash_db.settings()

    # The move's INSERT waits for this lock: the connections die in the middle of the move.
    with psycopg.connect(crash_db.conninfo) as blocker:
        blocker.execute(f"LOCK TABLE {SCHEMA}.killed IN ACCESS EXCLUSIVE MODE")
        write = Background(lambda: write_table(df, settings, name, **_mode_args(mode)))
        deadline = time.monotonic() + 60
        killed: List[Any] = []
        while time.monotonic() < deadline and not killed and write.thread.is_alive():
            killed = crash_db.rows(  # the move (or overwrite's DELETE) waits for the lock
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE usename = '{ROLE}' AND EXISTS (SELECT 1 FROM pg_stat_activity "
                f"WHERE (query LIKE 'INSERT INTO %sparkpg_stage%' OR query LIKE 'DELETE FROM %') "
                "AND wait_event_type = 'Lock')"
            )
            time.sleep(0.05)
        assert killed, f"the commit never waited: {write.errors}"
        error = write.error(120)
    assert isinstance(error, WriteFailedError), error
    assert crash_db.rows(f"SELECT count(*), sum(id) FROM {SCHEMA}.killed") == [(10, 55)]
    assert crash_db.staging_tables() == []
    write_table(spark.range(100, 103), crash_db.settings(), name, **_mode_args(mode))
    expected = 3 if mode == "overwrite" else 13
    assert crash_db.rows(f"SELECT count(*) FROM {SCHEMA}.killed") == [(expected,)]
    assert crash_db.staging_tables() == []


def test_a_connection_lost_during_commit_says_the_outcome_is_unknown(
    spark: Any, crash_db: WriteDb
) -> None:
    name = crash_db.table("unknown", "id bigint")
    # A deferred constraint trigger runs inside COMMIT: the commit waits in it, and the test
    # ends the driver's backend there, as a crash between COMMIT and its answer would.
    crash_db.execute(
        "CREATE FUNCTION w.slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN PERFORM pg_sleep(60); RETURN NULL; END$$"
    )
    crash_db.execute(
        f"CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON {SCHEMA}.unknown "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION w.slow_commit()"
    )
    write = Background(lambda: write_table(spark.range(1), crash_db.settings(), name))
    wait_for(
        lambda: crash_db.rows(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE usename = '{ROLE}' AND query = 'COMMIT' AND wait_event = 'PgSleep'"
        ),
        timeout=60,
        what="the commit to wait in its deferred trigger",
    )
    error = write.error(60)
    assert isinstance(error, WriteFailedError), error
    assert str(error).startswith(
        f"writing {name}: the connection was lost during the commit: whether the rows were "
        "committed is unknown: "
    ), error
    assert "Check the target before retrying" in str(error)
    assert crash_db.rows(f"SELECT count(*) FROM {SCHEMA}.unknown") == [(0,)]  # here: not in
    assert crash_db.staging_tables() == []


def _gated_rows(gates: Path) -> Callable[[int, Iterator[Any]], Iterator[Tuple[int, str]]]:
    """A partition's rows: after GATE_ROWS, the task touches ``sent-<partition>`` in ``gates``
    and waits while the file ``gate`` exists (at most GATE_SECONDS), then sends the rest."""

    def rows(partition: int, _: Iterator[Any]) -> Iterator[Tuple[int, str]]:
        for i in range(ROWS_PER_TASK):
            if i == GATE_ROWS:
                (gates / f"sent-{partition}").touch()
                deadline = time.monotonic() + GATE_SECONDS
                while (gates / "gate").exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
            row = partition * ROWS_PER_TASK + i
            yield row, f"{row:0100d}"

    return rows


def _copying_backends(db: WriteDb) -> List[Tuple[Any, ...]]:
    """The writer's active COPY into a staging table that has received rows, per backend."""
    return db.rows(
        "SELECT a.pid, p.tuples_processed FROM pg_stat_activity a "
        "JOIN pg_stat_progress_copy p USING (pid) "
        f"WHERE a.usename = '{ROLE}' AND a.state = 'active' "
        "AND a.query LIKE 'COPY %sparkpg_stage_%FROM STDIN%' AND p.tuples_processed > 0"
    )


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_server_crash_mid_copy_leaves_the_target_unchanged(
    spark: Any, crash_db: WriteDb, tmp_path: Path, mode: str
) -> None:
    """Both tasks have sent (and PostgreSQL has processed) rows into the staging table when the
    server crashes (``pg_ctl stop -m immediate``); the write fails promptly with a clear error,
    the target keeps exactly its old rows, and after the restart the abandoned staging table
    (emptied by crash recovery: it is UNLOGGED) is dropped by the next write, as
    docs/writing.md says."""
    name = crash_db.table(
        "crashed", "id bigint" + (" PRIMARY KEY" if mode in KEYED else "") + ", payload text"
    )
    crash_db.execute(
        f"INSERT INTO {SCHEMA}.crashed SELECT g, 'before ' || g FROM generate_series(1, 10) g"
    )
    before = crash_db.rows(f"SELECT * FROM {SCHEMA}.crashed ORDER BY id")
    (tmp_path / "gate").touch()
    rdd = spark.sparkContext.parallelize([0, 1], 2).mapPartitionsWithIndex(_gated_rows(tmp_path))
    df = spark.createDataFrame(rdd, "id bigint, payload string")
    settings = crash_db.settings(socket_timeout_seconds=30, login_timeout_seconds=10)
    write = Background(lambda: write_table(df, settings, name, **_mode_args(mode)))
    try:
        wait_for(
            lambda: all((tmp_path / f"sent-{p}").exists() for p in (0, 1)),
            timeout=60,
            what="both tasks to reach the gate",
        )
        wait_for(  # a task sends nothing before its buffer is full: rows there = a flush
            lambda: len(_copying_backends(crash_db)) == 2,
            timeout=30,
            what="both tasks' COPY to have flushed rows to the server",
        )
        stop_immediately(crash_db.server)
        crashed = time.monotonic()
    finally:
        (tmp_path / "gate").unlink()  # the tasks go on, into the dead connections
    error = write.error(FAILS_WITHIN_SECONDS + 15)
    failed_after = time.monotonic() - crashed
    assert failed_after < FAILS_WITHIN_SECONDS, failed_after
    assert isinstance(error, WriteFailedError), error
    text = str(error)
    assert text.startswith(f"writing {name} failed, the target is unchanged: "), text
    assert "\tat " not in text and "Exception" not in text and "\n" not in text, text
    assert error.sqlstate is not None and error.sqlstate.startswith("08"), text  # connection

    start_again(crash_db.server)
    assert crash_db.rows(f"SELECT * FROM {SCHEMA}.crashed ORDER BY id") == before
    # Nobody could drop them while the server was down: the staging objects of one write (its
    # commits are durable: the crash_db fixture).
    abandoned = crash_db.staging_tables()
    assert abandoned and {staging_owner(t) for t in abandoned} == {abandoned[0]}, abandoned
    for table in abandoned:  # crash recovery empties unlogged tables (not the logged sequence)
        if not table.endswith(PROGRESS_SUFFIX):
            assert crash_db.rows(f"SELECT count(*) FROM {SCHEMA}.{table}") == [(0,)]

    after = spark.createDataFrame([(100, "after")], "id bigint, payload string")
    write_table(after, settings, name, **_mode_args(mode))
    assert crash_db.staging_tables() == []  # the next write to the schema dropped it
    assert crash_db.rows(f"SELECT * FROM {SCHEMA}.crashed ORDER BY id") == [*before, (100, "after")]
    wait_for(
        lambda: not crash_db.rows(f"SELECT pid FROM pg_stat_activity WHERE usename = '{ROLE}'"),
        timeout=10,
        what="the writer's backends to end",
    )
