"""Consistent snapshots across partitions and tables; no secret in plans, logs, reprs or errors."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from connectors.errors import SnapshotError
from spark_jobs import consistent_snapshot, load_read, plan_table, read_tables
from spark_jobs.read.loading import read_error_of

from .conftest import PASSWORD, ReadDb

pytestmark = [pytest.mark.spark]


@pytest.fixture(scope="module")
def snap_tables(read_db: ReadDb) -> ReadDb:
    read_db.execute("DROP TABLE IF EXISTS snap_a, snap_b")
    read_db.execute("CREATE TABLE snap_a AS SELECT g AS id FROM generate_series(1, 4000) g")
    read_db.execute("ALTER TABLE snap_a ADD PRIMARY KEY (id)")
    read_db.execute("CREATE TABLE snap_b (id int)")
    read_db.execute("INSERT INTO snap_b VALUES (1)")
    return read_db


def test_all_partitions_and_tables_read_one_snapshot(spark: Any, snap_tables: ReadDb) -> None:
    settings = snap_tables.settings()
    try:
        with consistent_snapshot(spark, settings, "it") as snap:
            a, b = read_tables(
                spark,
                settings,
                ["it.snap_a", "it.snap_b"],
                snapshot=snap,
                partitioning={"num_partitions": 4},
                register_views=False,
            )
            assert a.read.plan.num_partitions == 4
            # After the snapshot: new rows in every partition's range, deletions, a new row in b.
            snap_tables.execute(
                "INSERT INTO snap_a SELECT g FROM generate_series(4001, 9000) g;"
                "DELETE FROM snap_a WHERE id % 1000 = 0; INSERT INTO snap_b VALUES (2)"
            )
            ids = sorted(r[0] for r in a.dataframe.collect())
            assert ids == list(range(1, 4001))
            assert [r[0] for r in b.dataframe.collect()] == [1]
            unshared = load_read(spark, plan_table(spark, settings, "it.snap_a")).dataframe
            assert unshared.count() == 9000 - 9
        with pytest.raises(Exception) as caught:
            a.dataframe.count()  # the snapshot is gone with its transaction
        error = read_error_of(caught.value, a.read)
        assert isinstance(error, SnapshotError)
        assert "consistent_snapshot" in str(error)
    finally:
        snap_tables.execute(
            "DELETE FROM snap_a; INSERT INTO snap_a SELECT generate_series(1, 4000)"
        )


@pytest.mark.parametrize(
    ("engine", "relation"), [("copy", "sparkpg_copy"), ("jdbc", "JDBCRelation")]
)
def test_no_secret_in_plans_logs_reprs_or_conf(
    spark: Any,
    snap_tables: ReadDb,
    caplog: pytest.LogCaptureFixture,
    capsys: Any,
    engine: str,
    relation: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = snap_tables.settings()
    with consistent_snapshot(spark, settings, "it") as snap:
        (table,) = read_tables(
            spark,
            settings,
            ["it.snap_a"],
            snapshot=snap,
            partitioning={"num_partitions": 2},
            engine=engine,
        )
        df = table.dataframe.where("id > 10")
        df.explain(True)
        texts = [
            capsys.readouterr().out,
            str(df._jdf.queryExecution().toString()),
            str(df._jdf.queryExecution().executedPlan().toString()),
            "\n".join(
                str(r[0]) for r in spark.sql("EXPLAIN EXTENDED SELECT * FROM snap_a").collect()
            ),
            "\n".join(f"{r[0]} {r[1]}" for r in spark.sql("DESCRIBE EXTENDED snap_a").collect()),
            repr(table),
            repr(table.read),
            table.read.describe(),
            str(spark.sparkContext.getConf().getAll()),
            str(df.rdd.toDebugString()),
            caplog.text,
        ]
        assert df.count() == 3990
    for text in texts:
        assert PASSWORD not in text
        assert "s3cr" not in text
    assert relation in texts[1]  # the plan was really rendered
