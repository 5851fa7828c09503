"""Consistent snapshots across partitions and tables; no secret in plans, logs, reprs or errors."""

from __future__ import annotations

import contextlib
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


@pytest.fixture()
def versioned(read_db: ReadDb) -> ReadDb:
    """``snap_v``: 6,000 rows over about 30 pages, every value ``old``."""
    read_db.execute("DROP TABLE IF EXISTS snap_v")
    read_db.execute(
        "CREATE TABLE snap_v (id int PRIMARY KEY, v text);"
        "INSERT INTO snap_v SELECT g, 'old' FROM generate_series(1, 6000) g; ANALYZE snap_v"
    )
    return read_db


@pytest.mark.parametrize("engine", ["copy", "jdbc"])
def test_a_snapshot_read_by_page_ranges_reads_each_row_once_as_of_the_snapshot(
    spark: Any, versioned: ReadDb, engine: str
) -> None:
    settings = versioned.settings()
    with consistent_snapshot(spark, settings, "it") as snap:
        read = plan_table(
            spark, settings, "it.snap_v", snapshot=snap, engine=engine,
            partitioning={"num_partitions": 4},
        )  # fmt: skip
        assert (read.plan.strategy, read.plan.num_partitions) == ("page_range", 4)
        # After the snapshot: every row gets a new version on another page, more rows come.
        versioned.execute(
            "UPDATE snap_v SET v = 'new'; INSERT INTO snap_v SELECT g, 'new' "
            "FROM generate_series(6001, 7000) g"
        )
        rows = load_read(spark, read).dataframe.collect()
        assert sorted(r["id"] for r in rows) == list(range(1, 6001))
        assert {r["v"] for r in rows} == {"old"}
    now = load_read(spark, plan_table(spark, settings, "it.snap_v", engine=engine)).dataframe
    assert now.count() == 7000 and now.where("v = 'old'").count() == 0


@pytest.mark.parametrize("engine", ["copy", "jdbc"])
@pytest.mark.parametrize(
    ("in_snapshot", "partitioning", "fails"),
    [
        (True, {"num_partitions": 3}, True),  # page ranges in the snapshot
        (True, {"key_column": "id", "num_partitions": 3}, True),  # the snapshot itself
        (False, {"strategy": "page_range", "num_partitions": 3}, True),
        (False, {"key_column": "id", "num_partitions": 3}, False),  # keys find every row
    ],
)
def test_a_table_rewritten_after_planning_fails_the_reads_that_depend_on_its_storage(
    spark: Any, versioned: ReadDb, engine: str, in_snapshot: bool, partitioning: Any, fails: bool
) -> None:
    settings = versioned.settings()
    with contextlib.ExitStack() as stack:
        snap = (
            stack.enter_context(consistent_snapshot(spark, settings, "it")) if in_snapshot else None
        )
        read = plan_table(
            spark, settings, "it.snap_v", snapshot=snap, engine=engine, partitioning=partitioning
        )
        assert read.checks_storage is fails
        versioned.execute("VACUUM FULL snap_v")  # the same rows, in new storage
        df = load_read(spark, read).dataframe
        if not fails:
            assert df.count() == 6000
            return
        with pytest.raises(Exception) as caught:
            df.collect()
        error = read_error_of(caught.value, read)
        assert error is not None and "was rewritten after the read was planned" in str(error)
        assert error.sqlstate == "55000"
