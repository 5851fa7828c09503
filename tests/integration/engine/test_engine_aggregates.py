"""Aggregates, top-N, offset and samples pushed into the COPY's query: each pushed query gives
exactly what Spark computes with pushdown off (values and types), on a table with NULLs, NaN,
infinities, extremes, skewed and empty groups; the plan and the COPY statement show the push."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs import load_read, plan_table

from .conftest import EngineDb

AGGS = """
CREATE TABLE aggs (id int NOT NULL, g int, s text COLLATE "C", t text, b bool, i2 int2, i4 int4,
                   i8 int8, f8 float8, n numeric(10,2), d date, ts timestamp, tz timestamptz,
                   nu numeric, o oid);
INSERT INTO aggs
SELECT x, CASE WHEN x % 7 = 0 THEN NULL WHEN x % 5 = 0 THEN 9 ELSE x % 3 END,
       CASE WHEN x % 4 = 0 THEN NULL ELSE 'é' || chr(65 + x % 40) END, 'T' || x % 4,
       CASE WHEN x % 6 = 0 THEN NULL ELSE x % 2 = 0 END,
       (x * 311 % 65535) - 32767, x * 104729 % 2147483647 - 1073741823,
       CASE WHEN x % 2 = 0 THEN 9223372036854775807 - x ELSE x END,
       x * 0.25 - 3, x / 8.0 - 4, DATE '2001-01-01' + x * 37, TIMESTAMP '1999-12-31' + x * interval '1 h 7 s',
       TIMESTAMPTZ '1950-06-01 00:00:00+00' + x * interval '3 days 1 us',
       CASE WHEN x % 9 = 0 THEN NULL WHEN x % 10 = 0 THEN 'NaN' ELSE x / 7.0 END,
       CASE WHEN x % 2 = 0 THEN 4294967295 ELSE x END::oid
FROM generate_series(1, 120) x;
INSERT INTO aggs (id, g, s, t, b, i2, i4, i8, f8, n, d, ts, tz) VALUES
 (201, 1, 'zz', 'T1', true, 32767, 2147483647, 9223372036854775807, 'NaN', 'NaN', 'infinity',
  'infinity', '-infinity'),
 (202, 2, '', 'T2', false, -32768, -2147483648, -9223372036854775808, 'Infinity', 'NaN',
  '-infinity', '-infinity', 'infinity'),
 (203, 9, 'a', 'T3', NULL, NULL, NULL, NULL, '-Infinity', -99999999.99, NULL, NULL, NULL),
 (204, 2, NULL, NULL, NULL, NULL, NULL, NULL, '-0', NULL, NULL, NULL, NULL),
 (205, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
"""
#: values the decoder reads as NULL (and counts) in n, d, ts
UNREPRESENTABLE = {"n": 2, "d": 2, "ts": 2}
ONE = ()
BY_ID = ("id <= 60", "id > 60 AND id <= 130", "id > 130")
BY_G = ("g < 2 OR g IS NULL", "g >= 2 AND g < 9", "g >= 9")
OFF = {"Aggregate": False, "TopN": False, "Offset": False, "TableSample": False}


@pytest.fixture(autouse=True)
def _ansi_off(spark: Any) -> Iterator[None]:
    """Spark's non-ANSI arithmetic (the default of Spark 3.5; Spark 4 turns ANSI on): the
    comparisons below wrap and overflow as the pushed SQL must; ANSI mode has its own test."""
    previous = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        yield
    finally:
        spark.conf.set("spark.sql.ansi.enabled", previous)


@pytest.fixture(scope="module")
def db(engine_db: EngineDb) -> EngineDb:
    engine_db.execute("DROP TABLE IF EXISTS aggs")
    engine_db.execute(AGGS)
    return engine_db


def read(
    spark: Any,
    db: EngineDb,
    predicates: Sequence[str],
    *,
    pushdown: Optional[dict] = None,
    partition_column: Optional[str] = None,
) -> Tuple[DataFrame, Any]:
    """The aggs table through the engine: s ordered as bytes (COLLATE "C"), t by equality."""
    return db.read(
        spark,
        '"public"."aggs"',
        predicates=predicates,
        string_filters={"s": "ordering"},
        pushdown=pushdown,
        partition_column=partition_column,
    )


def scan_of(df: DataFrame) -> Any:
    """The COPY engine's scan in ``df``'s physical plan (before adaptive execution)."""
    leaves = df._jdf.queryExecution().sparkPlan().collectLeaves()
    return leaves.head().scan()


def canonical(rows: List[Any]) -> List[Tuple[Any, ...]]:
    """Rows as sortable tuples (NaN as a string, so it equals itself; -0.0 kept by its sign)."""

    def value(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return ("nan",)
        if isinstance(v, float):
            return ("float", v, math.copysign(1.0, v))
        return ("v", repr(v))

    return sorted(tuple(value(v) for v in r) for r in rows)


def same_as_spark(
    spark: Any,
    db: EngineDb,
    query: Callable[[DataFrame], DataFrame],
    predicates: Sequence[str] = ONE,
    partition_column: Optional[str] = None,
    ordered: bool = False,
) -> Any:
    """Run ``query`` with pushdown on and off; same rows and types. The pushed scan."""
    on, _ = read(spark, db, predicates, partition_column=partition_column)
    off, _ = read(spark, db, predicates, pushdown=OFF, partition_column=partition_column)
    pushed, plain = query(on), query(off)
    assert pushed.dtypes == plain.dtypes
    got, want = pushed.collect(), plain.collect()
    if ordered:
        assert [canonical([r]) for r in got] == [canonical([r]) for r in want]
    else:
        assert canonical(got) == canonical(want)
    assert not any(word in scan_of(plain).description() for word in ("Aggregates", "TopN"))
    return scan_of(pushed)


def every_aggregate() -> List[Any]:
    """Each pushable function on each kind of column."""
    return [
    F.count("*"), F.count("n"), F.count("d"), F.count("ts"), F.count("s"), F.count("t"),
    F.min("i2"), F.max("i2"), F.min("i4"), F.max("i4"), F.min("i8"), F.max("i8"),
    F.min("n"), F.max("n"), F.min("d"), F.max("d"),
    F.min("ts"), F.max("ts"), F.min("tz"), F.max("tz"), F.min("b"), F.max("b"),
    F.min("s"), F.max("s"), F.sum("i8"),
    ]  # fmt: skip


@pytest.mark.parametrize("predicates", [ONE, BY_ID], ids=["one", "partial"])
def test_every_pushable_aggregate_is_spark_exact(
    spark: Any, db: EngineDb, predicates: Sequence[str]
) -> None:
    scan = same_as_spark(spark, db, lambda df: df.agg(*every_aggregate()), predicates)
    text = scan.description()
    assert "PushedAggregates" in text
    assert ("complete" in text) == (predicates == ONE)
    sql = scan.copySql(predicates[0] if predicates else None)
    assert "count(*) FILTER (WHERE NOT" in sql and "bool_and(" in sql and " GROUP BY" not in sql


def test_count_moves_one_row_per_partition(spark: Any, db: EngineDb) -> None:
    df, _ = read(spark, db, BY_ID)
    assert df.count() == 125
    scan = scan_of(df.groupBy().count())
    assert scan.copySql("id <= 60") == (
        'COPY (SELECT count(*) FROM "public"."aggs" WHERE (id <= 60)) TO STDOUT (FORMAT binary)'
    )
    assert list(scan.readSchema().fieldNames()) == ["agg0"]
    assert df.where("id > 1000").count() == 0


@pytest.mark.parametrize(
    ("predicates", "key"),
    [(ONE, None), (BY_G, "g")],
    ids=["one-partition", "grouped-by-the-partition-key"],
)
def test_group_by_complete(
    spark: Any, db: EngineDb, predicates: Sequence[str], key: Optional[str]
) -> None:
    def query(df: DataFrame) -> DataFrame:
        return df.groupBy("g").agg(
            F.count("*"), F.count("i4"), F.sum("i2"), F.sum("i4"), F.sum("i8"), F.sum("n"),
            F.min("n"), F.max("d"), F.countDistinct("t"),
        )  # fmt: skip

    scan = same_as_spark(spark, db, query, predicates, partition_column=key)
    assert "PushedGroupBy" in scan.description() and "complete" in scan.description()
    assert ' GROUP BY "g"' in scan.copySql(predicates[0] if predicates else None)


@pytest.mark.parametrize("column", ["d", "n", "t", "b", "ts"])
def test_group_by_columns_read_as_null_merge_with_null(
    spark: Any, db: EngineDb, column: str
) -> None:
    scan = same_as_spark(spark, db, lambda df: df.groupBy(column).agg(F.count("*"), F.max("id")))
    assert "PushedGroupBy" in scan.description()


def test_partial_group_by_is_merged_by_spark(spark: Any, db: EngineDb) -> None:
    def query(df: DataFrame) -> DataFrame:
        return df.groupBy("g", "b").agg(F.count("*"), F.min("tz"), F.max("s"), F.sum("i8"))

    scan = same_as_spark(spark, db, query, BY_ID)
    assert "partial per partition" in scan.description()


@pytest.mark.parametrize(
    "query",
    [
        lambda df: df.agg(F.avg("i4")),  # Spark sums a double: rounding differs
        lambda df: df.agg(F.sum("f8")),  # summation order
        lambda df: df.agg(F.min("t")),  # collation order
        lambda df: df.where("f8 >= 0").agg(F.min("f8")),  # 0.0 or -0.0: see below
        lambda df: df.where("f8 <= 0").agg(F.max("f8")),
        lambda df: df.groupBy("f8").count(),  # -0.0 and 0.0: Spark returns 0.0
        lambda df: df.agg(F.stddev("i4")),
        lambda df: df.agg(F.sum(F.col("i4") + 1)),  # an expression
    ],
    ids=[
        "avg",
        "sum-float",
        "min-collated-text",
        "min-float",
        "max-float",
        "group-by-float",
        "stddev",
        "expression",
    ],
)
def test_aggregates_that_differ_stay_in_spark(spark: Any, db: EngineDb, query: Any) -> None:
    scan = same_as_spark(spark, db, query)
    assert "PushedAggregates" not in scan.description()


def test_min_and_max_of_float_zeros_keep_sparks_sign(spark: Any, db: EngineDb) -> None:
    """id 32 holds 0.0, id 204 -0.0: equal, so Spark's MIN and MAX keep the first they see,
    PostgreSQL's float8smaller/float8larger the last; pushed, the answer was -0.0."""
    for query in (
        lambda df: df.where("f8 >= 0").agg(F.min("f8")),
        lambda df: df.where("f8 <= 0").groupBy("b").agg(F.max("f8")),
    ):
        scan = same_as_spark(spark, db, query, BY_ID)
        assert "PushedAggregates" not in scan.description()
    on, _ = read(spark, db, ONE)
    [(zero,)] = on.where("f8 >= 0").agg(F.min("f8")).collect()
    assert zero == 0.0 and math.copysign(1.0, zero) == 1.0


def test_a_date_filter_after_year_9999_is_pushed_as_postgresql_writes_it(
    spark: Any, db: EngineDb
) -> None:
    """A date literal after 9999 was sent as ISO's DATE '+5874897-12-31', which PostgreSQL
    refused (the query failed); one PostgreSQL cannot hold stays in Spark."""
    last = "d <= date_from_unix_date(2145042905)"  # 5874897-12-31, PostgreSQL's last date
    scan = same_as_spark(spark, db, lambda df: df.where(last).agg(F.count("*"), F.max("d")))
    assert "DATE '5874897-12-31'" in scan.description()
    df, _ = read(spark, db, ONE)
    assert df.where(last).count() == 120  # +-infinity are NULL to Spark
    beyond = df.where("d < date_from_unix_date(2147483647)")  # Spark's last date, +5881580
    assert "DATE" not in scan_of(beyond).description() and beyond.count() == 120


def test_count_of_a_column_read_as_text_is_exact(spark: Any, db: EngineDb) -> None:
    """An unconstrained numeric is read as text (``"nu"::text AS "nu"``); its COUNT was pushed
    as ``count("nu"::text AS "nu")``, a syntax error. It now stays in Spark."""
    scan = same_as_spark(
        spark, db, lambda df: df.groupBy("g").agg(F.count("nu"), F.count("*")), BY_G, "g"
    )
    assert "PushedAggregates" not in scan.description()
    df, _ = read(spark, db, ONE)
    assert df.agg(F.count("nu")).collect()[0][0] == 107  # NaN is text here


def test_oid_filters_compare_as_spark_compares_longs(spark: Any, db: EngineDb) -> None:
    """oid is unsigned: PostgreSQL read ``"o" > (-1)`` as ``"o" > 4294967295`` (no row, where
    Spark keeps all 120) and failed ``"o" < (4294967296)`` (OID out of range)."""
    for where in ("o > -1L", "o = -1L", "o < 4294967296L", "o >= 4294967295L"):

        def query(df: DataFrame, where: str = where) -> DataFrame:
            return df.where(where).agg(F.count("*"), F.max("o"))

        same_as_spark(spark, db, query, BY_ID)
    df, _ = read(spark, db, ONE)
    assert [df.where(w).count() for w in ("o > -1L", "o = -1L", "o < 4294967296L")] == [120, 0, 120]
    assert "'4294967295'::oid" in scan_of(df.where("o = 4294967295L")).description()


def test_partial_sums_of_int_and_distinct_counts_stay_in_spark(spark: Any, db: EngineDb) -> None:
    for query in (lambda df: df.agg(F.sum("i4")), lambda df: df.agg(F.countDistinct("g"))):
        assert "PushedAggregates" not in same_as_spark(spark, db, query, BY_ID).description()


def test_pushed_aggregates_count_the_values_read_as_null(spark: Any, db: EngineDb) -> None:
    df, counts = read(spark, db, BY_ID)
    result = df.groupBy("ts").agg(F.min("n"), F.count("d"))
    assert "PushedAggregates" in scan_of(result).description()
    result.collect()
    assert counts.counts() == {**UNREPRESENTABLE, "tz": 0}  # tz is not read
    full, full_counts = read(spark, db, BY_ID, pushdown=OFF)
    full.groupBy("ts").agg(F.min("n"), F.count("d")).collect()
    assert full_counts.counts() == {**UNREPRESENTABLE, "tz": 0}


@contextmanager
def conf(spark: Any, key: str, value: str) -> Iterator[None]:
    spark.conf.set(key, value)
    try:
        yield
    finally:
        spark.conf.unset(key)


def test_switches_turn_pushdown_off(spark: Any, db: EngineDb) -> None:
    df, _ = read(spark, db, ONE)
    with conf(spark, "spark.sparkpg.read.pushDownAggregate", "false"):
        assert "PushedAggregates" not in scan_of(df.groupBy("g").count()).description()
    with conf(spark, "spark.sparkpg.read.pushDownTopN", "false"):
        assert "TopN" not in scan_of(df.orderBy("id").limit(3)).description()
    assert "PushedAggregates" in scan_of(df.groupBy("g").count()).description()
    off, _ = read(spark, db, ONE, pushdown={"Aggregate": False})
    assert "PushedAggregates" not in scan_of(off.groupBy("g").count()).description()
    bad = conf(spark, "spark.sparkpg.read.pushDownAggregate", "maybe")
    with bad, pytest.raises(Exception, match="must be true or false, not 'maybe'"):
        df.groupBy("g").count().collect()


def test_ansi_mode_keeps_bigint_sums_in_spark(spark: Any, db: EngineDb) -> None:
    with conf(spark, "spark.sql.ansi.enabled", "true"):
        df, _ = read(spark, db, ONE)
        # Spark itself fails this sum (long overflow): nothing to compare
        assert "PushedAggregates" not in scan_of(df.agg(F.sum("i8"))).description()
        scan = same_as_spark(spark, db, lambda df: df.agg(F.sum("i4"), F.sum("n")))
        assert "PushedAggregates" in scan.description()


def sort_column(text: str) -> Any:
    """``"-d nulls last"``: descending d, NULLs last (Spark's default NULL order otherwise)."""
    name, _, nulls = text.lstrip("-").partition(" nulls ")
    column = F.col(name)
    if text.startswith("-"):
        return {"": column.desc(), "first": column.desc_nulls_first()}.get(
            nulls, column.desc_nulls_last()
        )
    return {"": column.asc(), "last": column.asc_nulls_last()}.get(nulls, column.asc_nulls_first())


@pytest.mark.parametrize("predicates", [ONE, BY_ID], ids=["one", "three"])
@pytest.mark.parametrize(
    "order",
    [
        ("n", "id"),
        ("-d", "id"),
        ("ts nulls last", "-id"),
        ("-f8 nulls first", "id"),
        ("-s nulls last", "id"),
        ("b", "-i8", "id"),
        ("-tz nulls last", "id"),
    ],
    ids=["numeric", "date-desc", "ts-nulls-last", "float-nulls-first", "c-text", "bool", "tz"],
)
def test_top_n_is_pushed_where_postgresql_orders_as_spark(
    spark: Any, db: EngineDb, predicates: Sequence[str], order: Tuple[str, ...]
) -> None:
    columns = [sort_column(text) for text in order]
    scan = same_as_spark(
        spark, db, lambda df: df.orderBy(*columns).limit(7), predicates, ordered=True
    )
    assert "PushedTopN: ORDER BY" in scan.description()
    assert " LIMIT 7)" in scan.copySql(predicates[0] if predicates else None)


def test_top_n_on_collated_text_stays_in_spark(spark: Any, db: EngineDb) -> None:
    scan = same_as_spark(spark, db, lambda df: df.orderBy("t", "id").limit(5), BY_ID, ordered=True)
    assert "TopN" not in scan.description()


def test_offset_is_pushed_with_one_partition(spark: Any, db: EngineDb) -> None:
    scan = same_as_spark(
        spark, db, lambda df: df.orderBy("id").offset(3).limit(4), ONE, ordered=True
    )
    assert "PushedOffset: 3" in scan.description()
    assert scan.copySql(None).endswith(
        'ORDER BY "id" ASC NULLS FIRST LIMIT 4 OFFSET 3) TO STDOUT (FORMAT binary)'
    )
    multi = same_as_spark(
        spark, db, lambda df: df.orderBy("id").offset(3).limit(4), BY_ID, ordered=True
    )
    assert "PushedOffset" not in multi.description()


def test_sample_is_a_repeatable_bernoulli_sample(spark: Any, db: EngineDb) -> None:
    df, _ = read(spark, db, BY_ID)
    sample = df.sample(fraction=0.5, seed=11)
    assert "TABLESAMPLE BERNOULLI (50.0) REPEATABLE (11)" in scan_of(sample).description()
    ids = sorted(r["id"] for r in sample.select("id").collect())
    assert ids == sorted(r["id"] for r in sample.select("id").collect())
    assert 30 < len(ids) < 95 and set(ids) <= set(range(1, 206))
    assert "TABLESAMPLE" not in scan_of(df.sample(True, 0.5, seed=11)).description()


def test_a_read_option_switches_each_pushdown_off_for_one_read(spark: Any, db: EngineDb) -> None:
    off = plan_table(spark, db.settings, "eng.public.aggs", pushdown_off=("aggregate", "top_n"))
    df = load_read(spark, off).dataframe
    assert "PushedAggregates" not in scan_of(df.groupBy("g").count()).description()
    assert "TopN" not in scan_of(df.orderBy("id").limit(3)).description()
    on = load_read(spark, plan_table(spark, db.settings, "eng.public.aggs")).dataframe
    assert "PushedAggregates" in scan_of(on.groupBy("g").count()).description()
    assert "TopN" in scan_of(on.orderBy("id").limit(3)).description()
