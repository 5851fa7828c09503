"""Edge cases of write_table (issue 19's test gaps): ``staging_schema``, an empty DataFrame in
every mode, a key twice in one upsert."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from connectors.errors import WriteFailedError
from devtools.faults import Background, wait_for
from spark_jobs.write.api import write_table
from tests.integration.write.conftest import ROLE, SCHEMA, WriteDb
from tests.integration.write.test_write_staging_safety import objects

pytestmark = pytest.mark.spark

SCRATCH = "scratch"


def test_staging_schema_holds_the_staging_objects(spark: Any, write_db: WriteDb) -> None:
    write_db.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
    write_db.execute(f"CREATE SCHEMA {SCRATCH} AUTHORIZATION {ROLE}")
    name = write_db.table("elsewhere", "id bigint PRIMARY KEY")
    write_db.execute(f"INSERT INTO {SCHEMA}.elsewhere VALUES (-1)")
    settings = write_db.settings(lock_timeout_seconds=0)
    with psycopg.connect(write_db.conninfo) as holder:  # the move waits: look at the staging
        holder.execute(f"LOCK TABLE {SCHEMA}.elsewhere IN ACCESS EXCLUSIVE MODE")
        write = Background(
            lambda: write_table(spark.range(0, 100, 1, 2), settings, name, staging_schema=SCRATCH)
        )
        staged = wait_for(lambda: objects(write_db, SCRATCH), timeout=120, what="staging")
        assert objects(write_db) == []
        holder.rollback()
    write.thread.join(120)
    assert not write.thread.is_alive() and write.errors == [], write.errors
    assert any(s.endswith("_chunks") for s in staged), staged
    assert objects(write_db, SCRATCH) == []
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.elsewhere") == [(101,)]

    with pytest.raises(WriteFailedError, match=r"the target is unchanged: .*elsewhere_pkey"):
        write_table(spark.range(-1, 3), write_db.settings(), name, staging_schema=SCRATCH)
    assert write_db.rows(f"SELECT count(*), min(id), max(id) FROM {SCHEMA}.elsewhere") == [
        (101, -1, 99)
    ]
    assert objects(write_db, SCRATCH) == [] and objects(write_db) == []


@pytest.mark.parametrize("partitions", [0, 2])
def test_an_empty_dataframe_in_every_mode(spark: Any, write_db: WriteDb, partitions: int) -> None:
    """Without partitions (an empty range) and with empty partitions."""
    name = write_db.table("empty_t", "id bigint PRIMARY KEY, v text")
    write_db.execute(f"INSERT INTO {SCHEMA}.empty_t VALUES (1, 'a'), (2, 'b')")
    if partitions:
        empty = spark.createDataFrame([], "id bigint, v string").repartition(partitions)
    else:
        empty = spark.range(0, 0, 1, 2).selectExpr("id", "cast(id as string) v")
    assert empty.rdd.getNumPartitions() == partitions
    before = [(1, "a"), (2, "b")]
    settings = write_db.settings()
    for mode, kwargs in [
        ("append", {}),
        ("append", {"atomic": False}),
        ("upsert", {"key": ["id"]}),
        ("insert-missing", {"key": ["id"]}),
    ]:
        write_table(empty, settings, name, mode=mode, **kwargs)
        assert write_db.rows(f"SELECT * FROM {SCHEMA}.empty_t ORDER BY id") == before, mode
    write_table(empty, settings, name, mode="overwrite")
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.empty_t") == [(0,)]  # emptied
    assert objects(write_db) == []


def test_a_key_twice_in_one_upsert_is_an_error_naming_the_key(
    spark: Any, write_db: WriteDb
) -> None:
    name = write_db.table("twice", "id bigint PRIMARY KEY, v text")
    write_db.execute(f"INSERT INTO {SCHEMA}.twice VALUES (1, 'old')")
    df = spark.createDataFrame([(1, "new"), (2, "a"), (2, "b")], "id bigint, v string")
    with pytest.raises(WriteFailedError) as failed:
        write_table(df.repartition(2), write_db.settings(), name, mode="upsert", key=["id"])
    assert "the target is unchanged" in str(failed.value)
    assert "two DataFrame rows have the same key ['id']" in str(failed.value)
    assert failed.value.sqlstate == "21000"
    assert write_db.rows(f"SELECT * FROM {SCHEMA}.twice") == [(1, "old")]
    assert objects(write_db) == []
