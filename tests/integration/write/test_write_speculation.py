"""Exactly once with speculative attempts: real speculative copies of a task on a second
executor (speculation_job.py explains the two-host cluster and the gates). Whichever attempt
wins, with the loser's rows committed in the staging table and even moved while the tasks ran,
each row lands once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from tests.integration.write.conftest import SCHEMA, WriteDb
from tests.integration.write.speculation_job import (
    ADMIN_ENV,
    PARTITION_ROWS,
    ROWS,
    SCENARIOS,
    STREAMED,
    WORKER_HOSTS,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]

JOB_TIMEOUT_S = 240
TABLES = ["warm", *SCENARIOS]


@pytest.fixture(scope="module")
def speculation_run(write_db: WriteDb, jdbc_jar: Path, tmp_path_factory: Any) -> Iterator[Path]:
    """Run speculation_job.py once (its own Spark, in a process group ended afterwards); yields
    its work directory."""
    tmp = tmp_path_factory.mktemp("speculation")
    for table in TABLES:
        write_db.table(table_of(table), "id bigint NOT NULL, payload text NOT NULL")
    settings = tmp / "settings.json"
    settings.write_text(json.dumps(write_db.settings_data()))
    import pyspark

    env = dict(
        os.environ,
        TZ="UTC",
        PYSPARK_PYTHON=sys.executable,
        SPARK_HOME=os.path.dirname(pyspark.__file__),
        **{ADMIN_ENV: write_db.conninfo},
    )
    work = tmp / "work"
    command = [sys.executable, "-m", "tests.integration.write.speculation_job"]
    command += [str(settings), str(jdbc_jar), str(work)]
    command += [f"it.{SCHEMA}.{table_of(table)}" for table in TABLES]
    job = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # the job's JVM and its executors: ended together on timeout
    )
    try:
        output, _ = job.communicate(timeout=JOB_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        end_process_group(job.pid)
        output, _ = job.communicate()
        pytest.fail(f"the speculation job ran over {JOB_TIMEOUT_S} s:\n{output[-4000:]}")
    end_process_group(job.pid)  # an executor the job could not stop (it was stopped itself)
    assert job.returncode == 0, output[-4000:]
    yield work


def end_process_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # every process of the group has ended
        os.killpg(pid, signal.SIGKILL)


def table_of(scenario: str) -> str:
    return "spec_" + scenario.replace("-", "_")


def write_attempts(work: Path, scenario: str) -> Dict[int, List[Dict[str, Any]]]:
    """The task attempts of the scenario's write, by partition, from the event log."""
    events = [
        json.loads(line)
        for path in (work / "events").iterdir()
        for line in path.read_text().splitlines()
    ]
    stages = {
        stage
        for e in events
        if e["Event"] == "SparkListenerJobStart"
        and e.get("Properties", {}).get("spark.jobGroup.id") == f"speculation-{scenario}"
        for stage in e["Stage IDs"]
    }
    attempts: Dict[int, List[Dict[str, Any]]] = {}
    for e in events:
        if e["Event"] == "SparkListenerTaskEnd" and e["Stage ID"] in stages:
            info = e["Task Info"]
            attempts.setdefault(info["Partition ID"], []).append(
                {
                    "attempt": info["Attempt"],
                    "speculative": info["Speculative"],
                    "host": info["Host"],
                    "executor": info["Executor ID"],
                    "end": e["Task End Reason"]["Reason"],
                }
            )
    return {p: sorted(a, key=lambda x: x["attempt"]) for p, a in attempts.items()}


def assert_one_attempt_won(work: Path, scenario: str, winner: int) -> None:
    """Partition 1 ran once; partition 0 ran twice, the second a speculative copy on the other
    host, and ``winner`` succeeded while the other was killed or denied the commit."""
    attempts = write_attempts(work, scenario)
    assert sorted(attempts) == [0, 1], attempts
    assert [a["end"] for a in attempts[1]] == ["Success"], attempts
    assert [(a["attempt"], a["speculative"]) for a in attempts[0]] == [(0, False), (1, True)]
    assert {a["host"] for a in attempts[0]} == set(WORKER_HOSTS), attempts
    loser = attempts[0][1 - winner]["end"]
    assert attempts[0][winner]["end"] == "Success", attempts
    assert loser in ("TaskKilled", "TaskCommitDenied"), attempts


def assert_each_row_once(write_db: WriteDb, table: str) -> None:
    assert write_db.rows(
        f"SELECT count(*), count(DISTINCT id), sum(id), "
        f"count(*) FILTER (WHERE payload <> repeat(md5(id::text), 6)) FROM {SCHEMA}.{table}"
    ) == [(ROWS, ROWS, ROWS * (ROWS - 1) // 2, 0)]
    assert write_db.staging_tables() == []


def inserted(write_db: WriteDb, table: str) -> int:
    """Rows ever inserted into ``table``, rolled back ones included (the statistics collector's
    counter; the writers' sessions have ended, so it is up to date)."""
    return int(
        write_db.rows(
            f"SELECT n_tup_ins FROM pg_stat_user_tables WHERE relid = '{SCHEMA}.{table}'::regclass"
        )[0][0]
    )


def test_a_slow_first_attempt_is_replaced_by_a_speculative_copy_and_each_row_lands_once(
    speculation_run: Path, write_db: WriteDb
) -> None:
    work = speculation_run
    assert_one_attempt_won(work, "slow", winner=1)
    assert_each_row_once(write_db, "spec_slow")
    # The slow attempt's chunks had been moved while the tasks ran: the commit rolled them back.
    assert inserted(write_db, "spec_slow") > ROWS


@pytest.mark.parametrize("scenario", ["copy-wins", "original-wins"])
def test_the_losing_attempts_rows_in_the_staging_table_are_not_moved(
    speculation_run: Path, write_db: WriteDb, scenario: str
) -> None:
    work = speculation_run
    winner = SCENARIOS[scenario]
    assert_one_attempt_won(work, scenario, winner)
    # Before either attempt of partition 0 committed, both had most of its rows committed in the
    # staging table ...
    staged = json.loads((work / "markers" / f"{scenario}-staged.json").read_text())
    assert len(staged) == 2 and min(staged.values()) >= STREAMED, staged
    assert max(staged.values()) < PARTITION_ROWS, staged  # (neither had committed yet)
    # ... and each row is in the target once. Attempt 0's chunks are the ones moved while the
    # tasks ran: when the copy wins, the commit rolls them back and moves the copy's.
    table = table_of(scenario)
    assert_each_row_once(write_db, table)
    assert (inserted(write_db, table) > ROWS) == (winner == 1)


def test_a_losing_attempt_whose_executor_hangs_does_not_hold_up_the_write(
    speculation_run: Path, write_db: WriteDb
) -> None:
    work = speculation_run
    assert_one_attempt_won(work, "wedged", winner=1)
    # The original's executor was stopped (SIGSTOP) with a chunk's COPY open, so its session
    # held its lock on the staging table: the write still returned, and dropped the table.
    returned = json.loads((work / "markers" / "wedged-returned.json").read_text())
    assert returned == {"returned": True, "executor_stopped": True}
    assert_each_row_once(write_db, "spec_wedged")
