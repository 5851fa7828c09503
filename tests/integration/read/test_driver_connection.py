"""The driver-side connection opens, binds a query's parameters and fetches its whole result in
one py4j call each (the engine JAR's DriverQueries) with exactly the values the path without the
JAR (a call per property, parameter and value) gives, on every kind of value pgjdbc returns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator, List, Tuple

import pytest

from spark_jobs.db.connection import DriverConnection, connect
from spark_jobs.db.target import resolve_target

from .conftest import ReadDb

pytestmark = [pytest.mark.spark]

VALUES = """
SELECT 'a:b' || chr(10) || 'é😀' AS t, NULL::text AS nothing, ''::text AS empty,
       (-32768)::int2 AS i2, 2147483647::int4 AS i4, (-9223372036854775808)::int8 AS i8,
       4294967295::oid AS o, 0.1::float4 AS f4, '-0'::float8 AS negzero, 'NaN'::float8 AS nan,
       '-Infinity'::float8 AS neginf, 123456789012345678901234567890.123456789::numeric AS big,
       'NaN'::numeric AS numnan, 0.0000001::numeric AS sci, true AS yes, false AS no,
       'x '::char(3) AS ch, DATE '2024-02-29' AS d, TIMESTAMPTZ '2024-01-01 12:00:00+00' AS tz,
       ARRAY['a', NULL, 'b:c'] AS arr, '\\x00ff'::bytea AS raw,
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, '{"k": [1, 2]}'::jsonb AS doc,
       interval '1 day 2 hours' AS span
"""


@pytest.fixture
def driver(spark: Any, read_db: ReadDb) -> Iterator[DriverConnection]:
    connection = connect(spark, resolve_target(read_db.settings().connection("it")))
    try:
        yield connection
    finally:
        connection.close()


def typed(rows: List[Tuple[Any, ...]]) -> List[List[Tuple[str, str]]]:
    """Rows as (type, repr) pairs: NaN equals NaN, -0.0 differs from 0.0, 1 from True."""
    return [[(type(v).__name__, repr(v)) for v in row] for row in rows]


def per_value(driver: DriverConnection, sql: str, params: Tuple[Any, ...] = ()) -> List[Any]:
    """``sql``'s rows fetched one value per py4j call (as without the engine JAR)."""
    queries, driver._queries = driver._queries, None
    try:
        return driver.query(sql, params)
    finally:
        driver._queries = queries


def py4j_calls(spark: Any, monkeypatch: Any, run: Any) -> int:
    client = spark.sparkContext._gateway._gateway_client
    send = type(client).send_command
    calls = []

    def counted(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(command)
        return send(self, command, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(type(client), "send_command", counted)
        run()
    return len(calls)


@pytest.mark.parametrize(
    "sql",
    [
        VALUES,
        "SELECT g, g::text || repeat('é', g % 5), g / 7.0 FROM generate_series(1, 300) g",
        "SELECT 1 AS one WHERE false",
        "SELECT FROM generate_series(1, 3)",
    ],
    ids=["every-kind", "many-rows", "no-rows", "no-columns"],
)
def test_one_call_results_equal_per_value_results(driver: DriverConnection, sql: str) -> None:
    whole = driver.query(sql)
    assert driver._queries is not None  # the engine JAR's class was used
    assert typed(whole) == typed(per_value(driver, sql))


PARAMETERS = (None, True, False, -(2**63), 2**63 - 1, 0.1, -0.0, float("inf"), float("nan"),
              "é😀 ' \\ ?", "", Decimal("12.50"))  # fmt: skip


def test_parameters_bind_as_without_the_jar(driver: DriverConnection) -> None:
    sql = "SELECT ?::text, " + ", ".join("?" for _ in PARAMETERS[1:])
    (row,) = driver.query(sql, PARAMETERS)
    assert typed([row]) == typed(per_value(driver, sql, PARAMETERS))
    assert row[:5] == (None, True, False, -(2**63), 2**63 - 1)
    assert repr(row[5:9]) == "(0.1, -0.0, inf, nan)"
    assert row[9:] == ("é😀 ' \\ ?", "", "12.50")  # other values bind as text


def test_the_server_version_comes_without_a_query(spark: Any, read_db: ReadDb) -> None:
    connection = connect(spark, resolve_target(read_db.settings().connection("it")))
    try:
        version = connection.server_version_num
        ((asked,),) = connection.query("SELECT current_setting('server_version_num')::int")
        assert version == asked and version >= 120000
    finally:
        connection.close()


def test_every_kind_reads_as_python_values(driver: DriverConnection) -> None:
    (row,) = driver.query(VALUES)
    assert row[:8] == ("a:b\né😀", None, "", -32768, 2147483647, -9223372036854775808,
                       4294967295, 0.1)  # fmt: skip
    assert repr(row[8:11]) == "(-0.0, nan, -inf)"
    assert str(row[11]) == "123456789012345678901234567890.123456789"
    assert repr(row[12]) == "nan" and str(row[13]) == "1E-7"
    assert row[14:17] == (True, False, "x  ")
    assert row[19] == '{"a",NULL,"b:c"}' and row[20] == b"\x00\xff"
    assert row[21:] == (
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        '{"k": [1, 2]}',
        "1 days 2 hours",
    )  # PGInterval


def test_a_query_is_one_py4j_call_whatever_its_size(
    spark: Any, driver: DriverConnection, monkeypatch: Any
) -> None:
    def rows(n: int) -> int:
        sql = f"SELECT g, g::text FROM generate_series(1, {n}) g WHERE g > ?"
        return py4j_calls(spark, monkeypatch, lambda: driver.query(sql, [0]))

    assert rows(1) == rows(500) == 1


def test_connecting_takes_a_few_py4j_calls(spark: Any, read_db: ReadDb, monkeypatch: Any) -> None:
    target = resolve_target(read_db.settings().connection("it"))
    connect(spark, target).close()  # the classes are looked up once per JVM
    opened: List[DriverConnection] = []
    calls = py4j_calls(spark, monkeypatch, lambda: opened.append(connect(spark, target)))
    opened[0].close()
    assert calls <= 3  # connect, the server's version, the session settings
