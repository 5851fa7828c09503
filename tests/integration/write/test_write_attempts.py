"""Exactly once across task retries, in a dedicated Spark (``local[2,4]``), and no password in
its logs, plans or event log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.write.attempts_job import MODES, ROWS, table_of
from tests.integration.write.conftest import CONNECTION, PASSWORD, SCHEMA, WriteDb

pytestmark = [pytest.mark.spark, pytest.mark.slow]


#: Rows each table holds before the job: replaced by overwrite, updated by upsert, kept by
#: insert-missing (ids 0..99) and by every mode but overwrite (id 5000).
BEFORE = [(i, -1) for i in range(100)] + [(5000, -1)]


def _expected(mode: str) -> list:  # type: ignore[type-arg]
    written = [(i, 2 * i) for i in range(ROWS)]
    if mode == "overwrite":
        return written
    if mode == "insert-missing":
        return BEFORE[:100] + written[100:] + [(5000, -1)]
    if mode == "upsert":
        return [*written, (5000, -1)]
    return sorted(BEFORE + written)  # append: ids 0..99 twice (no key on this table)


def test_failed_first_attempts_leave_each_row_exactly_once_and_no_password_anywhere(
    write_db: WriteDb, jdbc_jar: Path, tmp_path: Path
) -> None:
    """In every mode: the streamed ones (append, overwrite) moved chunks of the failed attempts
    and rolled them back; the staged ones (upsert, insert-missing) move once, at the commit."""
    for mode in MODES:
        key = " PRIMARY KEY" if mode != "append" else ""
        table = table_of("attempts", mode)
        write_db.table(table, f"id bigint{key}, v bigint")
        values = ", ".join(f"({i}, {v})" for i, v in BEFORE)
        write_db.execute(f"INSERT INTO {SCHEMA}.{table} VALUES {values}")
    name = f"{CONNECTION}.{SCHEMA}.attempts"
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(write_db.settings_data()))
    events = tmp_path / "events"
    events.mkdir()
    env = dict(os.environ, TZ="UTC", PYSPARK_PYTHON=sys.executable)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.write.attempts_job",
            str(settings),
            name,
            str(jdbc_jar),
            events.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "first attempt of partition" in result.stderr  # the retries really happened
    # ... after the driver had moved chunks of the failed attempts: rolled back, moved again
    assert "chunks of task attempts that did not commit were moved; rolled back" in result.stderr
    for mode in MODES:
        rows = write_db.rows(
            f"SELECT id, v FROM {SCHEMA}.{table_of('attempts', mode)} ORDER BY 1, 2"
        )
        assert rows == _expected(mode), mode
    assert write_db.staging_tables() == []
    logs = result.stdout + result.stderr + "".join(p.read_text() for p in events.iterdir())
    assert "sparkpg_write it.w.attempts_upsert" in logs  # the event log describes the writes ...
    assert PASSWORD not in logs and json.dumps(PASSWORD)[1:-1] not in logs  # ... without it


def test_partitions_beyond_max_connections_are_coalesced(spark: Any, write_db: WriteDb) -> None:
    from spark_jobs.write.api import write_table

    name = write_db.table("coalesced", "id bigint")
    spark.sparkContext.setJobGroup("coalesce-test", "coalesce test")
    try:
        write_table(spark.range(0, 100, 1, 7), write_db.settings(max_connections=2), name)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    tracker = spark.sparkContext.statusTracker()
    tasks = [
        tracker.getStageInfo(stage).numTasks  # type: ignore[union-attr]
        for job in tracker.getJobIdsForGroup("coalesce-test")
        for stage in tracker.getJobInfo(job).stageIds  # type: ignore[union-attr]
    ]
    assert tasks == [2]
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.coalesced") == [(100,)]
