"""Every type the engine decodes, read through real Spark and compared with PostgreSQL's values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, List

import pytest

from .conftest import EngineDb

NATIVE = """
CREATE TABLE native (
    id int PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
    n numeric(12,2), nbig numeric(38,10), nneg numeric(5,-2), m money, t text, vc varchar(10),
    c char(4), by bytea, u uuid, d date, ts timestamp, tz timestamptz, o oid,
    ai int4[], at text[], ab bool[], au uuid[], af float8[], aby bytea[], j jsonb, iv interval
)"""
ROWS = """
INSERT INTO native VALUES
 (1, true, 32767, 2147483647, 9223372036854775807, 3.4028235e38, 1.7976931348623157e308,
  9999999999.99, 1234567890123456789012345678.0123456789, 9999900, 92233720368547758.07,
  'héllo ✓ 😀', 'ab''c"d', 'x', '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '4713-01-01 BC', '0001-01-01 00:00:00', '1970-01-01 00:00:00.000001+00', 4294967295,
  '{1,NULL,-3}', '{"a",NULL,"ü"}', '{t,f,NULL}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}',
  '{NaN,Infinity,-0.5}', '{"\\\\x01",NULL}', '{"k": [1, "v"]}', '1 year 2 mons -3 days 04:05:06.789'),
 (2, false, -32768, -2147483648, -9223372036854775808, -1.5, 'NaN', -0.01,
  -0.0000000001, -100, -0.01, '', '', '', '', '00000000-0000-0000-0000-000000000000',
  '5874897-12-31', '294247-01-10 04:00:54.775807', '1582-10-10 12:00:00+00', 0,
  '{}', '{}', '{}', '{}', '{Infinity}', '{}', '[]', '0 seconds'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, true, 0, 0, 0, 'Infinity', '-Infinity', 0, 0, 0, 0, 'x', 'y', 'zz', '\\x', NULL,
  '1582-10-05', '1582-10-14 23:59:59.999999', '2000-01-01 00:00:00+00', 1,
  '{0}', '{""}', '{f}', NULL, '{-0}', '{"\\\\x"}', 'null', '-1 days')
"""


@pytest.fixture(scope="module")
def native(engine_db: EngineDb) -> EngineDb:
    engine_db.execute("DROP TABLE IF EXISTS native")
    engine_db.execute(NATIVE)
    engine_db.execute(ROWS)
    return engine_db


def test_schema_is_the_type_policys(spark: Any, native: EngineDb) -> None:
    df, _ = native.read(spark, '"public"."native"')
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert types == {
        "id": "int", "b": "boolean", "i2": "smallint", "i4": "int", "i8": "bigint",
        "f4": "float", "f8": "double", "n": "decimal(12,2)", "nbig": "decimal(38,10)",
        "nneg": "decimal(7,0)", "m": "decimal(22,3)", "t": "string", "vc": "string",
        "c": "string", "by": "binary", "u": "string", "d": "date", "ts": "timestamp",
        "tz": "timestamp", "o": "bigint", "ai": "array<int>", "at": "array<string>",
        "ab": "array<boolean>", "au": "array<string>", "af": "array<double>",
        "aby": "array<binary>", "j": "string", "iv": "string",
    }  # fmt: skip


def test_values_equal_postgresqls(spark: Any, native: EngineDb) -> None:
    df, counts = native.read(spark, '"public"."native"')
    # beyond Python's datetime: compared as numbers in the next test
    got = {r["id"]: r.asDict() for r in df.drop("d", "ts", "tz").collect()}
    one, two, null, four = got[1], got[2], got[3], got[4]
    assert one["b"] is True and one["i2"] == 32767 and one["i4"] == 2147483647
    assert one["i8"] == 9223372036854775807 and two["i8"] == -9223372036854775808
    assert one["f4"] == pytest.approx(3.4028235e38) and one["f8"] == 1.7976931348623157e308
    assert two["f8"] != two["f8"]  # NaN reads as NaN in a float column
    assert four["f4"] == float("inf") and four["f8"] == float("-inf")
    assert one["n"] == Decimal("9999999999.99") and two["n"] == Decimal("-0.01")
    assert one["nbig"] == Decimal("1234567890123456789012345678.0123456789")
    assert two["nbig"] == Decimal("-0.0000000001")
    assert one["nneg"] == Decimal("9999900") and two["nneg"] == Decimal("-100")
    assert one["m"] == Decimal("92233720368547758.070") and two["m"] == Decimal("-0.010")
    assert one["t"] == "héllo ✓ 😀" and one["vc"] == "ab'c\"d" and one["c"] == "x   "
    assert two["t"] == "" and two["c"] == "    "
    assert bytes(one["by"]) == b"\x00\xff\x10" and bytes(two["by"]) == b""
    assert one["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert two["u"] == "00000000-0000-0000-0000-000000000000"
    assert one["o"] == 4294967295
    assert one["ai"] == [1, None, -3] and two["ai"] == [] and four["ai"] == [0]
    assert one["at"] == ["a", None, "ü"] and four["at"] == [""]
    assert one["ab"] == [True, False, None]
    assert one["au"] == ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", None]
    assert one["af"][1] == float("inf") and one["af"][2] == -0.5 and one["af"][0] != one["af"][0]
    assert [bytes(x) if x is not None else None for x in one["aby"]] == [b"\x01", None]
    assert one["j"] == '{"k": [1, "v"]}' and one["iv"] == "P1Y2M-3DT4H5M6.789000S"
    assert all(value is None for key, value in null.items() if key != "id")
    assert counts.counts() == {"n": 0, "nbig": 0, "nneg": 0, "m": 0, "d": 0, "ts": 0, "tz": 0,
                               "ai": 0, "at": 0, "ab": 0, "au": 0, "af": 0, "aby": 0}  # fmt: skip


def test_dates_and_timestamps_exact_including_1582(spark: Any, native: EngineDb) -> None:
    """Days / microseconds by epoch offset, proleptic Gregorian on both sides: the 1582 gap and
    the extremes read exactly (compared as days and microseconds, beyond Python's datetime)."""
    df, _ = native.read(spark, '"public"."native"')
    got = {
        r[0]: (r[1], r[2], r[3])
        for r in df.selectExpr(
            "id", "datediff(d, DATE'1970-01-01')", "unix_micros(ts)", "unix_micros(tz)"
        ).collect()
    }
    want = {
        r[0]: (r[1], r[2], r[3])
        for r in native.rows(
            "SELECT id, d - DATE '1970-01-01', "
            "(extract(epoch FROM ts - TIMESTAMP '1970-01-01') * 1000000)::int8, "
            "(extract(epoch FROM tz) * 1000000)::int8 FROM native"
        )
    }
    assert got == want
    four = df.where("id = 4").select("d", "ts").collect()[0]
    assert four["d"] == dt.date(1582, 10, 5)
    assert four["ts"] == dt.datetime(1582, 10, 14, 23, 59, 59, 999999)


def numeric_read(spark: Any, db: EngineDb, expr: str, precision: int, scale: int) -> Any:
    from spark_jobs.read.copy_columns import EngineColumn
    from spark_jobs.read.copy_engine import copy_read

    column = EngineColumn("n", "numeric", expr, precision=precision, scale=scale)
    return copy_read(
        spark,
        url=db.target.url,
        properties=db.target.properties(),
        source_sql="(SELECT 1) AS one",
        columns=[column],
        label="numeric-edge",
    )


@pytest.mark.parametrize(
    ("expr", "precision", "scale", "expected"),
    [
        ("0::numeric", 10, 2, "0.00"),
        ("0.0001::numeric", 10, 4, "0.0001"),
        ("-123456789012345678::numeric", 18, 0, "-123456789012345678"),
        ("99999999999999999999999999999999999999::numeric", 38, 0, "9" * 38),
        ("1e20::numeric", 38, 5, "100000000000000000000.00000"),
        ("1.5::numeric(10,1)", 10, 4, "1.5000"),  # a smaller scale than the column's
    ],
)
def test_numeric_edges_decode_exactly(
    spark: Any, engine_db: EngineDb, expr: str, precision: int, scale: int, expected: str
) -> None:
    df, counts = numeric_read(spark, engine_db, expr, precision, scale)
    assert str(df.collect()[0]["n"]) == expected
    assert counts.counts() == {"n": 0}


@pytest.mark.parametrize("special", ["NaN", "Infinity", "-Infinity"])
def test_numeric_specials_are_counted(spark: Any, engine_db: EngineDb, special: str) -> None:
    df, counts = numeric_read(spark, engine_db, f"'{special}'::numeric", 10, 2)
    assert df.collect()[0]["n"] is None
    assert counts.counts() == {"n": 1}


@pytest.mark.parametrize(
    ("expr", "message"),
    [("12.345::numeric", "more fraction digits"), ("123456::numeric", "more digits")],
)
def test_numeric_that_does_not_fit_fails_naming_the_column(
    spark: Any, engine_db: EngineDb, expr: str, message: str
) -> None:
    df, _ = numeric_read(spark, engine_db, expr, 4, 2)
    with pytest.raises(Exception, match=f"column n: a value has {message} than DECIMAL\\(4,2\\)"):
        df.collect()


def test_a_bad_column_spec_is_refused_at_load(spark: Any, engine_db: EngineDb) -> None:
    from spark_jobs.read.copy_columns import CopyEngineError, EngineColumn
    from spark_jobs.read.copy_engine import copy_read

    with pytest.raises(CopyEngineError, match="column x: unknown kind 'int16'"):
        copy_read(
            spark,
            url=engine_db.target.url,
            properties=engine_db.target.properties(),
            source_sql="(SELECT 1 AS x) AS q",
            columns=[EngineColumn("x", "int16", '"x"')],
            label="q",
        )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("d < make_date(-100, 1, 1)", [1]),  # proleptic year -100 is 101 BC in PostgreSQL
        ("d = make_date(1582, 10, 5)", [4]),  # inside the Gregorian gap
        ("ts < make_timestamp(1, 1, 1, 0, 0, 1)", [1]),
        ("ts >= make_timestamp(1582, 10, 14, 23, 59, 59.999999)", [2, 4]),
    ],
)
def test_pushed_date_and_timestamp_literals_are_exact(
    spark: Any, native: EngineDb, condition: str, expected: List[int]
) -> None:
    df, _ = native.read(spark, '"public"."native"')
    result = df.where(condition).select("id")
    assert sorted(r["id"] for r in result.collect()) == expected
    assert "Filter " not in result._jdf.queryExecution().executedPlan().toString()
