"""What a target's statement-level triggers see (issue 19, item 12; docs/writing.md, "Triggers"):
append and overwrite move chunk by chunk, one INSERT statement per chunk moved; upsert and
insert-missing move in one statement."""

from __future__ import annotations

from typing import Any, List, Tuple

import pytest

from spark_jobs.write.api import write_table
from spark_jobs.write.contract import CHUNK_BYTES_CONF
from tests.integration.write.conftest import ROLE, SCHEMA, WriteDb

pytestmark = pytest.mark.spark

ROWS = 20_000


@pytest.fixture
def audited(write_db: WriteDb) -> str:
    """``w.audited`` whose statement-level triggers log each statement: its event and how many
    rows it inserted or updated (transition tables)."""
    name = write_db.table("audited", "id bigint PRIMARY KEY, note text")
    write_db.execute(f"DROP TABLE IF EXISTS {SCHEMA}.audit")
    write_db.execute(f"CREATE TABLE {SCHEMA}.audit (event text, rows bigint)")
    write_db.execute(f"ALTER TABLE {SCHEMA}.audit OWNER TO {ROLE}")
    for event in ("INSERT", "UPDATE", "DELETE"):
        transition = "" if event == "DELETE" else "REFERENCING NEW TABLE AS changed "
        count = "NULL" if event == "DELETE" else "(SELECT count(*) FROM changed)"
        write_db.execute(
            f"CREATE OR REPLACE FUNCTION {SCHEMA}.audit_{event.lower()}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN INSERT INTO {SCHEMA}.audit VALUES "
            f"(TG_OP, {count}); RETURN NULL; END $$"
        )
        write_db.execute(
            f"CREATE TRIGGER audit_{event.lower()} AFTER {event} ON {SCHEMA}.audited "
            f"{transition}FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.audit_{event.lower()}()"
        )
    return name


def audit(write_db: WriteDb) -> List[Tuple[Any, ...]]:
    rows = write_db.rows(f"SELECT event, rows FROM {SCHEMA}.audit")
    write_db.execute(f"DELETE FROM {SCHEMA}.audit")
    return rows


def test_statement_triggers_fire_once_per_chunk_in_append_and_once_in_upsert(
    spark: Any, write_db: WriteDb, audited: str
) -> None:
    df = spark.range(0, ROWS, 1, 2).selectExpr("id", "repeat('x', 20) note")
    spark.conf.set(CHUNK_BYTES_CONF, "16384")  # some 20 chunks a task
    try:
        write_table(df, write_db.settings(), audited)
        appended = audit(write_db)
        write_table(df.where("id < 100"), write_db.settings(), audited, mode="overwrite")
        overwritten = audit(write_db)
    finally:
        spark.conf.unset(CHUNK_BYTES_CONF)
    # append: one INSERT statement per chunk moved, together all rows (none empty)
    assert {event for event, _ in appended} == {"INSERT"}
    assert len(appended) > 2 and sum(n for _, n in appended) == ROWS, appended
    assert all(n > 0 for _, n in appended), appended
    # overwrite: one DELETE, then one INSERT per chunk moved
    assert overwritten[0] == ("DELETE", None) and len(overwritten) >= 2, overwritten
    assert {e for e, _ in overwritten[1:]} == {"INSERT"}
    assert sum(n for _, n in overwritten[1:]) == 100

    # upsert and insert-missing: one statement; ON CONFLICT DO UPDATE fires UPDATE's too
    changed = spark.range(50, 150, 1, 2).selectExpr("id", "'new' note")
    write_table(changed, write_db.settings(), audited, mode="upsert", key=["id"])
    assert sorted(audit(write_db)) == [("INSERT", 50), ("UPDATE", 50)]
    write_table(changed, write_db.settings(), audited, mode="insert-missing", key=["id"])
    assert audit(write_db) == [("INSERT", 0)]
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.audited") == [(150,)]
