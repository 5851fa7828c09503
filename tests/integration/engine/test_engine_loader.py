"""The COPY loader of a finished plan: the catalog's collations decide which string filters reach
PostgreSQL (ranges only under a collation that orders bytes, nothing under a nondeterministic
collation)."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import psycopg
import pytest
from psycopg import sql

from spark_jobs import load_read, plan_table
from spark_jobs.read.describe import describe_source

from .conftest import EngineDb

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def test_string_filters_follow_the_column_collations(spark: Any, engine_db: EngineDb) -> None:
    engine_db.execute("DROP TABLE IF EXISTS coll; DROP COLLATION IF EXISTS ci_und")
    engine_db.execute(
        "CREATE COLLATION ci_und (provider = icu, locale = 'und-u-ks-level2', "
        "deterministic = false)"
    )
    engine_db.execute(
        'CREATE TABLE coll (id int PRIMARY KEY, c text COLLATE "C", d text COLLATE "und-x-icu", '
        "ci text COLLATE ci_und)"
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


@pytest.mark.parametrize(
    ("create", "expected"),
    [
        # the default collation orders bytes: ranges on columns without a COLLATE clause too
        ("LOCALE 'C' ENCODING 'UTF8'", {"d": "ordering", "v": "ordering", "c": "ordering"}),
        ("LOCALE 'POSIX' ENCODING 'UTF8'", {"d": "ordering", "v": "ordering", "c": "ordering"}),
        # an ICU default orders by language rules: equality only, unless the column says "C"
        (
            "LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'und' ENCODING 'UTF8'",
            {"d": "equality", "v": "equality", "c": "ordering"},
        ),
        # bytes of LATIN2 do not sort in code point order (which Spark's UTF-8 bytes follow),
        # not even under "C"
        ("LOCALE 'C' ENCODING 'LATIN2'", {"d": "equality", "v": "equality", "c": "equality"}),
        # LATIN1's bytes are the first 256 code points, in order
        ("LOCALE 'C' ENCODING 'LATIN1'", {"d": "ordering", "v": "ordering", "c": "ordering"}),
    ],
)
def test_string_ranges_follow_the_database_default_collation_and_encoding(
    engine_db: EngineDb, create: str, expected: Dict[str, str]
) -> None:
    name = "sparkpg_collation_probe"
    admin = engine_db.server.conninfo()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        try:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ").format(sql.Identifier(name))
                + sql.SQL(create)  # type: ignore[arg-type]
            )
        except psycopg.errors.FeatureNotSupported as exc:  # a server built without ICU
            pytest.skip(f"the server cannot create this database: {exc}")
    try:
        with psycopg.connect(engine_db.server.conninfo(dbname=name), autocommit=True) as conn:
            conn.execute('CREATE TABLE t (d text, v varchar(9), c text COLLATE "C", n int)')

            def run(query: str, params: Sequence[Any]) -> List[Tuple[Any, ...]]:
                return [tuple(r) for r in conn.execute(query).fetchall()]  # type: ignore[arg-type]

            filters = {c.name: c.string_filter for c in describe_source(run, '"public"."t"')}
        assert filters == {**expected, "n": "none"}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
