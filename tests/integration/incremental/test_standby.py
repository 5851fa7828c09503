"""The snapshot method on a local hot standby (``pg_basebackup -R``): a snapshot exported there
is imported by another session of the same standby, and the rules of the snapshot method
(recorded visible ids, the changed-rows filter) give exactly a late commit replayed from the
primary. The main job refuses a standby (and a reader endpoint) with a clear message: an
endpoint in front of replicas cannot promise that every partition reaches the same one."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator, Tuple

import psycopg
import pytest

from devtools.postgres_server import PostgresServer, postgres_server
from entrypoints.errors import EXIT_DATABASE
from spark_jobs.read.incremental_state import (
    IncrementalState,
    XidSnapshot,
    changed_rows_filter,
    seen_xids_sql,
)
from tests.integration.databases import fresh_database

from .conftest import PASSWORD, ROLE, IncrDb
from .test_epoch import _bin

pytestmark = [pytest.mark.spark]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def primary_and_standby() -> Iterator[Tuple[PostgresServer, PostgresServer]]:
    with postgres_server(tls=False, backend="local") as primary:
        assert primary.data_dir is not None
        owner = primary.data_dir.stat().st_uid
        hba = primary.data_dir / "pg_hba.conf"
        hba.write_text(hba.read_text() + "host replication all 127.0.0.1/32 scram-sha-256\n")
        with psycopg.connect(primary.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        standby_dir = primary.data_dir.parent / "standby"
        env = {**os.environ, "PGPASSWORD": primary.password}
        base = [_bin("pg_basebackup"), "-D", str(standby_dir), "-R", "-X", "stream"]
        where = ["-h", "127.0.0.1", "-p", str(primary.port), "-U", primary.user]
        subprocess.run([*base, *where], user=owner, env=env, check=True, timeout=300)
        port = _free_port()
        start = [_bin("pg_ctl"), "start", "-w", "-D", str(standby_dir), "-o", f"-p {port}"]
        log = ["-l", str(standby_dir.parent / "standby.log")]
        subprocess.run([*start, *log], user=owner, check=True, capture_output=True, timeout=120)
        try:
            yield primary, dataclasses.replace(primary, port=port, data_dir=standby_dir)
        finally:
            stop = [_bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(standby_dir)]
            subprocess.run(stop, user=owner, check=False, capture_output=True, timeout=120)


def _replayed(primary: PostgresServer, standby: PostgresServer, database: str) -> None:
    """Wait (bounded) until the standby has replayed everything the primary wrote so far."""
    with psycopg.connect(primary.conninfo(dbname=database), autocommit=True) as conn:
        (lsn,) = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()  # type: ignore[misc]
    deadline = time.monotonic() + 60
    with psycopg.connect(standby.conninfo(dbname=database), autocommit=True) as conn:
        while time.monotonic() < deadline:
            query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
            if conn.execute(query, (lsn,)).fetchone()[0]:  # type: ignore[index]
                return
            time.sleep(0.05)
    raise AssertionError(f"the standby did not replay up to {lsn} within 60 s")


def _visible_and_state(conn: Any, table: str) -> Tuple[XidSnapshot, IncrementalState]:
    """In ``conn``'s snapshot: the snapshot as 64-bit ids and the state the method records."""
    (text,) = conn.execute("SELECT pg_current_snapshot()::text").fetchone()
    current = XidSnapshot.parse(text)
    sql = seen_xids_sql(table, current)
    seen = tuple(sorted(r[0] for r in conn.execute(sql).fetchall())) if sql else ()
    return current, IncrementalState(table, "snapshot", current, (), seen=seen)


def test_snapshot_method_on_a_hot_standby(
    primary_and_standby: Tuple[PostgresServer, PostgresServer], spark: Any, tmp_path: Path,
    capsys: Any,
) -> None:  # fmt: skip
    primary, standby = primary_and_standby
    fresh_database(primary, "sparkpg_standby", ROLE, PASSWORD, reader=True)
    with psycopg.connect(primary.conninfo(dbname="sparkpg_standby"), autocommit=True) as conn:
        conn.execute("CREATE TABLE s (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 3) g")
    late = psycopg.connect(primary.conninfo(dbname="sparkpg_standby"))
    late.execute("UPDATE s SET v = 'updated' WHERE id = 1")
    late.execute("SAVEPOINT p")
    late.execute("INSERT INTO s VALUES (4, 'late')")
    late.execute("RELEASE SAVEPOINT p")
    with psycopg.connect(primary.conninfo(dbname="sparkpg_standby"), autocommit=True) as conn:
        conn.execute("INSERT INTO s VALUES (5, 'committed')")
    _replayed(primary, standby, "sparkpg_standby")

    # Run 1 on the standby: export there, import in another session of the same standby.
    dsn = standby.conninfo(dbname="sparkpg_standby")
    with psycopg.connect(dsn) as exporter, psycopg.connect(dsn) as importer:
        exporter.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        (snapshot_id,) = exporter.execute("SELECT pg_export_snapshot()").fetchone()  # type: ignore[misc]
        importer.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        importer.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
        rows = importer.execute("SELECT id, v FROM s ORDER BY id").fetchall()
        assert rows == [(1, "v1"), (2, "v2"), (3, "v3"), (5, "committed")]
        _, state = _visible_and_state(importer, "s")
        assert _visible_and_state(exporter, "s")[1] == state

    late.commit()
    late.close()
    _replayed(primary, standby, "sparkpg_standby")
    with psycopg.connect(dsn) as conn:  # run 2 on the standby: exactly the late rows
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        current, _ = _visible_and_state(conn, "s")
        where = changed_rows_filter(state, current)
        changed = conn.execute(f"SELECT id, v FROM s WHERE {where} ORDER BY id").fetchall()
        assert changed == [(1, "updated"), (4, "late")]

    # The main job refuses the standby, saying why and what to use instead.
    db = IncrDb(standby, "", tmp_path, dbname="sparkpg_standby")
    out = str(tmp_path / "out")
    capsys.readouterr()
    assert db.run("--table", "it.s", "--output", out, "--incremental") == EXIT_DATABASE
    assert "is a hot standby" in capsys.readouterr().err
