"""How a write fails, against a real server and local Spark: every wait bounded by the
connection's settings, outcome messages that say what happened to the target, and refused values
named by their DataFrame column, target column and row key. The engine's contract itself (a mode
with exactly its options) is checked here too."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator, Tuple

import psycopg
import pytest

from connectors.errors import LockTimeoutError, WriteFailedError
from devtools.faults import Background, wait_for
from spark_jobs.write.api import write_table
from spark_jobs.write.contract import WRITE_SOURCE
from tests.integration.write.conftest import SCHEMA, WriteDb

pytestmark = pytest.mark.spark

#: The lock_timeout of these tests; a write that waits fails well within FAILS_WITHIN.
LOCK_TIMEOUT = 5
FAILS_WITHIN = 60


def _count(write_db: WriteDb, table: str) -> int:
    return int(write_db.rows(f"SELECT count(*) FROM {SCHEMA}.{table}")[0][0])


def _lock_timeout(write: Background, write_db: WriteDb) -> LockTimeoutError:
    error = write.error(FAILS_WITHIN)
    assert isinstance(error, LockTimeoutError), error
    assert error.setting == "lock_timeout_seconds"
    assert f"lock_timeout_seconds={LOCK_TIMEOUT}" in str(error), error
    assert "the target is unchanged" in str(error), error
    return error


# --- every wait is bounded -----------------------------------------------------------------------


def test_an_append_to_a_table_locked_access_exclusive_fails_with_the_lock_timeout(
    spark: Any, write_db: WriteDb
) -> None:
    name = write_db.table("held", "id bigint")
    write_db.execute(f"INSERT INTO {SCHEMA}.held VALUES (-1)")
    settings = write_db.settings(lock_timeout_seconds=LOCK_TIMEOUT)
    with psycopg.connect(write_db.conninfo) as holder:
        holder.execute(f"LOCK TABLE {SCHEMA}.held IN ACCESS EXCLUSIVE MODE")
        write = Background(lambda: write_table(spark.range(0, 1000, 1, 2), settings, name))
        _lock_timeout(write, write_db)
    assert write_db.rows(f"SELECT id FROM {SCHEMA}.held") == [(-1,)]
    assert write_db.staging_tables() == []


def test_an_upsert_of_a_row_locked_by_an_open_update_fails_with_the_lock_timeout(
    spark: Any, write_db: WriteDb
) -> None:
    name = write_db.table("rowlock", "id int PRIMARY KEY, v text")
    write_db.execute(f"INSERT INTO {SCHEMA}.rowlock VALUES (1, 'old'), (2, 'old')")
    settings = write_db.settings(lock_timeout_seconds=LOCK_TIMEOUT)
    df = spark.createDataFrame([(1, "new"), (3, "new")], "id int, v string")
    with psycopg.connect(write_db.conninfo) as holder:
        holder.execute(f"UPDATE {SCHEMA}.rowlock SET v = 'held' WHERE id = 1")
        write = Background(lambda: write_table(df, settings, name, mode="upsert", key=["id"]))
        _lock_timeout(write, write_db)
        holder.rollback()
    assert write_db.rows(f"SELECT * FROM {SCHEMA}.rowlock ORDER BY id") == [(1, "old"), (2, "old")]
    assert write_db.staging_tables() == []


def test_an_idle_in_transaction_holder_does_not_hang_an_overwrite(
    spark: Any, write_db: WriteDb
) -> None:
    name = write_db.table("idle", "id bigint")
    write_db.execute(f"INSERT INTO {SCHEMA}.idle VALUES (-1)")
    settings = write_db.settings(lock_timeout_seconds=LOCK_TIMEOUT)
    with psycopg.connect(write_db.conninfo) as holder:
        holder.execute(f"SELECT * FROM {SCHEMA}.idle FOR SHARE")  # then idle in transaction
        wait_for(
            lambda: write_db.rows(
                "SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction'"
            ),
            timeout=30,
            what="the holder to be idle in transaction",
        )
        write = Background(lambda: write_table(spark.range(5), settings, name, mode="overwrite"))
        _lock_timeout(write, write_db)
    assert write_db.rows(f"SELECT id FROM {SCHEMA}.idle") == [(-1,)]
    assert write_db.staging_tables() == []


# --- outcome messages ----------------------------------------------------------------------------


def test_a_deferred_foreign_key_violated_at_commit_is_rolled_back_not_unknown(
    spark: Any, write_db: WriteDb
) -> None:
    write_db.table("child", "id int PRIMARY KEY, parent int")
    write_db.table("parent", "id int PRIMARY KEY")
    name = f"it.{SCHEMA}.child"
    write_db.execute(f"INSERT INTO {SCHEMA}.parent VALUES (1)")
    write_db.execute(
        f"ALTER TABLE {SCHEMA}.child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent) "
        f"REFERENCES {SCHEMA}.parent (id) DEFERRABLE INITIALLY DEFERRED"
    )
    write_db.execute(f"INSERT INTO {SCHEMA}.child VALUES (1, 1)")
    df = spark.createDataFrame([(2, 1), (3, 99)], "id int, parent int")
    for mode, key in (("append", None), ("upsert", ["id"])):
        with pytest.raises(WriteFailedError) as info:
            write_table(df, write_db.settings(), name, mode=mode, key=key)
        text = str(info.value)
        assert text.startswith(
            f"writing {name} failed, the target is unchanged: the commit failed and was rolled "
            "back: "
        ), text
        assert "unknown" not in text
        assert "SQLSTATE 23503, constraint child_parent_fk" in text, text
        assert "Key (parent)=(99)" in text, text
        assert info.value.sqlstate == "23503"
    assert write_db.rows(f"SELECT * FROM {SCHEMA}.child") == [(1, 1)]
    assert write_db.staging_tables() == []


def test_a_failed_direct_write_says_what_was_committed_and_how_to_recover(
    spark: Any, write_db: WriteDb
) -> None:
    name = write_db.table("partial", "id bigint, note text")
    conninfo = write_db.conninfo

    def rows(partition: int, _: Iterator[Any]) -> Iterator[Tuple[int, str]]:
        if partition == 0:
            yield from ((i, "fine") for i in range(50))
            return

        # Partition 1 fails only once partition 0's rows are committed (bounded wait).
        def committed() -> bool:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                return conn.execute(f"SELECT count(*) FROM {SCHEMA}.partial").fetchone() == (50,)

        wait_for(committed, timeout=60, what="partition 0 to commit")
        yield 100, "bad \x00 value"

    df = spark.createDataFrame(
        spark.sparkContext.parallelize([0, 1], 2).mapPartitionsWithIndex(rows),
        "id bigint, note string",
    )
    with pytest.raises(WriteFailedError) as info:
        write_table(df, write_db.settings(), name, atomic=False)
    text = str(info.value)
    assert "unchanged" not in text, text
    assert "atomic=False" in text, text
    assert "remove this write's rows before writing again, or write with atomic=True" in text
    if "partition(s)" in text:  # the driver had heard of partition 0's commit
        assert "the 50 rows of partition(s) 0 were committed and stay in the target" in text
    assert "DataFrame column 'note'" in text and "NUL character" in text, text
    assert write_db.rows(f"SELECT count(*), min(id), max(id) FROM {SCHEMA}.partial") == [
        (50, 0, 49)
    ]


# --- refused values are named --------------------------------------------------------------------


VALUES = "id int PRIMARY KEY, note text, doc jsonb, amount numeric(5,2), small int"
SCHEMA_OF_DF = "Id int, Note string, Doc string, Amount decimal(12,2), Small bigint"
GOOD = (1, "a", '{"a": 1}', Decimal("1.00"), 1)


@pytest.mark.parametrize(
    ("bad", "frame", "target", "says"),
    [
        ((2, "a\x00b", None, None, None), "Note", "note", "NUL character"),
        ((2, "INVALID", None, None, None), "Note", "note", "not UTF-8"),
        ((2, None, '{"a": "\\u0000"}', None, None), "Doc", "doc", "22P05"),
        ((2, None, None, Decimal("12345.67"), None), "Amount", "amount", "22003"),
        ((2, None, None, None, 3_000_000_000), "Small", "small", "22003"),
    ],
    ids=["nul", "utf8", "jsonb-nul", "numeric-overflow", "integer-overflow"],
)
def test_a_refused_value_names_its_columns_and_row_key(
    spark: Any, write_db: WriteDb, bad: Tuple[Any, ...], frame: str, target: str, says: str
) -> None:
    name = write_db.table("refused", VALUES)
    write_db.execute(f"INSERT INTO {SCHEMA}.refused VALUES (0, 'old', NULL, NULL, NULL)")
    df = spark.createDataFrame([GOOD, bad], SCHEMA_OF_DF)
    if bad[1] == "INVALID":  # bytes that are not UTF-8 in a Spark string
        df = df.selectExpr(
            "Id",
            "CASE WHEN Id = 2 THEN cast(unhex('C328') AS string) ELSE Note END AS Note",
            "Doc",
            "Amount",
            "Small",
        )
    with pytest.raises(WriteFailedError) as info:
        write_table(df, write_db.settings(), name, mode="upsert", key=["id"])
    text = str(info.value)
    assert text.startswith(f"writing {name} failed, the target is unchanged: "), text
    assert f"DataFrame column {frame!r} (target column {target!r}) in the row (id)=(2)" in text
    assert says in text, text
    assert " c1" not in text and "'c" not in text, text
    assert write_db.rows(f"SELECT id, note FROM {SCHEMA}.refused") == [(0, "old")]
    assert write_db.staging_tables() == []


def test_a_refused_value_of_an_append_names_its_columns(spark: Any, write_db: WriteDb) -> None:
    name = write_db.table("refused_append", "id bigint, small int")
    df = spark.createDataFrame([(1, 1), (2, 3_000_000_000)], "id bigint, Small bigint")
    with pytest.raises(WriteFailedError) as info:
        write_table(df, write_db.settings(), name)
    text = str(info.value)
    assert "DataFrame column 'Small' (target column 'small'), value '3000000000'" in text, text
    assert "integer out of range (SQLSTATE 22003)" in text, text
    assert _count(write_db, "refused_append") == 0
    assert write_db.staging_tables() == []


# --- the contract --------------------------------------------------------------------------------


def test_the_engine_names_a_missing_or_foreign_option_of_the_mode(spark: Any) -> None:
    base = {
        "url": "jdbc:postgresql://localhost/x",
        "label": "t",
        "writeId": "w",
        "copySql": "COPY t FROM STDIN",
        "columns": "[]",
    }

    def refused(options: dict) -> str:
        with pytest.raises(Exception) as info:
            spark.range(1).write.format(WRITE_SOURCE).options(**options).mode("append").save()
        return str(info.value)

    assert "option 'mode' is required" in refused(base)
    assert "option 'mode' is 'merge': expected direct, staged or streamed" in refused(
        {**base, "mode": "merge"}
    )
    assert "mode 'staged' needs option 'commitSql'" in refused({**base, "mode": "staged"})
    assert "option 'moveSql' is not an option of mode 'direct'" in refused(
        {**base, "mode": "direct", "moveSql": "INSERT ..."}
    )
