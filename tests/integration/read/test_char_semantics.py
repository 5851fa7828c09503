"""character(n) compares as PostgreSQL compares it: trailing blanks do not count, on both engines,
whether the filter is pushed down or evaluated by Spark (docs/types.md, Character types)."""

from __future__ import annotations

from typing import Any

import pytest

from spark_jobs import load_read, plan_table, read_table
from spark_jobs.read.types import CHAR_TYPE_METADATA

from .conftest import ReadDb

pytestmark = [pytest.mark.spark]

ENGINES = pytest.mark.parametrize("engine", ["copy", "jdbc"])


@pytest.fixture(scope="module")
def regions(read_db: ReadDb) -> ReadDb:
    for statement in [
        "DROP TABLE IF EXISTS region, nation_code",
        "CREATE TABLE region (r_regionkey int PRIMARY KEY, r_name char(25), r_comment varchar(152))",
        "INSERT INTO region VALUES (0, 'AFRICA', 'a'), (1, 'AMERICA', 'b'), (2, 'ASIA', 'c'), "
        "(3, 'EUROPE', 'd'), (4, 'MIDDLE EAST', 'e'), (5, NULL, 'f')",
        "CREATE TABLE nation_code (code char(10), region char(25))",
        "INSERT INTO nation_code VALUES ('NL', 'EUROPE'), ('JP', 'ASIA'), ('FR', 'EUROPE   ')",
    ]:
        read_db.execute(statement)
    return read_db


def _postgres_count(db: ReadDb, where: str) -> int:
    return int(db.rows(f"SELECT count(*) FROM region WHERE {where}")[0][0])


@ENGINES
def test_equality_and_in_on_char_find_what_postgresql_finds(
    spark: Any, regions: ReadDb, engine: str
) -> None:
    df = read_table(spark, regions.settings(), "it.region", engine=engine)
    for condition in ["r_name = 'EUROPE'", "r_name IN ('ASIA', 'EUROPE')", "r_name <> 'ASIA'"]:
        assert df.filter(condition).count() == _postgres_count(regions, condition), condition
    # The values keep PostgreSQL's padding (what psycopg and Spark's JDBC source return too).
    (row,) = df.filter("r_regionkey = 3").collect()
    assert row.r_name == "EUROPE".ljust(25)
    assert df.schema["r_name"].metadata == {CHAR_TYPE_METADATA: "char(25)"}


@ENGINES
def test_a_pushed_where_and_a_spark_filter_agree(spark: Any, regions: ReadDb, engine: str) -> None:
    settings = regions.settings()
    pushed = read_table(spark, settings, "it.region", engine=engine, where="r_name = 'EUROPE'")
    spark_side = read_table(spark, settings, "it.region", engine=engine).filter("r_name = 'EUROPE'")
    assert [r.r_regionkey for r in pushed.collect()] == [3]
    assert [r.r_regionkey for r in spark_side.collect()] == [3]


@ENGINES
def test_joins_and_grouping_across_char_lengths(spark: Any, regions: ReadDb, engine: str) -> None:
    settings = regions.settings()
    region = read_table(spark, settings, "it.region", engine=engine)
    codes = read_table(spark, settings, "it.nation_code", engine=engine)
    joined = codes.join(region, codes.region == region.r_name).select("code", "r_regionkey")
    got = sorted((r.code.rstrip(), r.r_regionkey) for r in joined.collect())
    expected = regions.rows(
        "SELECT rtrim(code), r_regionkey FROM nation_code JOIN region ON region = r_name"
    )
    assert got == sorted(tuple(r) for r in expected) == [("FR", 3), ("JP", 2), ("NL", 3)]
    groups = {r.region.rstrip(): r["count"] for r in codes.groupBy("region").count().collect()}
    assert groups == {"EUROPE": 2, "ASIA": 1}


def test_the_plan_keeps_the_char_length_for_both_engines(spark: Any, regions: ReadDb) -> None:
    for engine in ("copy", "jdbc"):
        loaded = load_read(spark, plan_table(spark, regions.settings(), "it.region", engine=engine))
        types = {
            f.name: f.metadata.get(CHAR_TYPE_METADATA, "") for f in loaded.dataframe.schema.fields
        }
        assert types["r_name"] == "char(25)", engine
        assert not types["r_comment"].startswith("char") and types["r_regionkey"] == "", engine
