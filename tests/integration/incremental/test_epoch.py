"""The snapshot method on a cluster whose transaction ids are past an epoch boundary
(``pg_resetwal -e 1``: every xid is above ``2**32``): exact results, and a state recorded
before the jump (more than ``2**31`` transactions back) is refused."""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from devtools.postgres_server import PostgresServer, postgres_server, start_again
from entrypoints.errors import EXIT_DATABASE, EXIT_OK
from tests.integration.databases import fresh_database

from .conftest import PASSWORD, ROLE, IncrDb, batch_rows, batches

pytestmark = [pytest.mark.spark]


def _bin(name: str) -> str:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1]
    return str(found)


def _reset_epoch(server: PostgresServer, epoch: int) -> None:
    """Stop the server cleanly, set its xid epoch with pg_resetwal, start it again."""
    assert server.data_dir is not None
    owner = server.data_dir.stat().st_uid
    data = str(server.data_dir)
    for command in ([_bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", data],
                    [_bin("pg_resetwal"), "-e", str(epoch), data]):  # fmt: skip
        subprocess.run(command, user=owner, check=True, capture_output=True, timeout=120)
    start_again(server)


@pytest.fixture(scope="module")
def epoch_server() -> Iterator[PostgresServer]:
    with postgres_server(tls=False, backend="local") as server:
        yield server


def _db(server: PostgresServer, tmp: Path) -> IncrDb:
    conninfo = fresh_database(server, "sparkpg_epoch", ROLE, PASSWORD, reader=True)
    db = IncrDb(server, conninfo, tmp, dbname="sparkpg_epoch")
    db.execute("CREATE TABLE ep (id int PRIMARY KEY, v text)")
    db.execute("INSERT INTO ep SELECT g, 'v' || g FROM generate_series(1, 3) g")
    return db


def _ids(spark: Any, batch: Path) -> List[int]:
    return [r[0] for r in batch_rows(spark, batch)]


def test_past_an_epoch_boundary(
    spark: Any, epoch_server: PostgresServer, tmp_path: Path, capsys: Any
) -> None:
    db = _db(epoch_server, tmp_path)
    out = tmp_path / "out"
    args = ("--table", "it.ep", "--output", str(out), "--incremental")
    assert db.run(*args) == EXIT_OK
    _reset_epoch(epoch_server, 1)
    ((full_xid,),) = db.rows("SELECT pg_current_xact_id()::text::bigint")
    assert full_xid > 2**32

    # The state recorded before the jump is 2**32 transactions back: refused, never guessed.
    capsys.readouterr()
    assert db.run(*args) == EXIT_DATABASE
    assert "more than 2^31" in capsys.readouterr().err
    assert db.run(*args, "--incremental-reset") == EXIT_OK
    assert _ids(spark, batches(out / "ep")[1]) == [1, 2, 3]

    late = db.open()
    late.execute("INSERT INTO ep VALUES (4, 'late')")
    late.execute("SAVEPOINT s")
    late.execute("UPDATE ep SET v = 'updated' WHERE id = 1")
    late.execute("RELEASE SAVEPOINT s")
    db.execute("INSERT INTO ep VALUES (5, 'before run 3')")
    assert db.run(*args) == EXIT_OK
    assert _ids(spark, batches(out / "ep")[2]) == [5]
    late.commit()
    late.close()
    db.execute("VACUUM (FREEZE) ep")
    assert db.run(*args) == EXIT_OK
    assert batch_rows(spark, batches(out / "ep")[3]) == [(1, "updated"), (4, "late")]
