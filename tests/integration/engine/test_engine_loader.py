"""The COPY loader of a finished plan: the catalog's collations decide which string filters reach
PostgreSQL (ranges only under "C"/POSIX, nothing under a nondeterministic collation)."""

from __future__ import annotations

from typing import Any

import pytest

from spark_jobs import load_read, plan_table

from .conftest import EngineDb

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def test_string_filters_follow_the_column_collations(spark: Any, engine_db: EngineDb) -> None:
    engine_db.execute("DROP TABLE IF EXISTS coll; DROP COLLATION IF EXISTS ci_und")
    engine_db.execute(
        "CREATE COLLATION ci_und (provider = icu, locale = 'und-u-ks-level2', "
        "deterministic = false)"
    )
    engine_db.execute(
        'CREATE TABLE coll (id int PRIMARY KEY, c text COLLATE "C", d text, ci text COLLATE ci_und)'
    )
    engine_db.execute("INSERT INTO coll VALUES (1, 'a', 'a', 'A'), (2, 'b', 'b', 'b')")
    read = plan_table(spark, engine_db.settings, "eng.public.coll")
    assert {c.name: c.string_filter for c in read.described} == {
        "id": "none",
        "c": "ordering",
        "d": "equality",
        "ci": "none",
    }
    df = load_read(spark, read).dataframe
    query = df.where("c >= 'b' AND d = 'b' AND ci = 'b'")
    plan = query._jdf.queryExecution().executedPlan().toString()
    pushed = plan[plan.index("PushedFilters:") :].split("]")[0]
    assert '"c" >=' in pushed and '"d" =' in pushed and '"ci"' not in pushed
    # the nondeterministic collation's equality ('A' = 'a') stays Spark's: byte equality
    assert [r["id"] for r in query.collect()] == [2]
    assert [r["id"] for r in df.where("ci = 'a'").collect()] == []
