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

from tests.integration.writing.attempts_job import ROWS
from tests.integration.writing.conftest import PASSWORD, SCHEMA, WriteDb

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_failed_first_attempts_leave_each_row_exactly_once_and_no_password_anywhere(
    write_db: WriteDb, jdbc_jar: Path, tmp_path: Path
) -> None:
    name = write_db.table("attempts", "id bigint PRIMARY KEY")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(write_db.settings_data()))
    events = tmp_path / "events"
    events.mkdir()
    env = dict(os.environ, TZ="UTC", PYSPARK_PYTHON=sys.executable)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.writing.attempts_job",
            str(settings),
            name,
            str(jdbc_jar),
            events.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "first attempt of partition" in result.stderr  # the retries really happened
    # ... after the driver had moved chunks of the failed attempts: rolled back, moved again
    assert "chunks of task attempts that did not commit were moved; rolled back" in result.stderr
    assert write_db.rows(
        f"SELECT count(*), count(DISTINCT id), min(id), max(id) FROM {SCHEMA}.attempts"
    ) == [(ROWS, ROWS, 0, ROWS - 1)]
    assert write_db.staging_tables() == []
    logs = result.stdout + result.stderr + "".join(p.read_text() for p in events.iterdir())
    assert "sparkpg_write it.w.attempts" in logs  # the event log describes the write ...
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
