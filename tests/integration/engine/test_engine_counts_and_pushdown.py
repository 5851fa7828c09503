"""Counting unrepresentable values while decoding; column pruning and filter pushdown."""

from __future__ import annotations

from typing import Any, List

import pytest

from .conftest import EngineDb

LOSSY = """
CREATE TABLE lossy (id int, n numeric(10,2), d date, ts timestamp, tz timestamptz, a int4[]);
INSERT INTO lossy VALUES
 (1, 'NaN', 'infinity', 'infinity', '-infinity', '{{1,2},{3,4}}'),
 (2, 1.5, '-infinity', '294247-01-10 04:00:54.775808', 'infinity', '[0:1]={1,2}'),
 (3, 2.5, '2020-02-29', '2020-02-29 12:00:00', '2020-02-29 12:00:00+00', '{7,NULL}'),
 (4, NULL, NULL, NULL, NULL, NULL)
"""
PUSHY = """
CREATE TABLE pushy (id int, name text, code text COLLATE "C", c char(3), d date,
                    tz timestamptz, n numeric(6,2), f float8, j jsonb, "we""ird" text);
INSERT INTO pushy
SELECT g, CASE WHEN g % 3 = 0 THEN 'it''s' ELSE 'n' || g END, chr(96 + g % 26), 'a',
       DATE '2020-01-01' + g, TIMESTAMPTZ '2020-01-01 00:00:00+00' + g * interval '1 hour',
       g / 4.0, g * 0.5, jsonb_build_object('g', g), 'q"' || g
FROM generate_series(1, 40) g;
INSERT INTO pushy (id, d, tz, n, f) VALUES (100, 'infinity', 'infinity', 'NaN', 'NaN')
"""


@pytest.fixture(scope="module")
def tables(engine_db: EngineDb) -> EngineDb:
    engine_db.execute("DROP TABLE IF EXISTS lossy, pushy")
    engine_db.execute(LOSSY)
    engine_db.execute(PUSHY)
    return engine_db


def scan_metric(df: Any, name: str) -> int:
    """The value of a custom metric of the (only) scan in ``df``'s executed plan."""
    leaf = df._jdf.queryExecution().executedPlan().collectLeaves().head()
    return int(leaf.metrics().get(name).get().value())


def test_unrepresentable_values_are_counted_while_decoding(spark: Any, tables: EngineDb) -> None:
    df, counts = tables.read(spark, '"public"."lossy"', predicates=["id <= 2", "id > 2"])
    assert counts.counts() == {"n": 0, "d": 0, "ts": 0, "tz": 0, "a": 0}
    rows = {r["id"]: r for r in df.collect()}
    assert all(rows[i][c] is None for i in (1, 2) for c in ("d", "ts", "tz", "a"))
    assert rows[1]["n"] is None and str(rows[2]["n"]) == "1.50"
    assert rows[3]["a"] == [7, None] and str(rows[3]["n"]) == "2.50"
    want = {"n": 1, "d": 2, "ts": 2, "tz": 2, "a": 2}
    assert counts.counts() == want
    # the SQL tab's metrics (column positions 1..5) say the same
    assert [scan_metric(df, f"sparkpg_unrepresentable_{i}") for i in range(1, 6)] == [1, 2, 2, 2, 2]
    # another action, a pruned and a limited read do not count twice or lower a count
    assert df.count() == 4 and df.select("n").collect() and df.limit(1).collect()
    assert counts.counts() == want


def test_pruning_reads_only_the_selected_columns(spark: Any, tables: EngineDb) -> None:
    df, _ = tables.read(spark, '"public"."pushy"')
    pruned = df.select("name", "id")
    assert pruned.schema.names == ["name", "id"]
    scan = pruned._jdf.queryExecution().executedPlan().collectLeaves().head().scan()
    assert list(scan.readSchema().fieldNames()) == ["id", "name"]
    assert scan.copySql(None) == (
        'COPY (SELECT "id", "name" FROM "public"."pushy") TO STDOUT (FORMAT binary)'
    )
    assert df.count() == 41  # no columns at all: SELECT FROM ...


def fully_pushed(df: Any) -> bool:
    """True when Spark left no filter of its own above the scan."""
    return "Filter " not in str(df._jdf.queryExecution().executedPlan().toString())


@pytest.mark.parametrize(
    ("condition", "is_pushed", "expected_ids"),
    [
        ("id > 38", True, [39, 40, 100]),
        ("id IN (1, 2, 100) AND f = 0.5", True, [1]),
        ('name = "it\'s" AND id < 7', True, [3, 6]),
        ("`we\"ird` = 'q\"5'", True, [5]),
        ("name IS NULL", True, [100]),
        ("n > 9.5", True, [39, 40]),  # NaN is greater than all in PostgreSQL: guarded
        ("d >= DATE'2020-02-09'", True, [39, 40]),  # infinity read as NULL: guarded
        ("tz > TIMESTAMP'2020-01-02 14:00:00'", True, [39, 40]),
        ("f > 19.5", True, [40, 100]),  # NaN in a float column is NaN on both sides
        # a counted column under NOT: PostgreSQL would return the infinity row
        ("NOT (d IN (DATE'2020-01-02'))", False, list(range(2, 41))),
        ("name > 'n7'", False, [8]),  # string order depends on the collation
        ("code > 'x'", True, [25]),  # COLLATE "C": bytes, like Spark
        ("c = 'a'", False, []),  # bpchar pads: 'a  ' = 'a' in PostgreSQL only
        ("j = '{\"g\": 1}'", False, [1]),  # read as text: Spark compares the text
        ("d IS NULL", True, [100]),  # infinity is NULL in Spark: pushed as such
        ("n IS NOT NULL AND id > 38", True, [39, 40]),  # NaN is NULL in Spark
    ],
)
def test_filters_pushed_only_where_postgresql_means_the_same(
    spark: Any, tables: EngineDb, condition: str, is_pushed: bool, expected_ids: List[int]
) -> None:
    df, _ = tables.read(spark, '"public"."pushy"', string_filters={"code": "ordering"})
    result = df.where(condition)
    ids = sorted(r["id"] for r in result.select("id").collect())
    assert ids == expected_ids
    assert fully_pushed(result) == is_pushed, result._jdf.queryExecution().executedPlan().toString()
