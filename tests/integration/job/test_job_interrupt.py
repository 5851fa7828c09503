"""Ctrl-C on the main job (a real subprocess, a real server): exit 130 with one line, no py4j
traceback, and none of the run's database sessions left behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any, Iterator, List

import psycopg
import pytest

from tests.integration.jobs import start_job

from .conftest import ROLE, ReadDb

pytestmark = [pytest.mark.spark, pytest.mark.slow]
OURS = f"SELECT pid, wait_event_type, query FROM pg_stat_activity WHERE usename = '{ROLE}' AND application_name LIKE 'sparkpg-%'"


@pytest.fixture(scope="module")
def slow_tables(read_db: ReadDb) -> ReadDb:
    read_db.execute("DROP VIEW IF EXISTS slow_read")
    read_db.execute("DROP TABLE IF EXISTS locked_t")
    read_db.execute(
        "CREATE OR REPLACE FUNCTION slow_id(i int) RETURNS int LANGUAGE sql VOLATILE "
        "AS 'SELECT pg_sleep(120); SELECT i'"
    )
    read_db.execute("CREATE VIEW slow_read AS SELECT slow_id(g) AS id FROM generate_series(1, 3) g")
    read_db.execute("CREATE TABLE locked_t AS SELECT 1 AS id")
    return read_db


def _ours(db: ReadDb) -> List[Any]:
    return db.rows(OURS)


def _wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


@pytest.fixture
def exclusive_lock(slow_tables: ReadDb) -> Iterator[None]:
    with psycopg.connect(slow_tables.conninfo) as conn:
        conn.execute("LOCK TABLE locked_t IN ACCESS EXCLUSIVE MODE")
        yield
        conn.rollback()


def _interrupt_job(db: ReadDb, jdbc_jar: Path, table: str, blocked: Any, tmp: Path) -> None:
    args = ["--settings", str(db.settings_file()), "--table", table, "--output", str(tmp / "out")]
    args += ["--master", "local[2]", "--conf", "spark.ui.enabled=false"]
    job = start_job("entrypoints.read_tables", args, jdbc_jar)
    try:
        _wait_for(lambda: blocked(_ours(db)) or job.poll() is not None, 180, "the blocked read")
        assert job.poll() is None, job.communicate()
        os.killpg(job.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        started = time.monotonic()
        _, err = job.communicate(timeout=60)
        elapsed = time.monotonic() - started
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.communicate()
    assert job.returncode == 130, err[-3000:]
    assert elapsed < 45, elapsed
    lines = err.strip().splitlines()
    assert lines[-1] == "sparkpg: interrupted", err[-3000:]
    assert [line for line in lines if line.startswith("sparkpg:")] == ["sparkpg: interrupted"]
    for noise in ("reentrant", "Traceback", "ERROR", "Py4J"):
        assert noise not in err, err[-3000:]
    _wait_for(lambda: not _ours(db), 10, "the run's sessions to end")
    assert not (tmp / "out").exists() or not any((tmp / "out").iterdir())


def test_ctrl_c_while_reading_exits_130_and_ends_the_queries(
    slow_tables: ReadDb, jdbc_jar: Path, tmp_path: Path
) -> None:
    def reading(rows: List[Any]) -> bool:
        return any("slow_read" in str(query) and "FROM" in str(query) for _, _, query in rows)

    _interrupt_job(slow_tables, jdbc_jar, "it.slow_read", reading, tmp_path)


def test_ctrl_c_while_planning_behind_a_lock_exits_130(
    slow_tables: ReadDb, jdbc_jar: Path, tmp_path: Path, exclusive_lock: None
) -> None:
    def waiting(rows: List[Any]) -> bool:
        return any(wait == "Lock" for _, wait, _ in rows)

    _interrupt_job(slow_tables, jdbc_jar, "it.locked_t", waiting, tmp_path)
