"""The type policy against a real PostgreSQL and a real local Spark, in text and binary transfer.

One table holds a column of every type family with awkward values (see ``type_fixtures``). Spark
reads it through the product's own read path (``plan_table`` + ``load_read``, as ``read_table``
does); psycopg reads the same table; both sides are normalized to the policy's representation and
compared value by value, and the read's count of values read as NULL is compared with an
independent audit query. A second set of reads proves the policy necessary: Spark's default
mapping (plain ``jdbc_options``, no policy) fails or changes values for the dangerous types, with
either transfer mode.
"""

from __future__ import annotations

import math
import re
import struct
import uuid
from decimal import Decimal
from typing import Any, Callable, List, Optional, Tuple

import psycopg
import pyspark
import pytest
from psycopg import sql

from connectors.jdbc import TableRef, jdbc_options, quote_ident
from connectors.secrets import resolve_credentials
from connectors.settings import Settings
from spark_jobs import load_read, plan_table
from spark_jobs.read.describe import describe_source
from spark_jobs.read.types import PgColumn, custom_schema, plan_columns
from tests.integration.type_fixtures import ROWS, SCHEMA, TABLE, Col, create_types_table
from tests.type_audit import unrepresentable_counts_sql

pytestmark = [pytest.mark.integration]

SOURCE = f"{quote_ident(SCHEMA)}.{quote_ident(TABLE)}"
MODES = ("binary", "text")  # pgjdbc's binary transfer (the default) or its text protocol
GAP = ((1582, 10, 5), (1582, 10, 15))
SPARK_MAX = (294247, 1, 10, ((4 * 60 + 0) * 60 + 54) * 1_000_000 + 775807)


@pytest.fixture(scope="module")
def columns(pg_admin: psycopg.Connection[Any]) -> List[Col]:
    return create_types_table(pg_admin)


def run_query_on(conn: psycopg.Connection[Any]) -> Callable[[str, Any], List[Tuple[Any, ...]]]:
    def run_query(query: str, params: Any) -> List[Tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(query, params or None)  # type: ignore[arg-type]
            return cur.fetchall()

    return run_query


@pytest.fixture(scope="module")
def described(pg_admin: psycopg.Connection[Any], columns: List[Col]) -> List[PgColumn]:
    return describe_source(run_query_on(pg_admin), SOURCE)


def spark_read(spark: Any, settings: Settings, mode: str, dbtable: str) -> Any:
    """Spark's JDBC source with sparkpg's connection options and NO type policy."""
    connection = settings.connection("types")
    options = jdbc_options(
        connection, resolve_credentials(connection), binary_transfer=mode == "binary"
    )
    return spark.read.format("jdbc").options(**options, dbtable=dbtable).load()


# --------------------------------------------------------------------------------------------------
# normalizers: both sides to the policy's representation


def _float(value: Optional[float], single: bool = False) -> Any:
    if value is None:
        return None
    if math.isnan(value):
        return "NaN"
    if single:
        return struct.unpack(">f", struct.pack(">f", value))[0]
    return struct.pack(">d", value)  # keeps -0.0 apart from 0.0


def _plain(value: Any, single: bool = False) -> Any:
    if isinstance(value, float):
        return _float(value, single)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list):
        return [_plain(v, single) for v in value]
    return value


_PG_TS = re.compile(
    r"^(\d+)-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d+))?)?(?:[+-]\d\d(?::\d\d)?)?( BC)?$"
)
_SPARK_TS = re.compile(r"^([+-]?\d+)-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d+))?)?$")


def _ts_tuple(match: re.Match[str], year: int) -> Tuple[int, int, int, int]:
    hh, mm, ss, frac = (match.group(i) for i in (4, 5, 6, 7))
    micros = ((int(hh or 0) * 60 + int(mm or 0)) * 60 + int(ss or 0)) * 1_000_000
    micros += int((frac or "0").ljust(6, "0"))
    return (year, int(match.group(2)), int(match.group(3)), micros)


def pg_temporal(raw: Optional[str], is_date: bool = False, gap_exact: bool = False) -> Any:
    """PostgreSQL's text (UTC session) -> (astronomical year, month, day, micros), or None where
    the policy reads NULL: infinities, the 1582 gap (unless ``gap_exact``: the COPY engine reads
    it exactly), after Spark's maximum timestamp."""
    if raw is None or raw in ("infinity", "-infinity"):
        return None
    match = _PG_TS.match(raw)
    assert match, raw
    year = int(match.group(1))
    value = _ts_tuple(match, 1 - year if match.group(8) else year)
    if (not gap_exact and GAP[0] <= value[:3] < GAP[1]) or (value > SPARK_MAX and not is_date):
        return None
    return value


def spark_temporal(text: Optional[str]) -> Any:
    if text is None:
        return None
    match = _SPARK_TS.match(text)
    assert match, text
    return _ts_tuple(match, int(match.group(1)))


_ISO = re.compile(
    r"^P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)D)?(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?[\d.]+)S)?)?$"
)


def iso_interval(text: Optional[str]) -> Any:
    """An ISO 8601 duration -> (months, days, microseconds)."""
    if text is None:
        return None
    match = _ISO.match(text)
    assert match, text
    y, mo, d, h, mi = (int(match.group(i) or 0) for i in range(1, 6))
    seconds = Decimal(match.group(6) or 0)
    return (y * 12 + mo, d, (h * 3600 + mi * 60) * 1_000_000 + int(seconds * 1_000_000))


def expected_value(col: Col, raw: Optional[str], typed: Any, engine: str = "jdbc") -> Any:
    """What the policy must deliver on ``engine``, from psycopg's reading of the raw column."""
    if raw is None:
        return None
    kind = col.compare
    if kind == "text":
        return raw
    if kind == "native":
        return _plain(typed)
    if kind == "float4":
        return _plain(typed, single=True)
    if kind == "decimal":
        return None if raw == "NaN" else Decimal(raw)
    if kind == "money":
        return Decimal(raw.replace("$", "").replace(",", ""))
    if kind in ("date", "timestamp"):
        return pg_temporal(raw, is_date=kind == "date", gap_exact=engine == "copy")
    if kind == "interval":
        return iso_interval(raw)
    if kind == "array":
        if raw.startswith(("[", "{{")):  # lower bound other than 1, or more than one dimension
            return None
        return _plain(typed, single=col.type.startswith("real"))
    raise AssertionError(kind)


def actual_value(col: Col, value: Any) -> Any:
    kind = col.compare
    if value is None:
        return None
    if kind in ("date", "timestamp"):
        return spark_temporal(value)
    if kind == "interval":
        return iso_interval(value)
    if kind == "float4":
        return _plain(value, single=True)
    return _plain(value, single=col.type.startswith("real"))


def output_texts(conn: psycopg.Connection[Any], query: sql.Composable) -> List[Tuple[Any, ...]]:
    """The rows of ``query`` as PostgreSQL's output text of each value (the type's output
    function, what psql shows), not psycopg's Python values and not ``::text``."""
    with conn.cursor() as cur:
        cur.execute(query)
        result = cur.pgresult
        assert result is not None
        return [
            tuple(
                None if value is None else bytes(value).decode()
                for value in (result.get_value(row, col) for col in range(result.nfields))
            )
            for row in range(result.ntuples)
        ]


def psycopg_rows(conn: psycopg.Connection[Any], columns: List[Col]) -> Tuple[list, list]:  # type: ignore[type-arg]
    """(output text of every column, typed values of the natively compared ones), by id."""
    typed_cols = [c for c in columns if c.compare in ("native", "float4", "array")]
    raw_select = sql.SQL("SELECT {} FROM {} ORDER BY id").format(
        sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
        sql.SQL(SOURCE),
    )
    typed_select = sql.SQL("SELECT {} FROM {} ORDER BY id").format(
        sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Identifier(c.name), sql.SQL(c.typed_as or c.type))
            for c in typed_cols
        ),
        sql.SQL(SOURCE),
    )
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET DateStyle = 'ISO, YMD'")
    try:
        # PostgreSQL's own output as pgjdbc's session sees it (IntervalStyle postgres) ...
        raw = output_texts(conn, raw_select)
        # ... and intervals in ISO 8601, to check the policy's conversion independently.
        conn.execute("SET IntervalStyle = 'iso_8601'")
        iso = output_texts(conn, raw_select)
        typed = conn.execute(typed_select).fetchall()
    finally:
        conn.execute("RESET TimeZone")
        conn.execute("RESET IntervalStyle")
        conn.execute("RESET DateStyle")
    raw = [
        tuple(i if c.compare == "interval" else r for c, r, i in zip(columns, raw_row, iso_row))
        for raw_row, iso_row in zip(raw, iso)
    ]
    typed_by_name = [dict(zip([c.name for c in typed_cols], row)) for row in typed]
    return raw, typed_by_name


def test_output_text_differs_from_text_cast_only_where_the_policy_says(
    pg_admin: psycopg.Connection[Any], columns: List[Col], described: List[PgColumn]
) -> None:
    """For every column read as text, where does ``::text`` differ from the type's output? Only
    for inet (text(inet) appends the netmask) and unsized bpchar (text(bpchar) drops blanks):
    the policy must not use ``::text`` there."""
    text_cols = [c for c in columns if c.compare == "text"]
    query = sql.SQL("SELECT {} FROM {} ORDER BY id").format(
        sql.SQL(", ").join(
            sql.SQL("{0}, {0}::text").format(sql.Identifier(c.name)) for c in text_cols
        ),
        sql.SQL(SOURCE),
    )
    rows = output_texts(pg_admin, query)
    differ = sorted(
        {c.name for row in rows for i, c in enumerate(text_cols) if row[2 * i] != row[2 * i + 1]}
    )
    assert differ == ["bpu", "ip"]
    plans = {p.name: p for p in plan_columns(described)}
    assert plans["ip"].select_sql == 'pg_catalog.inet_out("ip")::text AS "ip"'
    assert plans["bpu"].select_sql == 'pg_catalog.bpcharout("bpu")::text AS "bpu"'


# --------------------------------------------------------------------------------------------------
# the catalog


def test_every_column_gets_the_documented_policy(
    columns: List[Col], described: List[PgColumn]
) -> None:
    assert [c.name for c in described] == ["id"] + [c.name for c in columns]  # dropped one gone
    plans = {p.name: p for p in plan_columns(described)}
    assert {c.name: plans[c.name].policy for c in columns} == {c.name: c.policy for c in columns}


def test_domains_resolve_to_their_base_type(described: List[PgColumn]) -> None:
    by_name = {c.name: c for c in described}
    assert (by_name["dom_num"].domain, by_name["dom_num"].base_type) == (
        "sparkpg_amount",
        "numeric",
    )
    assert (by_name["dom_num"].numeric_precision, by_name["dom_num"].numeric_scale) == (10, 2)
    assert by_name["adom"].element_type == "int4" and by_name["adom"].element_is_domain
    assert by_name["ai2"].dimensions == 2 and by_name["ai"].dimensions == 1
    assert by_name["n102"].formatted_type == "numeric(10,2)"


def test_query_sources_are_described_without_running_the_query(
    pg_admin: psycopg.Connection[Any], columns: List[Col]
) -> None:
    query = f'(SELECT i4 AS "X y", n102, dom_num, ai, ai2, 1 / (i4 - i4) AS boom, tx AS tx FROM {SOURCE}) q'
    with psycopg.connect(pg_admin.info.dsn, password=pg_admin.info.password) as conn:
        conn.execute("SET default_transaction_read_only = on")
        conn.commit()
        described = describe_source(run_query_on(conn), query)
    assert [c.name for c in described] == ["X y", "n102", "dom_num", "ai", "ai2", "boom", "tx"]
    by_name = {c.name: c for c in described}
    assert by_name["dom_num"].domain == "sparkpg_amount"
    # Type modifiers are invisible through the probe: numeric is planned as exact text.
    assert {p.name: p.policy for p in plan_columns(described)}["n102"] == "numeric-text"
    assert by_name["ai2"].element_type == "int4"


def test_a_missing_table_is_named_in_the_error(pg_admin: psycopg.Connection[Any]) -> None:
    with pytest.raises(ValueError, match=r'"public"."no_such_table" does not exist'):
        describe_source(run_query_on(pg_admin), '"public"."no_such_table"')


def test_null_when_counts_exactly_the_values_read_as_null(
    pg_admin: psycopg.Connection[Any], described: List[PgColumn]
) -> None:
    plans = plan_columns(described)
    query = unrepresentable_counts_sql(plans, SOURCE)
    assert query is not None
    row = pg_admin.execute(query).fetchone()
    counts = dict(zip([p.name for p in plans if p.null_when], row or ()))
    assert counts["n102"] == 1 and counts["dom_num"] == 1  # NaN
    assert counts["d"] == 3 and counts["d2"] == 0  # ±infinity, 1582-10-10
    assert counts["ts"] == 3 and counts["tz"] == 2 and counts["tz2"] == 2
    assert counts["ai"] == 2 and counts["ata"] == 0


# --------------------------------------------------------------------------------------------------
# Spark with the policy


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize(
    ("engine", "mode"),
    [("copy", "binary"), *(("jdbc", mode) for mode in MODES)],  # COPY is always binary
)
def test_spark_reads_every_type_exactly(
    spark: Any,
    types_settings: Settings,
    pg_admin: psycopg.Connection[Any],
    columns: List[Col],
    engine: str,
    mode: str,
) -> None:
    """Identical values on both engines, except the 1582-10-05..14 gap: read as NULL (counted)
    on the JDBC engine, exactly on the COPY engine (docs/types.md)."""
    read = plan_table(
        spark,
        types_settings,
        TableRef("types", SCHEMA, TABLE),
        binary_transfer=mode == "binary",
        engine=engine,
    )
    assert read.columns == tuple(plan_columns(describe_source(run_query_on(pg_admin), SOURCE)))
    assert custom_schema(read.columns) is not None
    loaded = load_read(spark, read)
    df = loaded.dataframe
    assert df.columns == ["id"] + [c.name for c in columns]
    # Python's datetime has no year 0 or 294247: compare dates and timestamps as Spark's text.
    temporal = [f.name for f in df.schema.fields if f.dataType.typeName() in ("date", "timestamp")]
    projected = df.select(
        *[
            df[f"`{n.replace('`', '``')}`"].cast("string").alias(n)
            if n in temporal
            else df[f"`{n.replace('`', '``')}`"]
            for n in df.columns
        ]
    )
    spark_rows = sorted(projected.collect(), key=lambda r: r["id"])
    raw_rows, typed_rows = psycopg_rows(pg_admin, columns)
    assert len(spark_rows) == len(raw_rows) == ROWS

    mismatches = []
    nulled = {c.name: 0 for c in columns}  # values expected as NULL that are not NULL
    for row_index, (spark_row, raw_row, typed_row) in enumerate(
        zip(spark_rows, raw_rows, typed_rows)
    ):
        for col_index, col in enumerate(columns):
            raw = raw_row[col_index]
            expected = expected_value(col, raw, typed_row.get(col.name), engine)
            nulled[col.name] += raw is not None and expected is None
            actual = actual_value(col, spark_row[col.name])
            if expected != actual:
                mismatches.append((row_index + 1, col.name, expected, actual))
    assert mismatches == [], "\n".join(map(repr, mismatches))
    guarded = [p.name for p in read.columns if p.null_when]
    counts = loaded.unrepresentable_counts(wait_seconds=10)
    assert counts == {name: nulled[name] for name in guarded}
    # The read counted the values it read as NULL: on JDBC exactly what an independent audit
    # finds; on COPY the same less the 1582-gap values it reads exactly.
    audit = unrepresentable_counts_sql(read.columns, SOURCE)
    assert audit is not None
    audited = dict(zip(guarded, pg_admin.execute(audit).fetchone() or ()))
    gap = {"d": 1, "ts2": 1, "tz2": 1} if engine == "copy" else {}  # one 1582-10-10 each
    assert gap == {k: audited[k] - v for k, v in counts.items() if audited[k] != v}
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert types["n102"] == "decimal(10,2)" and types["d"] == "date" and types["tz"] == "timestamp"
    assert (
        types["ai"] == "array<int>"
        and types["adom"] == "array<int>"
        and types["m"] == "decimal(22,3)"
    )


# --------------------------------------------------------------------------------------------------
# Spark without the policy: the dangers are real


# What Spark's own defaults do is measured on Spark 3.5 (docs/types.md); Spark 4 changed some.
SPARK_35_DEFAULTS = pytest.mark.skipif(
    not pyspark.__version__.startswith("3.5"),
    reason="documents Spark 3.5's default JDBC mapping (docs/types.md)",
)

FAILING_DEFAULTS = {
    "numeric NaN": "SELECT n FROM {t} WHERE id = 2",
    "numeric beyond DECIMAL(38,18)": "SELECT n FROM {t} WHERE id = 3",
    "date infinity": "SELECT d FROM {t} WHERE id = 2",
    "timestamp 30 years after Spark's maximum": "SELECT ts FROM {t} WHERE id = 5",
    "two-dimensional array": "SELECT ai2 FROM {t} WHERE id = 1",
}


@pytest.mark.spark
@pytest.mark.slow
@SPARK_35_DEFAULTS
@pytest.mark.parametrize("mode", MODES)
def test_spark_defaults_fail_on_dangerous_values(
    spark: Any, types_settings: Settings, columns: List[Col], mode: str
) -> None:
    survived = []
    for case, query in FAILING_DEFAULTS.items():
        df = spark_read(spark, types_settings, mode, f"({query.format(t=SOURCE)}) AS s")
        try:
            df.selectExpr("cast(to_json(struct(*)) AS string) AS j").collect()
        except Exception:  # Py4JJavaError or a Spark error class: the read fails
            continue
        survived.append(case)
    assert survived == []


@pytest.mark.spark
@pytest.mark.slow
@SPARK_35_DEFAULTS
@pytest.mark.parametrize("mode", MODES)
def test_spark_defaults_silently_change_values(
    spark: Any, types_settings: Settings, columns: List[Col], mode: str
) -> None:
    def one(column: str, row_id: int) -> str:
        return f"(SELECT {quote_ident(column)} FROM {SOURCE} WHERE id = {row_id}) AS {quote_ident(column)}"

    query = (
        f"SELECT {one('n', 1)}, {one('t', 1)}, {one('m', 1)}, {one('ch', 2)}, {one('d', 5)}, "
        f"{one('ai', 3)}, {one('tz2', 1)}"
    )
    df = spark_read(spark, types_settings, mode, f"({query}) AS s")
    row = df.selectExpr(
        "n",
        "cast(t AS string) AS t",
        "m",
        "ch",
        "cast(d AS string) AS d",
        "ai",
        "cast(tz2 AS string) AS tz2",
    ).collect()[0]
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert types["n"] == "decimal(38,18)" and row["n"] == 0  # 1e-30 rounded to zero
    assert row["t"] == "1970-01-01 12:34:56"  # time 12:34:56.123456: a date added, micros lost
    assert types["m"] == "string" and row["m"] == "$12.34"  # money: locale text
    assert row["ch"] == " "  # "char" '' padded to a space
    assert row["d"] == "1582-10-20"  # 1582-10-10 shifted by the Julian/Gregorian switch
    assert row["ai"] == [7, 8]  # '[0:1]={7,8}': the lower bound dropped
    # One microsecond after Spark's maximum timestamp wraps around to 290303 BC.
    assert row["tz2"] == "-290302-12-10 19:59:05.224192"
