"""read_table / read_query / load_tables against the real server and local Spark, compared row
by row with what psycopg reads from the same tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, List, Tuple

import pytest

from connectors.errors import ColumnNotFoundError, PartitioningError, QueryError, TableNotFoundError
from spark_jobs import load_read, load_tables, plan_query, plan_table, read_query, read_table
from spark_jobs.read.partitioning import PartitionOverrides
from spark_jobs.read.spark_jdbc import spark_options

from .conftest import ReadDb

pytestmark = [pytest.mark.spark]

KEYED_ROWS = 5000
ODD_SQL = '"Mixed Schema"."Odd ""Table"""'
ODD = "it." + ODD_SQL


@pytest.fixture(scope="module")
def tables(read_db: ReadDb) -> ReadDb:
    statements = [
        "DROP TABLE IF EXISTS keyed, skewed, empty_keyed, nokey, events, x CASCADE",
        'DROP SCHEMA IF EXISTS "Mixed Schema" CASCADE',
        "CREATE TABLE keyed (id bigint PRIMARY KEY, n int, t text, d date, ts timestamptz, "
        "lts timestamp)",
        "INSERT INTO keyed SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g * 3 - 7000 END, "
        "CASE WHEN g % 7 = 0 THEN NULL WHEN g % 11 = 0 THEN '' ELSE 'row ' || g || ' é' END, "
        "DATE '2000-01-01' + g, "
        "TIMESTAMPTZ '2024-03-10 01:59:59.123456+00' + g * INTERVAL '37 minutes 1.5 seconds', "
        "TIMESTAMP '1999-12-31 23:59:59.999999' + g * INTERVAL '1 hour' "
        f"FROM generate_series(-20, {KEYED_ROWS - 21}) g",
        "CREATE TABLE skewed (k int, payload text)",
        "INSERT INTO skewed SELECT CASE WHEN g % 10 < 3 THEN NULL WHEN g % 10 < 7 THEN 7 "
        "ELSE (g * 7919) % 100000 END, 'p' || g FROM generate_series(1, 20000) g ORDER BY 1 NULLS FIRST",
        "CREATE INDEX ON skewed (k)",
        "ANALYZE skewed",
        "CREATE TABLE empty_keyed (id int PRIMARY KEY, v text)",
        "CREATE TABLE nokey (a text, b numeric(12, 2))",
        "INSERT INTO nokey SELECT md5(g::text), g / 7.0 FROM generate_series(1, 3000) g",
        "CREATE TABLE events (id int, d date, ts timestamp)",
        "CREATE INDEX ON events (d)",
        "INSERT INTO events VALUES (1, 'infinity', 'infinity'), (2, '-infinity', '-infinity'), "
        "(3, NULL, NULL), (4, '2024-02-29', '2024-02-29 12:00'), (5, '0044-03-15 BC', NULL)",
        "INSERT INTO events SELECT g, DATE '2020-01-01' + g, "
        "TIMESTAMP '2020-01-01' + g * INTERVAL '1 day' FROM generate_series(10, 2000) g",
        "CREATE TABLE x (id int)",
        'CREATE SCHEMA "Mixed Schema"',
        'GRANT USAGE ON SCHEMA "Mixed Schema" TO sparkpg_reader',
        f'CREATE TABLE {ODD_SQL} ("Id" int PRIMARY KEY, "select" text, "Name With Space" text)',
        'GRANT SELECT ON ALL TABLES IN SCHEMA "Mixed Schema" TO sparkpg_reader',
        f"INSERT INTO {ODD_SQL} VALUES (1, 'a', NULL), (2, NULL, 'b c'), (3, ';', '\"')",
    ]
    for statement in statements:
        read_db.execute(statement)
    return read_db


def source_rows(db: ReadDb, query: str) -> List[Tuple[Any, ...]]:
    return [tuple(_utc(v) for v in row) for row in db.rows(query)]


def spark_rows(df: Any, *order: str) -> List[Tuple[Any, ...]]:
    return [tuple(row) for row in df.orderBy(*order).collect()]


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


KEYED_SQL = "SELECT id, n, t, d, ts, lts FROM keyed ORDER BY id"


@pytest.mark.parametrize(
    ("overrides", "strategy", "partitions"),
    [
        ({}, "single", 1),
        ({"num_partitions": 4}, "key_range", 4),
        ({"strategy": "page_range", "num_partitions": 3}, "page_range", 3),
        ({"key_column": "d", "num_partitions": 2}, "key_range", 2),
        ({"key_column": "ts", "num_partitions": 3, "lower_bound": "2024-04-01"}, "key_range", 3),
        ({"key_column": "n", "lower_bound": 100, "upper_bound": 200}, "key_range", 2),
    ],
)
def test_every_strategy_reads_every_row_once_with_its_values(
    spark: Any, tables: ReadDb, overrides: dict, strategy: str, partitions: int
) -> None:
    settings = tables.settings()
    planned = plan_table(spark, settings, "it.keyed", partitioning=overrides)
    assert (planned.plan.strategy, planned.plan.num_partitions) == (strategy, partitions)
    df = load_read(spark, planned).dataframe
    assert df.rdd.getNumPartitions() == partitions
    assert df.columns == ["id", "n", "t", "d", "ts", "lts"]
    assert spark_rows(df, "id") == source_rows(tables, KEYED_SQL)


def test_nulls_and_rows_outside_user_bounds_land_in_first_and_last_partitions(
    spark: Any, tables: ReadDb
) -> None:
    settings = tables.settings()
    df = read_table(
        spark,
        settings,
        "it.keyed",
        columns=["n"],
        partitioning={"key_column": "n", "lower_bound": 0, "upper_bound": 10, "num_partitions": 3},
    )
    from pyspark.sql import functions as F

    per_partition = {
        r["p"]: (r["rows"], r["nulls"], r["lo"], r["hi"])
        for r in df.groupBy(F.spark_partition_id().alias("p"))
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.col("n").isNull().cast("int")).alias("nulls"),
            F.min("n").alias("lo"),
            F.max("n").alias("hi"),
        )
        .collect()
    }
    total = tables.rows(
        "SELECT count(*), count(*) FILTER (WHERE n IS NULL), min(n), max(n) FROM keyed"
    )[0]
    assert sum(v[0] for v in per_partition.values()) == total[0]
    assert per_partition[0][1] == total[1]  # every NULL in the first partition
    assert per_partition[0][2] == total[2]  # and everything below the lower bound
    assert per_partition[2][3] == total[3]  # everything above the upper bound in the last
    assert sorted(r[0] for r in df.collect() if r[0] is not None) == [
        r[0] for r in tables.rows("SELECT n FROM keyed WHERE n IS NOT NULL ORDER BY n")
    ]


def test_skewed_key_with_nulls_gets_balanced_partitions(spark: Any, tables: ReadDb) -> None:
    from pyspark.sql import functions as F

    settings = tables.settings()
    planned = plan_table(spark, settings, "it.skewed", partitioning={"num_partitions": 4})
    assert planned.plan.key_column == "k" and "pg_stats" in planned.plan.reason
    df = load_read(spark, planned).dataframe
    sizes = [
        r["c"]
        for r in df.groupBy(F.spark_partition_id()).agg(F.count(F.lit(1)).alias("c")).collect()
    ]
    # 30% NULL, 40% one value: no partition can hold less than the NULLs or more than NULLs+7s,
    # but equal strides over 0..99,999 would put 80% of the rows in the first partition.
    assert max(sizes) <= 0.45 * 20000
    by_payload = sorted(spark_rows(df, "payload"), key=lambda r: r[1])
    assert by_payload == sorted(tables.rows("SELECT k, payload FROM skewed"), key=lambda r: r[1])


def test_empty_table_reads_no_rows_even_when_split(spark: Any, tables: ReadDb) -> None:
    settings = tables.settings()
    planned = plan_table(spark, settings, "it.empty_keyed", partitioning={"num_partitions": 4})
    assert planned.plan.strategy == "single"
    assert "no finite non-NULL" in planned.plan.reason
    df = load_read(spark, planned).dataframe
    assert df.collect() == []
    assert df.columns == ["id", "v"]


def test_table_without_key_splits_by_pages(spark: Any, tables: ReadDb) -> None:
    settings = tables.settings()
    planned = plan_table(spark, settings, "it.nokey", partitioning={"num_partitions": 3})
    assert planned.plan.strategy == "page_range"
    assert planned.plan.num_partitions == 3
    df = load_read(spark, planned).dataframe
    assert "__sparkpg_ctid" not in df.columns
    assert spark_rows(df, "a") == tables.rows("SELECT a, b FROM nokey ORDER BY a")
    with pytest.raises(PartitioningError, match="has type text; a key must be"):
        plan_table(spark, settings, "it.nokey", partitioning={"key_column": "a"})


def test_infinite_and_null_dates_as_key_are_read_once(spark: Any, tables: ReadDb) -> None:
    settings = tables.settings()
    for key in ("d", "ts"):
        planned = plan_table(
            spark,
            settings,
            "it.events",
            columns=["id"],
            partitioning={"key_column": key, "num_partitions": 4},
        )
        assert planned.plan.strategy == "key_range"
        ids = sorted(r[0] for r in load_read(spark, planned).dataframe.collect())
        assert ids == [r[0] for r in tables.rows("SELECT id FROM events ORDER BY id")]


def test_quoted_and_mixed_case_names(spark: Any, tables: ReadDb) -> None:
    settings = tables.settings()
    df = read_table(spark, settings, ODD)
    assert df.columns == ["Id", "select", "Name With Space"]
    assert spark_rows(df, "Id") == tables.rows(
        f'SELECT "Id", "select", "Name With Space" FROM {ODD_SQL} ORDER BY 1'
    )
    only = read_table(spark, settings, ODD, columns=["Name With Space"])
    assert only.columns == ["Name With Space"]


def test_columns_and_filter_are_pushed_down(spark: Any, tables: ReadDb) -> None:
    settings = tables.settings()
    df = read_table(
        spark,
        settings,
        "it.keyed",
        columns=["id", "t"],
        where="t LIKE 'row 1%' AND id < 500",
        partitioning={"num_partitions": 2},
    )
    assert spark_rows(df, "id") == tables.rows(
        "SELECT id, t FROM keyed WHERE t LIKE 'row 1%' AND id < 500 ORDER BY id"
    )
    with pytest.raises(ColumnNotFoundError, match=r"no column 'ID' \(did you mean id"):
        read_table(spark, settings, "it.keyed", columns=["ID"])


def test_injection_attempts_execute_nothing(spark: Any, tables: ReadDb) -> None:
    settings = tables.settings()
    with pytest.raises(
        TableNotFoundError, match=r'"keyed; drop table x" not found; did you mean: it.public.keyed'
    ):
        read_table(spark, settings, "it.public.keyed; drop table x")
    with pytest.raises(QueryError, match="';'"):
        read_table(spark, settings, "it.keyed", where="true; drop table x")
    with pytest.raises(QueryError, match="unbalanced"):
        read_table(spark, settings, "it.keyed", where="true) AS s; drop table x; --")
    with pytest.raises(QueryError, match="';'"):
        read_query(spark, settings, "it", "select 1; drop table x")
    assert tables.rows("SELECT to_regclass('public.x') IS NOT NULL") == [(True,)]


def test_read_query_single_and_split(spark: Any, tables: ReadDb) -> None:
    settings = tables.settings()
    query = "SELECT id, t AS label FROM keyed WHERE id % 3 = 0"
    single = read_query(spark, settings, "it", query)
    assert single.rdd.getNumPartitions() == 1
    expected = tables.rows(query + " ORDER BY id")
    assert spark_rows(single, "id") == expected
    planned = plan_query(
        spark, settings, "it", query, partitioning={"key_column": "id", "num_partitions": 3}
    )
    assert planned.plan.strategy == "key_range"
    assert spark_rows(load_read(spark, planned).dataframe, "id") == expected
    with pytest.raises(ColumnNotFoundError, match="did you mean label"):
        plan_query(spark, settings, "it", query, partitioning={"key_column": "labl"})


def test_read_query_keeps_numeric_precision_from_the_driver_metadata(
    spark: Any, tables: ReadDb
) -> None:
    query = (
        "SELECT 1234567890.12::numeric(12,2) AS amount, 1.5::numeric AS ratio, "
        "12345::numeric(5,-2) AS hundreds, 7 AS n"
    )
    df = read_query(spark, tables.settings(), "it", query)
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [
        ("amount", "decimal(12,2)"),
        ("ratio", "string"),  # unconstrained: exact text
        ("hundreds", "decimal(7,0)"),
        ("n", "int"),
    ]
    assert [tuple(r) for r in df.collect()] == [
        (Decimal("1234567890.12"), "1.5", Decimal(12300), 7)
    ]


def test_load_tables_registers_views_by_table_name(spark: Any, tables: ReadDb) -> None:
    settings = tables.settings()
    dfs = load_tables(
        spark,
        settings,
        ["it.keyed", ODD],
        partitioning=PartitionOverrides(num_partitions=2),
    )
    assert sorted(dfs) == ['Odd "Table"', "keyed"]
    joined = spark.sql(
        'SELECT k.id, o.`select` FROM keyed k JOIN `Odd "Table"` o ON k.id = o.Id ORDER BY k.id'
    ).collect()
    assert [tuple(r) for r in joined] == [(1, "a"), (2, None), (3, ";")]


def test_binary_transfer_is_the_default_and_can_be_switched_off(spark: Any, tables: ReadDb) -> None:
    settings = tables.settings()
    on = plan_table(spark, settings, "it.keyed")
    off = plan_table(spark, settings, "it.keyed", binary_transfer=False, fetch_size=123)
    assert spark_options(on)["prepareThreshold"] == "-1"
    assert "prepareThreshold" not in spark_options(off)
    assert on.target.properties(binary_transfer=on.binary_transfer)["prepareThreshold"] == "-1"
    assert "prepareThreshold" not in off.target.properties(binary_transfer=off.binary_transfer)
    assert spark_options(on)["fetchsize"] == "10000"
    assert spark_options(off)["fetchsize"] == "123"
    assert spark_rows(load_read(spark, off).dataframe, "id") == spark_rows(
        load_read(spark, on).dataframe, "id"
    )


def test_partitioned_table_and_view(spark: Any, tables: ReadDb) -> None:
    tables.execute("DROP TABLE IF EXISTS parted CASCADE")
    tables.execute("CREATE TABLE parted (id int PRIMARY KEY, v text) PARTITION BY RANGE (id)")
    for lo, hi in ((0, 1000), (1000, 1500), (1500, 10000)):
        tables.execute(
            f"CREATE TABLE parted_{lo} PARTITION OF parted FOR VALUES FROM ({lo}) TO ({hi})"
        )
    tables.execute("INSERT INTO parted SELECT g, 'v' || g FROM generate_series(0, 2999) g")
    tables.execute("CREATE VIEW parted_view AS SELECT id, v FROM parted WHERE id % 2 = 0")
    tables.execute("GRANT SELECT ON parted, parted_view TO sparkpg_reader")
    settings = tables.settings()
    expected = tables.rows("SELECT id, v FROM parted ORDER BY id")
    for overrides in ({"strategy": "page_range", "num_partitions": 3}, {"num_partitions": 3}):
        planned = plan_table(spark, settings, "it.parted", partitioning=overrides)
        assert planned.plan.num_partitions == 3
        assert spark_rows(load_read(spark, planned).dataframe, "id") == expected
    view = plan_table(spark, settings, "it.parted_view")
    assert view.plan.strategy == "single" and "a view" in view.plan.reason
    split = plan_table(spark, settings, "it.parted_view", partitioning={"key_column": "id"})
    assert split.plan.strategy == "key_range"
    assert spark_rows(load_read(spark, split).dataframe, "id") == expected[::2]


def test_type_policy_applies_to_every_strategy(spark: Any, tables: ReadDb) -> None:
    tables.execute("DROP TABLE IF EXISTS typed")
    tables.execute(
        'CREATE TABLE typed (id int PRIMARY KEY, amount numeric, "we""ird" date, at time(6))'
    )
    tables.execute(
        "INSERT INTO typed VALUES (1, 12345678901234567890.123456789012345, '2024-02-29', "
        "'23:59:59.999999'), (2, 'NaN', 'infinity', NULL), (3, NULL, NULL, '00:00:00.000001')"
    )
    tables.execute("GRANT SELECT ON typed TO sparkpg_reader")
    settings = tables.settings()
    for overrides in ({}, {"num_partitions": 2}, {"strategy": "page_range", "num_partitions": 2}):
        df = read_table(spark, settings, "it.typed", partitioning=overrides)
        assert df.columns == ["id", "amount", 'we"ird', "at"]
        rows = spark_rows(df, "id")
        assert rows[0][1] == "12345678901234567890.123456789012345"  # exact, as text
        assert rows[1][1] == "NaN"
        assert rows[0][2] == dt.date(2024, 2, 29) and rows[1][2] is None  # infinity -> NULL
    as_text = read_table(spark, settings, "it.typed", unrepresentable="text")
    assert spark_rows(as_text, "id")[1][2] == "infinity"
