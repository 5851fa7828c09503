"""Regressions of the type policy against the real server and Spark: unsized bpchar (killed the
JVM), column names that differ only in case (COLUMN_ALREADY_EXISTS), inet's netmask."""

from __future__ import annotations

import logging
from typing import Any, Iterator

import psycopg
import pytest

from connectors.settings import Settings
from spark_jobs import plan_query, plan_table, read_query, read_table

pytestmark = [pytest.mark.integration, pytest.mark.spark]

SCHEMA = "sparkpg regressions"


@pytest.fixture(scope="module")
def schema(pg_admin: psycopg.Connection[Any]) -> Iterator[str]:
    pg_admin.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    pg_admin.execute(f'CREATE SCHEMA "{SCHEMA}"')
    for ddl in (
        'CREATE TABLE "{s}".unsized (id int, c bpchar)',
        "INSERT INTO \"{s}\".unsized VALUES (1, 'ab  '), (2, ''), (3, NULL), (4, ' 😀 ')",
        'CREATE TABLE "{s}".sized (id int, c4 char(4), c1 char(1))',
        "INSERT INTO \"{s}\".sized VALUES (1, 'ab', 'x'), (2, NULL, '')",
        'CREATE VIEW "{s}".mixed AS SELECT id, c4 AS c FROM "{s}".sized '
        'UNION ALL SELECT id + 10, c1 FROM "{s}".sized',
        'CREATE TABLE "{s}".cased ("ID" int, id text, "Id" bool, id__2 int)',
        "INSERT INTO \"{s}\".cased VALUES (1, 'one', true, 12), (2, 'two', NULL, 22)",
        'CREATE TABLE "{s}".hosts (id int, ip inet, net cidr)',
        "INSERT INTO \"{s}\".hosts VALUES (1, '172.16.0.42', '10.0.0.0/8'), "
        "(2, '::1/128', '10.0.0.1/32'), (3, '192.168.0.1/24', NULL)",
    ):
        pg_admin.execute(ddl.format(s=SCHEMA))
    yield SCHEMA
    pg_admin.execute(f'DROP SCHEMA "{SCHEMA}" CASCADE')


def rows(df: Any) -> list:  # type: ignore[type-arg]
    return sorted((tuple(r) for r in df.collect()), key=lambda r: r[0])


def test_an_unsized_bpchar_column_reads_as_its_text(
    spark: Any, types_settings: Settings, schema: str
) -> None:
    df = read_table(spark, types_settings, f'types."{schema}".unsized')
    assert df.schema.simpleString() == "struct<id:int,c:string>"
    assert rows(df) == [(1, "ab  "), (2, ""), (3, None), (4, " 😀 ")]


def test_a_union_view_of_char_columns_keeps_the_padding_char_n_reads_with(
    spark: Any, types_settings: Settings, schema: str
) -> None:
    read = plan_table(spark, types_settings, f'types."{schema}".mixed')
    assert {p.name: p.policy for p in read.columns}["c"] == "bpchar-text"
    df = read_table(spark, types_settings, f'types."{schema}".mixed')
    # char(4) 'ab' is stored (and read, natively or through the view) blank-padded: 'ab  '.
    assert rows(df) == [(1, "ab  "), (2, None), (11, "x"), (12, " ")]
    sized = read_table(spark, types_settings, f'types."{schema}".sized')
    assert rows(sized) == [(1, "ab  ", "x"), (2, None, " ")]


def test_a_bpchar_query_result_reads_as_text(spark: Any, types_settings: Settings) -> None:
    sql = "SELECT 'ab'::bpchar AS a, 'ab  '::bpchar AS b, 'x'::char(3) AS c"
    read = plan_query(spark, types_settings, "types", sql)
    # A query's char(n) typmod is not known either (only numeric's is): the same output text.
    assert [p.policy for p in read.columns] == ["bpchar-text"] * 3
    assert read_query(spark, types_settings, "types", sql).collect()[0] == ("ab", "ab  ", "x  ")


def test_columns_that_differ_only_in_case_are_renamed_with_a_warning(
    spark: Any, types_settings: Settings, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="spark_jobs.read.planner"):
        df = read_table(spark, types_settings, f'types."{schema}".cased')
    assert df.columns == ["ID", "id__3", "Id__4", "id__2"]
    assert rows(df) == [(1, "one", True, 12), (2, "two", None, 22)]
    assert (
        "Spark resolves column names case-insensitively, so columns whose names differ only in "
        "case are renamed in the DataFrame: 'id' -> 'id__3', 'Id' -> 'Id__4'"
    ) in caplog.text
    # Selecting one of them needs no rename.
    only = read_table(spark, types_settings, f'types."{schema}".cased', columns=["id"])
    assert only.columns == ["id"] and rows(only) == [("one",), ("two",)]


def test_inet_reads_as_psql_shows_it(spark: Any, types_settings: Settings, schema: str) -> None:
    df = read_table(spark, types_settings, f'types."{schema}".hosts')
    assert rows(df) == [
        (1, "172.16.0.42", "10.0.0.0/8"),
        (2, "::1", "10.0.0.1/32"),
        (3, "192.168.0.1/24", None),
    ]
