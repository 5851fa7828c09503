"""``--incremental --cursor`` against the real server and local Spark: a transaction open
during run 1 holds the watermark back, so its rows (and a row committed with the same cursor
value) arrive in run 2, once; rows sharing the watermark's cursor value are not read twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrypoints.errors import EXIT_DATABASE, EXIT_OK

from .conftest import ROLE, IncrDb, batch_rows, batches

pytestmark = [pytest.mark.spark]

CURSOR = ("--incremental", "--cursor", "updated_at")


@pytest.fixture()
def cursor_table(incr_db: IncrDb) -> IncrDb:
    incr_db.execute(f"GRANT pg_read_all_stats TO {ROLE}")
    incr_db.execute("DROP TABLE IF EXISTS cur")
    incr_db.execute(
        "CREATE TABLE cur (id int PRIMARY KEY, v text, "
        "updated_at timestamptz NOT NULL DEFAULT now())"
    )
    incr_db.execute("CREATE INDEX ON cur (updated_at)")
    incr_db.execute(
        "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$"
    )
    incr_db.execute(
        "CREATE TRIGGER touch BEFORE UPDATE ON cur FOR EACH ROW EXECUTE FUNCTION touch()"
    )
    # One statement, one now(): three rows with the same cursor value (9 and 10: the key's own
    # order, not its text's, decides which is the watermark).
    incr_db.execute("INSERT INTO cur (id, v) SELECT g, 'v' || g FROM generate_series(8, 10) g")
    return incr_db


def _ids(spark: Any, batch: Path) -> Any:
    return [(r[0], r[1]) for r in batch_rows(spark, batch)]


def test_open_transaction_holds_the_watermark(
    spark: Any, cursor_table: IncrDb, tmp_path: Path, capsys: Any
) -> None:
    db = cursor_table
    out = tmp_path / "out"
    late = db.open()
    late.execute("INSERT INTO cur (id, v) VALUES (20, 'late')")  # updated_at = its start
    (started,) = late.execute("SELECT now()::text").fetchone()  # type: ignore[misc]
    db.execute(f"INSERT INTO cur VALUES (4, 'same cursor as the late row', '{started}')")
    db.execute("INSERT INTO cur (id, v) VALUES (5, 'after the late one began')")

    assert db.run("--table", "it.cur", "--output", str(out), *CURSOR) == EXIT_OK
    assert "cursor: full read -> updated_at <=" in capsys.readouterr().out
    assert _ids(spark, batches(out / "cur")[0]) == [(8, "v8"), (9, "v9"), (10, "v10")]

    late.commit()
    late.close()
    assert db.run("--table", "it.cur", "--output", str(out), *CURSOR) == EXIT_OK
    assert _ids(spark, batches(out / "cur")[1]) == [
        (4, "same cursor as the late row"),
        (5, "after the late one began"),
        (20, "late"),
    ]

    db.execute("UPDATE cur SET v = 'again' WHERE id = 9")
    assert db.run("--table", "it.cur", "--output", str(out), *CURSOR) == EXIT_OK
    assert _ids(spark, batches(out / "cur")[2]) == [(9, "again")]


def test_cursor_refusals(cursor_table: IncrDb, tmp_path: Path, capsys: Any) -> None:
    db = cursor_table
    out = tmp_path / "out"
    args = ("--table", "it.cur", "--output", str(out), "--incremental")
    assert db.run(*args, "--cursor", "v") == EXIT_DATABASE
    assert "the column is text" in capsys.readouterr().err
    assert db.run(*args) == EXIT_OK  # the snapshot method's state
    assert db.run(*args, "--cursor", "updated_at") == EXIT_DATABASE
    assert "made by the snapshot method" in capsys.readouterr().err
    db.execute(f"REVOKE pg_read_all_stats FROM {ROLE}")
    assert db.run("--table", "it.cur", "--output", str(tmp_path / "o2"), *CURSOR) == EXIT_DATABASE
    assert "GRANT pg_read_all_stats" in capsys.readouterr().err
