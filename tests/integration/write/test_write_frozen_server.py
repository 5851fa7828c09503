"""The server freezes (every process stopped, as a hung host or a network cut while TCP stays up
looks to the client) while the driver moves the staged rows or commits: these send nothing back
until they end, so they run without the socket timeout, and the engine's watchdog
(``MoveWatchdog``) bounds them by ``socket_timeout_seconds`` instead (issue 19, item 3). A long
move or COMMIT on a server that answers is not cut. A server of the module's own: freezing it
would stall every other test."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator, List

import psycopg
import pytest

from connectors.errors import DatabaseUnresponsiveError, WriteFailedError
from devtools.faults import Background, frozen, wait_for
from devtools.postgres_server import PostgresServer, postgres_server
from spark_jobs.write.api import write_table
from tests.integration.write.conftest import ROLE, SCHEMA, WriteDb, create_write_db

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SOCKET_TIMEOUT = 3
#: The frozen write fails within this (a check every SOCKET_TIMEOUT, which waits SOCKET_TIMEOUT
#: for its answer, then the driver's drop of the staging objects, which waits for it twice):
#: far below forever, far above the bound's jitter on a loaded machine.
FAILS_WITHIN_SECONDS = 60
#: A legitimate move or COMMIT takes this long: longer than the socket timeout.
SLOW_SECONDS = 2 * SOCKET_TIMEOUT


@pytest.fixture(scope="module")
def frozen_db(tmp_path_factory: Any) -> Iterator[WriteDb]:
    with postgres_server(tls=False, backend="local") as server:
        yield create_write_db(server, Path(tmp_path_factory.mktemp("frozen")))


def _children(parent: int) -> List[int]:
    """The pids whose parent is ``parent`` (from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # it ended meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry))
    return pids


@contextmanager
def _server_frozen(server: PostgresServer) -> Iterator[None]:
    """SIGSTOP the postmaster (no new session starts) and every process of the server for the
    block; SIGCONT on the way out, whatever happens."""
    assert server.data_dir is not None
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    with ExitStack() as stack:
        stack.enter_context(frozen(postmaster))
        for pid in _children(postmaster):
            stack.enter_context(frozen(pid))
        yield


def _frozen_when(db: WriteDb, write: Background, waiting: str, what: str) -> BaseException:
    """Freeze the server once a backend of the writer is ``waiting`` (SQL on pg_stat_activity);
    what the write raised, within FAILS_WITHIN_SECONDS of the freeze."""
    wait_for(
        lambda: db.rows(f"SELECT pid FROM pg_stat_activity WHERE usename = '{ROLE}' AND {waiting}"),
        timeout=120,
        what=what,
    )
    with _server_frozen(db.server):
        frozen_at = time.monotonic()
        error = write.error(FAILS_WITHIN_SECONDS + 30)
        failed_after = time.monotonic() - frozen_at
    assert failed_after < FAILS_WITHIN_SECONDS, failed_after
    return error


def _writer_backends(db: WriteDb) -> List[Any]:
    return db.rows(f"SELECT pid, state, query FROM pg_stat_activity WHERE usename = '{ROLE}'")


def test_a_server_frozen_during_the_move_fails_the_write_within_the_socket_timeout(
    spark: Any, frozen_db: WriteDb
) -> None:
    name = frozen_db.table("moved", "id bigint PRIMARY KEY, v text")
    frozen_db.execute(
        f"INSERT INTO {SCHEMA}.moved SELECT g, 'before' FROM generate_series(1, 10) g"
    )
    before = frozen_db.rows(f"SELECT * FROM {SCHEMA}.moved ORDER BY id")
    df = spark.createDataFrame([(i, "after") for i in range(5, 50)], "id bigint, v string")
    # No lock_timeout: the move waits for the test's lock, at a known point, as long as it is held.
    settings = frozen_db.settings(socket_timeout_seconds=SOCKET_TIMEOUT, lock_timeout_seconds=0)
    with psycopg.connect(frozen_db.conninfo) as blocker:
        blocker.execute(f"LOCK TABLE {SCHEMA}.moved IN ACCESS EXCLUSIVE MODE")
        write = Background(lambda: write_table(df, settings, name, mode="upsert", key=["id"]))
        error = _frozen_when(  # upsert: its one move runs in the driver's commit
            frozen_db,
            write,
            "state = 'active' AND query LIKE 'INSERT INTO%' AND wait_event_type = 'Lock'",
            "the move to wait for the lock",
        )
    assert isinstance(error, DatabaseUnresponsiveError), error
    assert error.setting == "socket_timeout_seconds"
    text = str(error)
    assert f"socket_timeout_seconds={SOCKET_TIMEOUT} while writing {name}" in text, text
    assert text.endswith("The write failed, the target is unchanged"), text
    assert "\tat " not in text and "Exception" not in text, text

    assert frozen_db.rows(f"SELECT * FROM {SCHEMA}.moved ORDER BY id") == before
    wait_for(
        lambda: not _writer_backends(frozen_db), timeout=60, what="the writer's backends to end"
    )
    # The staging objects nobody could drop while the server was frozen: the next write drops them.
    write_table(df, frozen_db.settings(), name, mode="upsert", key=["id"])
    assert frozen_db.rows(f"SELECT count(*) FROM {SCHEMA}.moved WHERE v = 'after'") == [(45,)]
    assert frozen_db.staging_tables() == []


def test_a_server_frozen_during_the_commit_says_the_outcome_is_unknown(
    spark: Any, frozen_db: WriteDb
) -> None:
    name = frozen_db.table("committed", "id bigint")
    frozen_db.execute(
        "CREATE OR REPLACE FUNCTION w.slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN PERFORM pg_sleep(20); RETURN NULL; END$$"
    )
    frozen_db.execute(
        f"CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON {SCHEMA}.committed "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION w.slow_commit()"
    )
    settings = frozen_db.settings(socket_timeout_seconds=SOCKET_TIMEOUT)
    write = Background(lambda: write_table(spark.range(1), settings, name))
    error = _frozen_when(
        frozen_db,
        write,
        "query = 'COMMIT' AND wait_event = 'PgSleep'",
        "the commit to wait in its deferred trigger",
    )
    assert isinstance(error, WriteFailedError), error
    text = str(error)
    assert text.startswith(
        f"writing {name}: the connection was lost during the commit: whether the rows were "
        "committed is unknown: "
    ), text
    assert f"socket_timeout_seconds={SOCKET_TIMEOUT}" in text, text
    assert "Check the target before retrying" in text, text
    wait_for(
        lambda: not _writer_backends(frozen_db), timeout=60, what="the writer's backends to end"
    )


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_a_move_and_a_commit_longer_than_the_socket_timeout_succeed(
    spark: Any, frozen_db: WriteDb, mode: str
) -> None:
    """Each move waits SLOW_SECONDS in a statement trigger, the COMMIT as long in a deferred
    one: the server answers the watchdog's checks all along, so nothing is cut."""
    name = frozen_db.table("slow", "id bigint PRIMARY KEY")
    frozen_db.execute(
        "CREATE OR REPLACE FUNCTION w.slow() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$BEGIN PERFORM pg_sleep({SLOW_SECONDS}); RETURN NULL; END$$"
    )
    frozen_db.execute(
        f"CREATE TRIGGER slow_move BEFORE INSERT ON {SCHEMA}.slow "
        "FOR EACH STATEMENT EXECUTE FUNCTION w.slow()"
    )
    frozen_db.execute(
        f"CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON {SCHEMA}.slow "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.id = 0) EXECUTE FUNCTION w.slow()"
    )
    settings = frozen_db.settings(socket_timeout_seconds=SOCKET_TIMEOUT)
    keys = ["id"] if mode == "upsert" else None
    write_table(spark.range(0, 100, 1, 2), settings, name, mode=mode, key=keys)
    assert frozen_db.rows(f"SELECT count(*), sum(id) FROM {SCHEMA}.slow") == [(100, 4950)]
    assert frozen_db.staging_tables() == []
