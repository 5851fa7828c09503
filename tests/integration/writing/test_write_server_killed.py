"""A server that kills every connection of the writer in the middle of the commit (as a crash
or a failover does) leaves the target unchanged; the staging table nobody could drop is removed
by the next write. A dedicated server: the crash would disturb the session's."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator, List

import psycopg
import pytest

from connectors.errors import WriteFailedError
from devtools.postgres_server import postgres_server
from spark_jobs.writer import write_table
from tests.integration.writing.conftest import ROLE, SCHEMA, WriteDb, create_write_db

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def crash_db(tmp_path_factory: Any) -> Iterator[WriteDb]:
    with postgres_server(tls=False) as server:
        yield create_write_db(server, Path(tmp_path_factory.mktemp("crash")))


def test_connections_killed_mid_commit_leave_the_target_unchanged(
    spark: Any, crash_db: WriteDb
) -> None:
    name = crash_db.table("killed", "id bigint")
    crash_db.execute(f"INSERT INTO {SCHEMA}.killed SELECT generate_series(1, 10)")
    df = spark.range(0, 50_000, 1, 2)
    errors: List[BaseException] = []

    def run() -> None:
        try:
            write_table(df, crash_db.settings(), name)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    # The commit's INSERT waits for this lock: the connections die in the middle of the commit.
    with psycopg.connect(crash_db.conninfo) as blocker:
        blocker.execute(f"LOCK TABLE {SCHEMA}.killed IN ACCESS EXCLUSIVE MODE")
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 60
        killed: List[Any] = []
        while time.monotonic() < deadline and not killed and thread.is_alive():
            killed = crash_db.rows(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE usename = '{ROLE}' AND EXISTS (SELECT 1 FROM pg_stat_activity "
                "WHERE query LIKE 'INSERT INTO %sparkpg_stage%' AND wait_event_type = 'Lock')"
            )
            time.sleep(0.05)
        assert killed, f"the commit never waited: {errors}"
        thread.join(120)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], WriteFailedError), errors
    assert crash_db.rows(f"SELECT count(*), sum(id) FROM {SCHEMA}.killed") == [(10, 55)]
    assert crash_db.staging_tables() == []
    write_table(spark.range(100, 103), crash_db.settings(), name)
    assert crash_db.rows(f"SELECT count(*) FROM {SCHEMA}.killed") == [(13,)]
    assert crash_db.staging_tables() == []
