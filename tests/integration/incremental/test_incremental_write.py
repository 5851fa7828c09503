"""``--incremental --write`` against the real server and local Spark: the upsert and the state
row commit together, a late commit arrives exactly once, a failure in the commit leaves both
the target and the state as they were, and a state moved by another run is refused."""

from __future__ import annotations

from typing import Any, List, Tuple

import pytest

from entrypoints.errors import EXIT_DATABASE, EXIT_OK
from spark_jobs.job import incremental_write as incremental

from .conftest import ROLE, IncrDb

pytestmark = [pytest.mark.spark]

WRITE = ("--write", "it.w.copy", "--write-mode", "upsert", "--key", "id", "--incremental")


def _tables(db: IncrDb) -> None:
    db.execute("DROP TABLE IF EXISTS src, w.copy, w.sparkpg_incremental_state")
    db.execute("CREATE TABLE src (id int PRIMARY KEY, v text)")
    db.execute("INSERT INTO src SELECT g, 'v' || g FROM generate_series(1, 5) g")
    db.execute("CREATE TABLE w.copy (id int PRIMARY KEY, v text)")
    db.execute(f"ALTER TABLE w.copy OWNER TO {ROLE}")


def _copy(db: IncrDb) -> List[Tuple[Any, ...]]:
    return db.rows("SELECT id, v FROM w.copy ORDER BY id")


def _state(db: IncrDb) -> List[Tuple[Any, ...]]:
    return db.rows("SELECT target, source, state::text FROM w.sparkpg_incremental_state")


def test_late_commit_is_upserted_once_with_its_state(
    spark: Any, incr_db: IncrDb, capsys: Any
) -> None:
    _tables(incr_db)
    late = incr_db.open()
    late.execute("UPDATE src SET v = 'updated' WHERE id = 1")
    late.execute("SAVEPOINT s")
    late.execute("INSERT INTO src VALUES (6, 'late')")
    late.execute("RELEASE SAVEPOINT s")
    incr_db.execute("INSERT INTO src VALUES (7, 'before run 1')")
    assert incr_db.run("--table", "it.src", *WRITE) == EXIT_OK
    first_summary = capsys.readouterr().out
    assert "snapshot: full read -> xid" in first_summary
    assert "deletes not captured (--delete-missing deletes them)" in first_summary
    assert [r[0] for r in _copy(incr_db)] == [1, 2, 3, 4, 5, 7]
    (first,) = _state(incr_db)
    assert first[:2] == ("it.w.copy", "it.public.src")

    late.commit()
    late.close()
    incr_db.execute("DELETE FROM w.copy WHERE id = 2")  # not re-sent: row 2 did not change
    assert incr_db.run("--table", "it.src", *WRITE) == EXIT_OK
    assert _copy(incr_db) == [(1, "updated"), (3, "v3"), (4, "v4"), (5, "v5"), (6, "late"),
                              (7, "before run 1")]  # fmt: skip
    assert _state(incr_db)[0][2] != first[2]


@pytest.mark.parametrize("deleting", [(), ("--delete-missing",)])
def test_a_failed_commit_keeps_target_and_state(
    spark: Any, incr_db: IncrDb, monkeypatch: Any, deleting: Tuple[str, ...]
) -> None:
    _tables(incr_db)
    assert incr_db.run("--table", "it.src", *WRITE, *deleting) == EXIT_OK
    state = _state(incr_db)
    incr_db.execute("UPDATE src SET v = 'changed' WHERE id = 3")
    incr_db.execute("DELETE FROM src WHERE id = 4")
    record = incremental.state_update_sql

    def crashing(*args: Any, **kwargs: Any) -> str:
        # The state update runs, then the transaction fails before its COMMIT.
        failing = "DO $$ BEGIN RAISE EXCEPTION 'injected crash before the commit'; END $$"
        return record(*args, **kwargs) + "; " + failing

    with monkeypatch.context() as patch:
        patch.setattr(incremental, "state_update_sql", crashing)
        assert incr_db.run("--table", "it.src", *WRITE, *deleting) == EXIT_DATABASE
    assert _state(incr_db) == state
    assert _copy(incr_db) == [(i, f"v{i}") for i in range(1, 6)]
    assert incr_db.run("--table", "it.src", *WRITE, *deleting) == EXIT_OK
    expected = [(1, "v1"), (2, "v2"), (3, "changed"), (4, "v4"), (5, "v5")]
    assert _copy(incr_db) == [r for r in expected if not (deleting and r[0] == 4)]


def test_a_state_moved_by_another_run_is_refused(
    spark: Any, incr_db: IncrDb, monkeypatch: Any, capsys: Any
) -> None:
    _tables(incr_db)
    assert incr_db.run("--table", "it.src", *WRITE) == EXIT_OK
    incr_db.execute("UPDATE src SET v = 'changed' WHERE id = 4")
    from spark_jobs.write import api

    write_table = api.write_table

    def concurrent_run(*args: Any, **kwargs: Any) -> None:
        incr_db.execute(  # another run records its state while this one writes
            "UPDATE w.sparkpg_incremental_state SET state = state || '{\"seen\": [1]}'"
        )
        write_table(*args, **kwargs)

    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(api, "write_table", concurrent_run)
        assert incr_db.run("--table", "it.src", *WRITE) == EXIT_DATABASE
    assert "changed while this run ran" in capsys.readouterr().err
    assert (4, "v4") in _copy(incr_db)


def test_delete_missing_deletes_in_the_same_commit(
    spark: Any, incr_db: IncrDb, capsys: Any
) -> None:
    _tables(incr_db)
    deleting = (*WRITE, "--delete-missing")
    assert incr_db.run("--table", "it.src", *deleting) == EXIT_OK
    assert "0 row(s) whose key is gone from the source deleted" in capsys.readouterr().out
    incr_db.execute("DELETE FROM src WHERE id = 2")
    incr_db.execute("INSERT INTO src VALUES (6, 'new')")
    late = incr_db.open()  # deletes row 3, commits after run 2
    late.execute("DELETE FROM src WHERE id = 3")

    assert incr_db.run("--table", "it.src", *deleting) == EXIT_OK
    summary = capsys.readouterr().out
    assert "1 row(s) whose key is gone from the source deleted" in summary
    assert [r[0] for r in _copy(incr_db)] == [1, 3, 4, 5, 6]
    late.commit()
    late.close()
    assert incr_db.run("--table", "it.src", *deleting) == EXIT_OK
    assert [r[0] for r in _copy(incr_db)] == [1, 4, 5, 6]


def test_a_failure_during_the_move_keeps_the_state(spark: Any, incr_db: IncrDb) -> None:
    _tables(incr_db)
    incr_db.execute("ALTER TABLE w.copy ADD CONSTRAINT no_poison CHECK (v <> 'poison')")
    assert incr_db.run("--table", "it.src", *WRITE) == EXIT_OK
    state = _state(incr_db)
    incr_db.execute("UPDATE src SET v = 'poison' WHERE id = 2")
    incr_db.execute("UPDATE src SET v = 'fine' WHERE id = 5")
    assert incr_db.run("--table", "it.src", *WRITE) == EXIT_DATABASE  # the move fails
    assert _state(incr_db) == state and (5, "v5") in _copy(incr_db)
    incr_db.execute("UPDATE src SET v = 'fixed' WHERE id = 2")
    assert incr_db.run("--table", "it.src", *WRITE) == EXIT_OK
    assert (2, "fixed") in _copy(incr_db) and (5, "fine") in _copy(incr_db)
