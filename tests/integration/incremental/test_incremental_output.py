"""``--incremental --output`` against the real server and local Spark: late commits (with a
subtransaction) delivered exactly once, updates as new versions, no batch without changes,
the state kept when the publication fails, frozen rows, and states that cannot be continued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrypoints.errors import EXIT_DATABASE, EXIT_OK, EXIT_OUTPUT
from spark_jobs.job import incremental
from spark_jobs.job.incremental import StateFiles
from spark_jobs.job.output import HadoopStore

from .conftest import IncrDb, batch_rows, batches, rewrite_state, state_of

pytestmark = [pytest.mark.spark]


def _table(db: IncrDb, name: str, rows: int) -> None:
    db.execute(f"DROP TABLE IF EXISTS {name}")
    db.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v text)")
    db.execute(f"INSERT INTO {name} SELECT g, 'v' || g FROM generate_series(1, {rows}) g")


def test_late_commit_is_delivered_once(
    spark: Any, incr_db: IncrDb, tmp_path: Path, capsys: Any
) -> None:
    _table(incr_db, "late", 5)
    out = tmp_path / "out"
    late = incr_db.open()  # starts before run 1, commits after it
    late.execute("UPDATE late SET v = 'updated' WHERE id = 1")
    late.execute("INSERT INTO late VALUES (6, 'late')")
    late.execute("SAVEPOINT s")  # a subtransaction: its xid is not in the snapshot's xip list
    late.execute("INSERT INTO late VALUES (7, 'late in a savepoint')")
    late.execute("RELEASE SAVEPOINT s")
    incr_db.execute("INSERT INTO late VALUES (8, 'committed before run 1')")  # xmax moves on

    assert incr_db.run("--table", "it.late", "--output", str(out), "--incremental") == EXIT_OK
    first = capsys.readouterr().out
    assert "snapshot: full read -> xid" in first and "deletes not captured" in first
    (run1,) = batches(out / "late")
    assert [r[0] for r in batch_rows(spark, run1)] == [1, 2, 3, 4, 5, 8]
    assert batch_rows(spark, run1)[0] == (1, "v1")

    late.commit()
    late.close()
    assert incr_db.run("--table", "it.late", "--output", str(out), "--incremental") == EXIT_OK
    second = capsys.readouterr().out
    run2 = batches(out / "late")[1]
    assert batch_rows(spark, run2) == [(1, "updated"), (6, "late"), (7, "late in a savepoint")]
    before = state_of(run1)["snapshot"].split(":")
    assert f"xid {before[0]}:{before[1]} -> xid" in second

    # No change: no new batch, the state is kept.
    assert incr_db.run("--table", "it.late", "--output", str(out), "--incremental") == EXIT_OK
    assert "no change: no batch, state kept" in capsys.readouterr().out
    assert len(batches(out / "late")) == 2

    # An update of a delivered row arrives again as its new version, and only it.
    incr_db.execute("UPDATE late SET v = 'again' WHERE id = 2")
    assert incr_db.run("--table", "it.late", "--output", str(out), "--incremental") == EXIT_OK
    assert batch_rows(spark, batches(out / "late")[2]) == [(2, "again")]
    # Spark reads the table's folder with every batch as a partition.
    assert spark.read.parquet(str(out / "late")).count() == 6 + 3 + 1


def _failing(real: Any, call: int) -> Any:
    """``real`` that raises on its ``call``-th call, as a kill would there."""
    calls = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == call:
            raise OSError("killed")
        return real(*args, **kwargs)

    return failing


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        (incremental, "materialize"),  # during the second table's read
        (StateFiles, "write_text"),  # after the second table's files, before its state
        (HadoopStore, "_rename"),  # during the publication: the first table's batch is in
    ],
)
def test_a_run_killed_anywhere_publishes_nothing(
    spark: Any, incr_db: IncrDb, tmp_path: Path, monkeypatch: Any, owner: Any, name: str
) -> None:
    _table(incr_db, "crash_a", 3)
    _table(incr_db, "crash_b", 2)
    out = tmp_path / "out"
    both = ("--table", "it.crash_a", "--table", "it.crash_b", "--output", str(out))
    assert incr_db.run(*both, "--incremental") == EXIT_OK
    incr_db.execute("INSERT INTO crash_a VALUES (4, 'new a')")
    incr_db.execute("INSERT INTO crash_b VALUES (3, 'new b')")

    with monkeypatch.context() as patch:
        patch.setattr(owner, name, _failing(getattr(owner, name), 2))
        assert incr_db.run(*both, "--incremental") != EXIT_OK
    for table in ("crash_a", "crash_b"):  # nothing published, no staging left
        assert len(batches(out / table)) == 1
        assert [p.name for p in (out / table).iterdir() if p.name.startswith(".batch")] == []

    assert incr_db.run(*both, "--incremental") == EXIT_OK
    assert batch_rows(spark, batches(out / "crash_a")[1]) == [(4, "new a")]
    assert batch_rows(spark, batches(out / "crash_b")[1]) == [(3, "new b")]


def test_a_concurrent_run_is_refused(
    spark: Any, incr_db: IncrDb, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    _table(incr_db, "twice", 2)
    out = tmp_path / "out"
    args = ("--table", "it.twice", "--output", str(out), "--incremental")
    assert incr_db.run(*args) == EXIT_OK
    incr_db.execute("INSERT INTO twice VALUES (3, 'new')")
    real = incremental.materialize

    def other_run_meanwhile(*args: Any) -> int:
        (out / "twice" / "batch=99999999-another-run").mkdir()  # published meanwhile
        return int(real(*args))

    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(incremental, "materialize", other_run_meanwhile)
        assert incr_db.run(*args) == EXIT_OUTPUT
    assert "while this one ran" in capsys.readouterr().err
    assert [p.name for p in batches(out / "twice")][-1] == "batch=99999999-another-run"


def test_rows_frozen_since_the_last_run_are_delivered(
    spark: Any, incr_db: IncrDb, tmp_path: Path
) -> None:
    _table(incr_db, "frozen", 3)
    out = tmp_path / "out"
    assert incr_db.run("--table", "it.frozen", "--output", str(out), "--incremental") == EXIT_OK
    incr_db.execute("INSERT INTO frozen VALUES (4, 'new')")
    incr_db.execute("VACUUM (FREEZE) frozen")  # every row frozen, the old ones and the new one
    assert incr_db.run("--table", "it.frozen", "--output", str(out), "--incremental") == EXIT_OK
    assert batch_rows(spark, batches(out / "frozen")[1]) == [(4, "new")]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ({"system_identifier": "12345"}, "system identifier 12345"),
        ({"timeline": 99}, "timeline changed from 99"),
        ({"snapshot": "4000000000:4000000001:"}, "is ahead of the server"),
        ({"snapshot": "3:3:"}, None),  # a far older state: fine while within 2**31
    ],
)
def test_a_state_from_elsewhere_requires_a_full_read(
    spark: Any, incr_db: IncrDb, tmp_path: Path, capsys: Any, tamper: Any, message: Any
) -> None:
    _table(incr_db, "tampered", 2)
    out = tmp_path / "out"
    assert incr_db.run("--table", "it.tampered", "--output", str(out), "--incremental") == EXIT_OK
    rewrite_state(batches(out / "tampered")[0], **tamper)
    capsys.readouterr()
    code = incr_db.run("--table", "it.tampered", "--output", str(out), "--incremental")
    if message is None:
        assert code == EXIT_OK
        return
    assert code == EXIT_DATABASE
    err = capsys.readouterr().err
    assert message in err and "--incremental-reset" in err
    assert len(batches(out / "tampered")) == 1
    reset = ("--incremental", "--incremental-reset")
    assert incr_db.run("--table", "it.tampered", "--output", str(out), *reset) == EXIT_OK
    assert [r[0] for r in batch_rows(spark, batches(out / "tampered")[1])] == [1, 2]


def test_a_schema_change_is_refused(incr_db: IncrDb, tmp_path: Path, capsys: Any) -> None:
    _table(incr_db, "schema_change", 2)
    out = tmp_path / "out"
    args = ("--table", "it.schema_change", "--output", str(out), "--incremental")
    assert incr_db.run(*args) == EXIT_OK
    incr_db.execute("ALTER TABLE schema_change ADD COLUMN extra int")
    capsys.readouterr()
    assert incr_db.run(*args) == EXIT_DATABASE
    assert "added extra" in capsys.readouterr().err


def test_a_recreated_table_is_refused(incr_db: IncrDb, tmp_path: Path, capsys: Any) -> None:
    _table(incr_db, "recreated", 2)
    args = ("--table", "it.recreated", "--output", str(tmp_path / "out"), "--incremental")
    assert incr_db.run(*args) == EXIT_OK
    _table(incr_db, "recreated", 2)  # the same rows, all with new xids
    capsys.readouterr()
    assert incr_db.run(*args) == EXIT_DATABASE
    assert "was dropped and created again" in capsys.readouterr().err


def test_the_jdbc_engine_reads_the_same_changes(
    spark: Any, incr_db: IncrDb, tmp_path: Path
) -> None:
    _table(incr_db, "by_jdbc", 3)
    out = tmp_path / "out"
    args = ("--table", "it.by_jdbc", "--output", str(out), "--incremental", "--engine", "jdbc")
    assert incr_db.run(*args) == EXIT_OK
    incr_db.execute("UPDATE by_jdbc SET v = 'new' WHERE id = 2")
    assert incr_db.run(*args) == EXIT_OK
    assert batch_rows(spark, batches(out / "by_jdbc")[1]) == [(2, "new")]


def test_a_non_incremental_folder_is_refused(incr_db: IncrDb, tmp_path: Path) -> None:
    _table(incr_db, "plain", 2)
    out = tmp_path / "out"
    assert incr_db.run("--table", "it.plain", "--output", str(out)) == EXIT_OK
    assert incr_db.run("--table", "it.plain", "--output", str(out), "--incremental") == EXIT_OUTPUT
