"""Generated tables and DataFrame queries for the COPY engine's differential pushdown fuzz
(``test_engine_pushdown_fuzz.py``). Pure: no Spark, no database; the same seed gives the same
tables (DDL and rows) and the same queries.

A table is a list of :class:`Column` s (every kind the engine decodes, and the awkward values of
each: NaN, infinities, -0, extremes, dates PostgreSQL holds and Spark does not read, strings
with ``%``, ``_`` and non-ASCII) and rows of Python values; :func:`table_sql` writes it as SQL.
A :class:`Query` is a list of DataFrame calls: filters (Spark SQL text), then a shape (select,
count, aggregate, group by, top-N, offset, limit, distinct) or a combination;
:meth:`Query.code` is the PySpark line that runs it, so a failure can be reproduced by hand.

>>> tables = generate_tables(7)
>>> [t.name for t in tables]
['fz_wide', 'fz_dupes', 'fz_empty']
>>> q = generate_query(random.Random(1), tables[0])
>>> q.code().startswith("df")
True
"""

from __future__ import annotations

import random
import struct
import uuid
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any, List, Optional, Tuple

# -- values ------------------------------------------------------------------------------------

#: PostgreSQL's last date (5874897-12-31) and Spark's (+5881580-07-11), in days from 1970
PG_LAST_DATE = 2145042905
SPARK_LAST_DATE = 2147483647
PG_FIRST_DATE = -2440588  # 4714-11-24 BC
#: Spark's last timestamp (294247-01-10 04:00:54.775807 UTC) in microseconds from 1970
SPARK_LAST_MICROS = 9223372036854775807
INFINITY = "infinity"
MINUS_INFINITY = "-infinity"


def civil_from_days(days: int) -> Tuple[int, int, int]:
    """(year, month, day) of the proleptic Gregorian calendar; year 0 is 1 BC.

    >>> civil_from_days(0), civil_from_days(-719528), civil_from_days(2145042905)
    ((1970, 1, 1), (0, 1, 1), (5874897, 12, 31))
    """
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y, m, d)


def days_from_civil(y: int, m: int, d: int) -> int:
    """Inverse of :func:`civil_from_days`.

    >>> days_from_civil(10000, 1, 1) - days_from_civil(9999, 12, 31)
    1
    """
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def pg_date(days: int) -> str:
    """A date as PostgreSQL reads it: ``YYYY-MM-DD`` with ``BC`` for years before 1."""
    y, m, d = civil_from_days(days)
    return f"{y if y > 0 else 1 - y:04d}-{m:02d}-{d:02d}" + ("" if y > 0 else " BC")


def pg_timestamp(micros: int, zone: bool) -> str:
    """A timestamp as PostgreSQL reads it (``+00`` for timestamptz, ``BC`` last)."""
    days, rest = divmod(micros, 86_400_000_000)
    y, m, d = civil_from_days(days)
    seconds, us = divmod(rest, 1_000_000)
    clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{us:06d}"
    year = f"{y if y > 0 else 1 - y:04d}"
    return f"{year}-{m:02d}-{d:02d} {clock}" + ("+00" if zone else "") + ("" if y > 0 else " BC")


def float4(x: float) -> float:
    """``x`` rounded to the nearest float4 (as a Python float)."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def sql_string(s: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings: only ``'`` is doubled)."""
    return "'" + s.replace("'", "''") + "'"


def spark_string(s: str) -> str:
    """A Spark SQL string literal (Spark unescapes backslashes in literals)."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\x00", "\\u0000") + "'"


# -- columns -----------------------------------------------------------------------------------

STRINGS = (
    "", " ", "a", "A", "ab", "abc", "a ", " a", "a%b", "a_b", "%", "_", "%_", "é", "éa", "aé",
    "Z", "z", "zz", "日本", "日", "😀", "ñandú", "it's", "back\\slash", "A%", "_z", "ß", "0", "10",
    "9", "ÿ", "\u00a0",
)  # fmt: skip
#: exact arithmetic for numeric(38,s) (the default context rounds to 28 digits)
EXACT = Context(prec=80)
NUMERIC_TEXTS = (Decimal("NaN"), Decimal("0"), Decimal("-0.5"), Decimal("1e30"), Decimal("1e-40"))


@dataclass(frozen=True)
class Column:
    """One generated column: its name, PostgreSQL type (with collation), value kind (``int``,
    ``dec``, ``nu``, ``float``, ``text``, ``char``, ``bool``, ``date``, ``ts``, ``tstz``,
    ``uuid``, ``oid``), the Spark type it reads as, and its range (integers, decimals)."""

    name: str
    pg_type: str
    kind: str
    spark_type: str
    low: int = 0
    high: int = 0
    precision: int = 0
    scale: int = 0

    @property
    def is_string(self) -> bool:
        """Read as a Spark STRING."""
        return self.spark_type == "STRING"

    @property
    def orderable(self) -> bool:
        """PostgreSQL orders it as Spark does (the engine may push a top-N on it)."""
        return self.kind in ("int", "oid", "dec", "float", "bool", "date", "ts", "tstz") or (
            self.name == "sc"
        )

    @property
    def is_numeric(self) -> bool:
        """A Spark number (sum, avg, stddev apply)."""
        return self.kind in ("int", "oid", "dec", "float")


def _int(name: str, pg: str, spark: str, bits: int) -> Column:
    return Column(name, pg, "int", spark, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _dec(name: str, p: int, s: int) -> Column:
    return Column(name, f"numeric({p},{s})", "dec", f"DECIMAL({p},{s})", precision=p, scale=s)


def columns(icu: bool) -> List[Column]:
    """The generated tables' columns; ``icu``: ``st`` under ICU's root collation (deterministic:
    equality only, whatever the database's default) and a nondeterministic (case-insensitive)
    one."""
    out = [
        _int("id", "int4 NOT NULL", "INT", 32),
        _int("g", "int4", "INT", 32),
        _int("i2", "int2", "SMALLINT", 16),
        _int("i4", "int4", "INT", 32),
        _int("i8", "int8", "BIGINT", 64),
        Column("o", "oid", "oid", "BIGINT", 0, 2**32 - 1),
        _dec("n", 10, 2),
        _dec("n38", 38, 0),
        _dec("n5", 5, 5),
        _dec("n28", 28, 6),
        Column("nd", "fz_amount", "dec", "DECIMAL(12,3)", precision=12, scale=3),
        Column("nneg", "numeric(5,-2)", "dec", "DECIMAL(7,0)", precision=7, scale=0),
        Column("nsc", "numeric(2,5)", "dec", "DECIMAL(5,5)", precision=5, scale=5),
        Column("m", "money", "dec", "DECIMAL(22,3)", precision=22, scale=3),
        Column("nu", "numeric", "nu", "STRING"),
        Column("f4", "float4", "float", "FLOAT"),
        Column("f8", "float8", "float", "DOUBLE"),
        Column("sc", 'text COLLATE "C"', "text", "STRING"),
        Column("st", 'text COLLATE "und-x-icu"' if icu else "text", "text", "STRING"),
        Column("sv", "varchar(12)", "text", "STRING"),
        Column("sch", "char(4)", "char", "STRING"),
        Column("b", "boolean", "bool", "BOOLEAN"),
        Column("d", "date", "date", "DATE"),
        Column("ts", "timestamp", "ts", "TIMESTAMP"),
        Column("tz", "timestamptz", "tstz", "TIMESTAMP"),
        Column("u", "uuid", "uuid", "STRING"),
    ]
    if icu:
        out.append(Column("ci", "text COLLATE fz_nocase", "text", "STRING"))
    return out


#: the collation the ``ci`` column uses (created when the server has ICU)
#: the types the tables use besides the built-in ones: a domain over numeric(12,3), whose NaN
#: the engine guards with (x - x) = 0 (it cannot see the declared precision)
TYPES_SQL = "DROP DOMAIN IF EXISTS fz_amount CASCADE; CREATE DOMAIN fz_amount AS numeric(12,3)"
NOCASE_COLLATION = (
    "CREATE COLLATION IF NOT EXISTS fz_nocase "
    "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
)


def _int_boundaries(c: Column) -> List[int]:
    return [c.low, c.low + 1, -1, 0, 1, 2, c.high - 1, c.high]


def decimal(unscaled: int, scale: int) -> Decimal:
    """``unscaled * 10**-scale``, exactly, with that scale."""
    return EXACT.scaleb(Decimal(unscaled), Decimal(-scale))


def _dec_boundaries(c: Column) -> List[Decimal]:
    top = 10**c.precision - 1
    return [decimal(top, c.scale), decimal(-top, c.scale), decimal(0, c.scale),
            decimal(1, c.scale), decimal(-1, c.scale)]  # fmt: skip


FLOAT_SPECIALS = (
    float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 1.0, -1.0, 0.5, 1e-300, 5e-324,
    1.7976931348623157e308, -1.7976931348623157e308, 3.4028234663852886e38, 1.401298464324817e-45,
)  # fmt: skip
DATE_SPECIALS = (
    0, -1, days_from_civil(1, 1, 1), days_from_civil(0, 12, 31), days_from_civil(-4712, 1, 1),
    PG_FIRST_DATE, days_from_civil(1582, 10, 4), days_from_civil(1582, 10, 10),
    days_from_civil(1582, 10, 15), days_from_civil(9999, 12, 31), days_from_civil(10000, 1, 1),
    PG_LAST_DATE,
)  # fmt: skip
TS_SPECIALS = (
    0, -1, 1, SPARK_LAST_MICROS, SPARK_LAST_MICROS - 1, SPARK_LAST_MICROS + 1,
    days_from_civil(294276, 12, 31) * 86_400_000_000, days_from_civil(-4712, 1, 1) * 86_400_000_000,
    days_from_civil(1582, 10, 10) * 86_400_000_000 + 1, days_from_civil(9999, 12, 31) * 86_400_000_000,
    days_from_civil(10000, 1, 1) * 86_400_000_000,
)  # fmt: skip


def random_value(rng: random.Random, c: Column, pool: int) -> Any:
    """One non-NULL value of ``c``: special values often, else from a pool of ``pool`` ordinary
    ones (small pools make duplicates and skewed groups)."""
    special = rng.random() < 0.25
    k = c.kind
    if c.name == "g":
        return rng.choice([0, 0, 0, 0, 1, 1, 2, 3 + rng.randrange(max(pool, 1))])
    if k == "int":
        if special:
            return rng.choice(_int_boundaries(c))
        return rng.randrange(-pool, pool + 1) * (1 if c.high < 2**40 else 1_000_003_001)
    if k == "oid":
        return (
            rng.choice([0, 1, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1])
            if special
            else rng.randrange(pool)
        )
    if c.pg_type == "numeric(5,-2)":  # hundreds up to 9999900
        if special:
            return rng.choice([decimal(9999900, 0), decimal(-9999900, 0), Decimal("NaN")])
        return decimal(rng.randrange(-pool * 37, pool * 37) * 100, 0)
    if c.pg_type == "numeric(2,5)":  # |x| < 0.001
        if special:
            return rng.choice([decimal(99, 5), decimal(-99, 5), decimal(1, 5), Decimal("NaN")])
        return decimal(rng.randrange(-99, 100), 5)
    if c.pg_type == "money":  # an int8 of cents (lc_monetary C)
        if special:
            return decimal(rng.choice([2**63 - 1, -(2**63), 0, 1, -1]), 2)
        return decimal(rng.randrange(-pool * 999, pool * 999), 2)
    if k == "dec":
        if special:
            return rng.choice([*_dec_boundaries(c), Decimal("NaN")])
        span = min(10 ** (c.precision - 1), pool * 37)
        return decimal(rng.randrange(-span, span + 1), c.scale)
    if k == "nu":
        if special:
            return rng.choice([*NUMERIC_TEXTS, Decimal("Infinity"), Decimal("-Infinity")])
        return decimal(rng.randrange(-pool * 10, pool * 10), rng.randrange(4))
    if k == "float":
        x = rng.choice(FLOAT_SPECIALS) if special else rng.randrange(-pool, pool + 1) / 4
        return float4(x) if c.spark_type == "FLOAT" and x == x else x
    if k in ("text", "char"):
        s = rng.choice(STRINGS)
        if not special and rng.random() < 0.5:
            s = s + rng.choice(STRINGS)
        if c.name == "ci" and rng.random() < 0.3:
            s = s.upper()
        if c.pg_type.startswith("varchar"):
            s = s[:12]
        return s[:4] if k == "char" else s
    if k == "bool":
        return rng.random() < 0.5
    if k == "date":
        if special:
            return rng.choice([*DATE_SPECIALS, INFINITY, MINUS_INFINITY])
        return days_from_civil(2000, 1, 1) + rng.randrange(-pool, pool + 1) * 37
    if k in ("ts", "tstz"):
        if special:
            return rng.choice([*TS_SPECIALS, INFINITY, MINUS_INFINITY])
        return 946_684_800_000_000 + rng.randrange(-pool, pool + 1) * 3_600_000_123
    if k == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128) if special else rng.randrange(pool)))
    raise AssertionError(k)


def pg_literal(c: Column, v: Any) -> str:
    """``v`` as a PostgreSQL literal of ``c``'s type (inside an INSERT)."""
    if v is None:
        return "NULL"
    k = c.kind
    if k in ("int", "oid"):
        return str(v)
    if k in ("dec", "nu"):
        return sql_string(str(v)) if not v.is_finite() or c.pg_type == "money" else str(v)
    if k == "float":
        return sql_string(repr(v).replace("inf", "Infinity").replace("nan", "NaN"))
    if k in ("text", "char", "uuid"):
        return sql_string(v)
    if k == "bool":
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):  # infinity
        return sql_string(v)
    if k == "date":
        return sql_string(pg_date(v))
    return sql_string(pg_timestamp(v, zone=k == "tstz"))


@dataclass(frozen=True)
class Table:
    """A generated table: name, columns, rows (Python values, ``None`` for NULL), the seed."""

    name: str
    seed: int
    columns: Tuple[Column, ...]
    rows: Tuple[Tuple[Any, ...], ...]

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)

    @property
    def ids(self) -> List[int]:
        """The id of every row (unique, not in insertion order)."""
        return [r[0] for r in self.rows]


def generate_table(
    name: str, seed: int, rows: int, *, null_rate: float, pool: int, icu: bool, all_null: bool
) -> Table:
    """``rows`` rows with ids 1..rows*3 (gaps, inserted shuffled), ``null_rate`` NULLs in every
    nullable column (``all_null``: one random column only NULLs), values from pools of about
    ``pool``."""
    rng = random.Random(seed)
    cols = tuple(columns(icu))
    ids = rng.sample(range(1, rows * 3 + 1), rows)
    nothing = rng.choice([c.name for c in cols[2:]]) if all_null else ""
    out = []
    for i in ids:
        row: List[Any] = [i]
        for c in cols[1:]:
            nulls = 1.0 if c.name == nothing else null_rate
            row.append(None if rng.random() < nulls else random_value(rng, c, pool))
        out.append(tuple(row))
    return Table(name, seed, cols, tuple(out))


def generate_tables(seed: int, *, icu: bool = False) -> List[Table]:
    """The fuzz's tables: a wide one, one of few distinct values (duplicates, skewed groups,
    many NULLs, a column of NULLs only), and an empty one."""
    return [
        generate_table("fz_wide", seed, 300, null_rate=0.12, pool=40, icu=icu, all_null=False),
        generate_table("fz_dupes", seed + 1, 90, null_rate=0.3, pool=3, icu=icu, all_null=True),
        generate_table("fz_empty", seed + 2, 0, null_rate=0.0, pool=1, icu=icu, all_null=False),
    ]


def table_sql(t: Table) -> str:
    """DROP, CREATE (no index: every read is a sequential scan, in the same row order) and
    INSERT of ``t``."""
    ddl = ", ".join(f'"{c.name}" {c.pg_type}' for c in t.columns)
    out = [f'DROP TABLE IF EXISTS "{t.name}"', f'CREATE TABLE "{t.name}" ({ddl})']
    for start in range(0, len(t.rows), 100):
        values = ",\n".join(
            "(" + ", ".join(pg_literal(c, v) for c, v in zip(t.columns, r)) + ")"
            for r in t.rows[start : start + 100]
        )
        out.append(f'INSERT INTO "{t.name}" VALUES\n{values}')
    return ";\n".join(out)


# -- partitionings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Partitioning:
    """How a read is split: its partition predicates and partition column."""

    name: str
    predicates: Tuple[str, ...]
    column: Optional[str]


def partitionings(t: Table) -> List[Partitioning]:
    """One partition; three by id ranges (groups split across partitions: partial aggregates);
    three by g (a groupBy("g") is complete); two by the date d, whose infinities (NULL to Spark)
    sit in both (a groupBy("d") is partial)."""
    top = max(t.ids, default=3)
    a, b = top // 3, 2 * top // 3
    return [
        Partitioning("one", (), None),
        Partitioning("by_id", (f"id <= {a}", f"id > {a} AND id <= {b}", f"id > {b}"), "id"),
        Partitioning("by_g", ("g < 1 OR g IS NULL", "g >= 1 AND g < 3", "g >= 3"), "g"),
        Partitioning("by_d", ("d < DATE '2000-01-01' OR d IS NULL", "d >= DATE '2000-01-01'"), "d"),
    ]


PARTITIONINGS = ("one", "by_id", "by_g", "by_d")


# -- filters -----------------------------------------------------------------------------------


def spark_literal(rng: random.Random, c: Column, v: Any) -> str:
    """``v`` (a value of ``c``) as a Spark SQL literal: of the column's exact type mostly (what
    the engine pushes), sometimes of another type Spark coerces (widening the column, or
    unwrapping the cast back onto the literal). Never one that makes Spark cast the column to a
    type some of its values do not fit (a date after 294247 to a timestamp, a string to a number
    in ANSI mode): Spark fails on those rows, and pushed filters that drop them first would
    rightly avoid the failure, which this comparison cannot tell from a wrong answer."""
    k = c.kind
    other = rng.random() < 0.15
    if k in ("int", "oid"):
        if other:
            return rng.choice([f"{v}BD", f"{v}.5BD", f"CAST('{v}' AS DOUBLE)"])
        if c.spark_type == "BIGINT":
            return f"{v}L" if rng.random() < 0.7 else f"CAST({v} AS BIGINT)"
        if rng.random() < 0.7:
            return f"CAST({v} AS {c.spark_type})"
        return f"{v}L" if rng.random() < 0.5 else str(v)
    if k == "dec":
        if other:
            finer = f"{v}1BD" if "." in str(v) else f"{v}.01BD"
            return rng.choice([finer if c.precision < 38 else f"{v}BD", f"CAST('{v}' AS DOUBLE)"])
        if rng.random() < 0.7:
            return f"CAST('{v}' AS {c.spark_type})"
        return f"{v}BD"
    if k == "float":
        text = repr(v).replace("inf", "Infinity").replace("nan", "NaN")
        if other:
            wider = "DOUBLE" if c.spark_type == "FLOAT" else "FLOAT"
            return rng.choice([f"CAST('{text}' AS {wider})", "0", "1L", "0.1BD"])
        return f"CAST('{text}' AS {c.spark_type})"
    if k == "bool":
        return "true" if v else "false"
    if k == "date":
        y, m, d = civil_from_days(v)
        if 1 <= y <= 9999 and rng.random() < 0.5:
            return f"DATE '{y:04d}-{m:02d}-{d:02d}'"
        return f"date_from_unix_date({v})"
    if k in ("ts", "tstz"):
        if other and abs(v) < 2**62:  # a date Spark can cast to a timestamp
            return f"date_from_unix_date({v // 86_400_000_000})"
        return f"timestamp_micros({v})"
    if other and c.is_string:
        return spark_string("a\x00b")
    return spark_string(v if isinstance(v, str) else str(v))


def literal_value(rng: random.Random, t: Table, c: Column) -> Any:
    """A value to compare ``c`` with: one in the table (half the time), a special one, or a
    boundary Spark can write and PostgreSQL cannot hold."""
    i = t.columns.index(c)
    present = [r[i] for r in t.rows if r[i] is not None]
    roll = rng.random()
    if present and roll < 0.5:
        v = rng.choice(present)
    elif c.kind in ("int", "oid") and roll < 0.75:
        v = rng.choice([-1, 0, 2**31, 2**32 - 1, 2**32, -(2**63), 2**63 - 1, -(2**31)])
        v = max(-(2**63), min(2**63 - 1, v))
        if c.spark_type == "SMALLINT":
            v = max(-32768, min(32767, v))
        elif c.spark_type == "INT":
            v = max(-(2**31), min(2**31 - 1, v))
    elif c.kind == "date" and roll < 0.75:
        v = rng.choice([*DATE_SPECIALS, PG_LAST_DATE + 1, SPARK_LAST_DATE, PG_FIRST_DATE - 1])
    elif c.kind in ("ts", "tstz") and roll < 0.75:
        v = rng.choice([*TS_SPECIALS, -(2**63), days_from_civil(-4713, 12, 31) * 86_400_000_000])
    else:
        v = random_value(rng, c, 20)
    if isinstance(v, str) and c.kind in ("date", "ts", "tstz"):
        v = 0  # infinities cannot be written in Spark
    if c.kind in ("ts", "tstz"):
        v = max(-(2**63), min(SPARK_LAST_MICROS, v))
    if isinstance(v, Decimal):
        if not v.is_finite():
            v = Decimal(0) if c.kind == "dec" else v
        elif c.kind == "dec":
            v = EXACT.quantize(v, decimal(1, c.scale))
    return v


COMPARISONS = ("=", "<>", "<", "<=", ">", ">=", "<=>", "!=")
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def atom(rng: random.Random, t: Table) -> str:
    """One predicate on one column."""
    c = rng.choice(t.columns)
    q = f"`{c.name}`"
    roll = rng.random()
    if roll < 0.1:
        return f"{q} IS {'NOT ' if rng.random() < 0.5 else ''}NULL"
    if roll < 0.25:
        values = [spark_literal(rng, c, literal_value(rng, t, c)) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.15:
            values.append("NULL")
        return f"{q} {'NOT ' if rng.random() < 0.2 else ''}IN ({', '.join(values)})"
    if c.is_string and roll < 0.45:
        pattern = rng.choice(["%", "_", "a%", "%_", "é", "a", "", "b", "A_", "日"])
        if rng.random() < 0.5:
            pattern = str(literal_value(rng, t, c))[: rng.randint(0, 3)]
        function = rng.choice(["startswith", "endswith", "contains", "like"])
        if function == "like":
            return f"{q} LIKE {spark_string(pattern.replace('%', '').replace('_', '') + '%')}"
        return f"{function}({q}, {spark_string(pattern)})"
    op = rng.choice(COMPARISONS)
    literal = spark_literal(rng, c, literal_value(rng, t, c))
    if op in FLIPPED and rng.random() < 0.2:
        return f"{literal} {FLIPPED[op]} {q}"
    return f"{q} {op} {literal}"


def predicate(rng: random.Random, t: Table, depth: int = 0) -> str:
    """AND/OR/NOT over atoms, at most three levels deep."""
    roll = rng.random()
    if depth >= 2 or roll < 0.45:
        return atom(rng, t)
    if roll < 0.6:
        return f"NOT ({predicate(rng, t, depth + 1)})"
    word = "AND" if roll < 0.85 else "OR"
    return f"({predicate(rng, t, depth + 1)} {word} {predicate(rng, t, depth + 1)})"


# -- queries -----------------------------------------------------------------------------------


#: one DataFrame call: ``("where", sql)``, ``("select", *columns)``, ``("distinct",)``,
#: ``("agg", group columns, aggregates)``, ``("orderBy", *(column, descending, nulls first))``,
#: ``("offset", m)``, ``("limit", n)``
Step = Tuple[Any, ...]


@dataclass(frozen=True)
class Query:
    """A DataFrame query as its calls (``steps``) and how its answer is compared: ``ordered``
    (the order is total: every sort ends with the unique id, or is the order of a one-row or
    scan-order result) or as a multiset; ``subset``: the last step is a limit without an order,
    so any ``limit`` rows of the answer without it will do."""

    kind: str
    steps: Tuple[Step, ...]
    ordered: bool = False
    subset: bool = False

    @property
    def limit(self) -> int:
        """The last step's limit (``subset`` queries)."""
        return int(self.steps[-1][1])

    @property
    def unlimited(self) -> Tuple[Step, ...]:
        """The steps without the last limit (``subset`` queries)."""
        return self.steps[:-1] if self.subset else self.steps

    def code(self) -> str:
        """The PySpark expression this query runs on ``df`` (``F`` is pyspark's functions)."""
        out = "df"
        for step in self.steps:
            name, args = step[0], step[1:]
            if name == "agg":
                aggs = ", ".join(f"F.expr({a!r})" for a in args[1])
                out += f".groupBy({', '.join(repr(g) for g in args[0])}).agg({aggs})"
            elif name == "orderBy":
                out += f".orderBy({', '.join(sort_code(o) for o in args)})"
            else:
                out += f".{name}({', '.join(repr(a) for a in args)})"
        return out


def sort_code(order: Tuple[str, bool, bool]) -> str:
    """``F.col(c).desc_nulls_first()`` and the like."""
    name, descending, nulls_first = order
    return (
        f"F.col({name!r}).{'desc' if descending else 'asc'}"
        f"_nulls_{'first' if nulls_first else 'last'}()"
    )


PUSHABLE_MIN_MAX = ("int", "oid", "dec", "bool", "date", "ts", "tstz")


def aggregate(rng: random.Random, t: Table, pushable: bool) -> str:
    """One aggregate function call (Spark SQL) over a column that takes it; ``pushable``: one
    the engine may push (COUNT, MIN/MAX of non-floats, SUM of integers and decimals)."""
    c = rng.choice(t.columns[1:])
    q = f"`{c.name}`"
    if pushable:
        choices = ["count(*)", f"count({q})"]
        if c.kind in PUSHABLE_MIN_MAX or c.name == "sc":
            choices += [f"min({q})", f"max({q})", f"min({q})", f"max({q})"]
        if c.kind in ("int", "dec"):
            choices += [f"sum({q})", f"sum({q})", f"count(DISTINCT {q})"]
        return rng.choice(choices)
    choices = [
        "count(*)", f"count({q})", f"min({q})", f"max({q})", f"count(DISTINCT {q})",
        f"min({q})", f"max({q})",
    ]  # fmt: skip
    if c.is_numeric:
        choices += [f"sum({q})", f"sum({q})", f"sum({q})", f"avg({q})", f"sum(DISTINCT {q})"]
        choices += [f"stddev({q})", f"var_pop({q})"]
    if c.kind == "bool":
        choices += [f"bool_and({q})", f"bool_or({q})"]
    if c.kind == "nu":
        choices.append(f"sum({q})")  # Spark sums the text as doubles
    return rng.choice(choices)


GROUP_KINDS = ("int", "oid", "dec", "text", "char", "bool", "date", "ts", "tstz", "uuid", "float")
FAVOURITE_GROUPS = ("g", "g", "g", "b", "sc", "st", "d", "n", "i2", "tz", "id")


def generate_query(rng: random.Random, t: Table) -> Query:
    """One random query over ``t``: filters, then one shape (select, count, aggregate,
    distinct, top-N, offset, limit) or a combination (an aggregate over a top-N or a limit, a
    top-N over an aggregate)."""
    names = [c.name for c in t.columns]
    where: Tuple[Step, ...] = tuple(
        ("where", predicate(rng, t)) for _ in range(rng.choice([0, 1, 1, 1, 2]))
    )
    roll = rng.random()
    if roll < 0.1:
        return Query("select", (*where, ("select", *rng.sample(names, rng.randint(1, 5)))))
    if roll < 0.15:
        return Query("count", (*where, ("agg", (), ("count(*)",))))
    if roll < 0.52:
        agg = aggregation(rng, t)
        if roll < 0.42:
            return Query("agg", (*where, agg))
        if roll < 0.47:
            return Query("agg_limit", (*where, agg, ("limit", rng.randint(1, 4))), subset=True)
        keys = [("orderBy", *((g, False, True) for g in agg[1]))] if agg[1] else []
        limit = ("limit", rng.randint(1, 4))
        return Query("agg_top", (*where, agg, *keys, limit), ordered=True)
    if roll < 0.56:
        return Query("distinct", (*where, ("select", *rng.sample(names[1:], rng.randint(1, 2))), ("distinct",)))  # fmt: skip
    if roll < 0.6:
        return Query("limit", (*where, ("limit", rng.choice([1, 5, 30]))), subset=True)
    if roll < 0.63:
        count = ("agg", (), ("count(*)",))
        return Query("limit_count", (*where, ("limit", rng.choice([1, 5, 30])), count))
    if roll < 0.67:
        offset: Tuple[Step, ...] = (("offset", rng.choice([1, 5, 40])),)
        if rng.random() < 0.4:
            offset += (("limit", rng.choice([2, 9])),)
        return Query("scan_offset", (*where, *offset), ordered=True)
    where = where[:1] if rng.random() < 0.5 else where
    sortable = names[1:] if rng.random() < 0.3 else [c.name for c in t.columns if c.orderable][1:]
    chosen = dict.fromkeys(rng.choice(sortable) for _ in range(rng.randint(1, 3)))
    order = (
        "orderBy",
        *((name, rng.random() < 0.5, rng.random() < 0.5) for name in chosen),
        ("id", rng.random() < 0.5, False),
    )
    if roll < 0.8:
        top = (*where, order, ("limit", rng.choice([1, 3, 10, 50])))
        if rng.random() < 0.3:
            return Query("top", (*top, ("select", *dict.fromkeys(["id", *rng.sample(names, 2)]))), ordered=True)  # fmt: skip
        return Query("top", top, ordered=True)
    if roll < 0.86:
        return Query("top_agg", (*where, order, ("limit", rng.choice([3, 20])), aggregation(rng, t)))  # fmt: skip
    steps = [("offset", rng.choice([1, 5, 40]))]
    if rng.random() < 0.6:
        steps.insert(rng.randrange(2), ("limit", rng.choice([2, 7, 45])))
    return Query("offset", (*where, order, *steps), ordered=True)


def aggregation(rng: random.Random, t: Table) -> Step:
    """A groupBy(...).agg(...) step: grouped by favourite columns (the partitioning's key, the
    awkward ones) or any, or not grouped; aggregates the engine may push more often than not."""
    groupable = [c.name for c in t.columns[1:] if c.kind in GROUP_KINDS]
    group: Tuple[str, ...] = ()
    if rng.random() < 0.75:
        pool = groupable if rng.random() < 0.3 else FAVOURITE_GROUPS
        group = tuple(dict.fromkeys(rng.choice(pool) for _ in range(rng.choice([1, 1, 2]))))
    pushable = rng.random() < 0.6
    aggs = tuple(dict.fromkeys(aggregate(rng, t, pushable) for _ in range(rng.randint(1, 4))))
    return ("agg", group, aggs)


def generate_queries(seed: int, t: Table, count: int) -> List[Query]:
    """``count`` queries over ``t`` from ``seed``."""
    rng = random.Random(seed)
    return [generate_query(rng, t) for _ in range(count)]
