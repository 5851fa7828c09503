"""One column of every PostgreSQL type family, with awkward values, for the type-policy tests.

Each :class:`Col` gives the declared type, the policy ``plan_columns`` must choose, how values are
compared, and five values as PostgreSQL input text (``None`` is NULL); a sixth row is all NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import psycopg
from psycopg import sql

SCHEMA = "sparkpg types"
TABLE = 'All "Types"'
ROWS = 6  # ids 1..5 hold the values below, id 6 is all NULL


@dataclass(frozen=True)
class Col:
    name: str
    type: str
    policy: str
    compare: str  # how test_types normalizes both sides (see there)
    values: Tuple[Optional[str], ...]
    needs: Optional[str] = None  # an extension that must exist
    typed_as: Optional[str] = (
        None  # the type psycopg reads the column as (psycopg knows no domains)
    )


UNICODE = "héllo wörld 😀 👨\u200d👩\u200d👧 e\u0301 日本語 \"quotes\" 'apos' back\\slash tab\tnl\n"

COLUMNS: List[Col] = [
    Col("i2", "smallint", "native", "native", ("-32768", "32767", "0", "1", "-1")),
    Col("i4", "integer", "native", "native", ("-2147483648", "2147483647", "0", "1", "-1")),
    Col(
        "i8",
        "bigint",
        "native",
        "native",
        ("-9223372036854775808", "9223372036854775807", "0", "1", "-1"),
    ),
    Col("f4", "real", "native", "float4", ("NaN", "-Infinity", "3.4028235e38", "1.1", "-0")),
    Col("f8", "double precision", "native", "native", ("NaN", "Infinity", "-0", "1e308", "5e-324")),
    Col("bo", "boolean", "native", "native", ("true", "false", "t", "f", None)),
    Col("tx", "text", "native", "native", (UNICODE, "", " ", "x" * 10000, "NULL")),
    Col("vc", "varchar(5)", "native", "native", ("abcde", "", "😀😀😀😀😀", "a b", None)),
    Col("bc", "char(3)", "native", "native", ("ab", "", "😀", "abc", None)),
    Col(
        "by",
        "bytea",
        "native",
        "native",
        ("\\x00ff", "\\x", "\\x" + "00" * 3 + "ff" * 3, "abc", None),
    ),
    Col("o", "oid", "native", "native", ("4294967295", "0", "1", None, None)),
    Col("dom_int", "sparkpg_posint", "native", "native", ("1", "2147483647", None, None, None)),
    Col("dom_txt", "sparkpg_label", "native", "native", ("😀", "", None, None, None)),
    # numeric
    Col(
        "n",
        "numeric",
        "numeric-text",
        "text",
        (
            "0.000000000000000000000000000001",
            "NaN",
            "123456789012345678901234567890.123456789",
            "Infinity",
            "-Infinity",
        ),
    ),
    Col("n102", "numeric(10,2)", "decimal", "decimal", ("1.25", "-99999999.99", "NaN", "0", "0.1")),
    Col("n38", "numeric(38,0)", "decimal", "decimal", ("-" + "9" * 38, "9" * 38, "0", None, None)),
    Col(
        "n40",
        "numeric(40,5)",
        "numeric-text",
        "text",
        ("1" * 35 + ".12345", "NaN", "-0.00001", None, None),
    ),
    Col("nneg", "numeric(5,-2)", "decimal", "decimal", ("1234500", "-9999900", None, None, None)),
    Col("nsc", "numeric(3,5)", "decimal", "decimal", ("0.00123", "-0.00999", None, None, None)),
    Col("dom_num", "sparkpg_amount", "decimal", "decimal", ("12.34", "NaN", None, None, None)),
    Col(
        "m",
        "money",
        "money-decimal",
        "money",
        ("12.34", "-92233720368547758.08", "92233720368547758.07", "0", None),
    ),
    # date and time
    Col(
        "d",
        "date",
        "date",
        "date",
        ("2020-02-29", "infinity", "-infinity", "4713-01-01 BC", "1582-10-10"),
    ),
    Col(
        "d2",
        "date",
        "date",
        "date",
        ("5874897-12-31", "0001-01-01", "0001-12-31 BC", "1582-10-04", "1582-10-15"),
    ),
    Col(
        "ts",
        "timestamp",
        "timestamp",
        "timestamp",
        (
            "2020-01-01 01:02:03.123456",
            "infinity",
            "-infinity",
            "4713-01-01 00:00:00 BC",
            "294276-12-31 23:59:59.999999",
        ),
    ),
    Col(
        "ts2",
        "timestamp(3)",
        "timestamp",
        "timestamp",
        (
            "294247-01-10 04:00:54.775",
            "1582-10-14 23:59:59.999",
            "1582-10-15 00:00:00",
            "0001-01-01 00:00:00",
            "1969-12-31 23:59:59.999",
        ),
    ),
    Col(
        "tz",
        "timestamptz",
        "timestamptz",
        "timestamp",
        (
            "2020-01-01 01:02:03.123456+05:30",
            "infinity",
            "-infinity",
            "4713-01-01 00:00:00+00 BC",
            "294247-01-10 04:00:54.775807+00",
        ),
    ),
    Col(
        "tz2",
        "timestamptz",
        "timestamptz",
        "timestamp",
        (
            "294247-01-10 04:00:54.775808+00",
            "1582-10-10 12:00:00+00",
            "1000-06-15 00:00:00-08",
            "1970-01-01 00:00:00+00",
            None,
        ),
    ),
    Col(
        "t",
        "time",
        "time-text",
        "text",
        ("12:34:56.123456", "24:00:00", "00:00:00", "23:59:59.999999", None),
    ),
    Col(
        "ttz",
        "timetz",
        "time-text",
        "text",
        ("12:34:56.123456+05:30", "00:00:00-15:59", "24:00:00+15:59", None, None),
    ),
    Col(
        "iv",
        "interval",
        "interval-iso8601",
        "interval",
        (
            "1 year 2 mons -3 days 04:05:06.789",
            "-178000000 years",
            "-1.5 seconds",
            "100 hours",
            "0",
        ),
    ),
    # bit strings
    Col("b1", "bit", "bit-text", "text", ("1", "0", None, None, None)),
    Col("b3", "bit(3)", "bit-text", "text", ("101", "000", None, None, None)),
    Col("vb", "varbit", "bit-text", "text", ("10101", "", "1" * 100, None, None)),
    # strings of other types
    Col(
        "u",
        "uuid",
        "text",
        "text",
        (
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "00000000-0000-0000-0000-000000000000",
            None,
            None,
            None,
        ),
    ),
    Col(
        "j",
        "json",
        "json-text",
        "text",
        ('{"a": [1, 2.50, "😀"], "a": 2}', "null", '"\\u0000x"', "[]", None),
    ),
    Col("jb", "jsonb", "json-text", "text", ('{"b": 1e400, "a": "😀"}', "null", "[]", "{}", None)),
    Col("x", "xml", "text", "text", ("<a>😀 &amp; b</a>", "text only", None, None, None)),
    Col("e", "sparkpg_mood", "enum-text", "text", ("happy", "sad 😀", None, None, None)),
    Col("c", "sparkpg_pair", "composite-text", "text", ('(1,"x, ""y""")', "(,)", None, None, None)),
    Col("r", "int4range", "range-text", "text", ("[1,5)", "empty", "(,)", None, None)),
    Col(
        "tr",
        "tstzrange",
        "range-text",
        "text",
        ('["2020-01-01 00:00+00",infinity)', None, None, None, None),
    ),
    Col("mr", "int4multirange", "range-text", "text", ("{[1,3),[5,7)}", "{}", None, None, None)),
    Col(
        "ip",
        "inet",
        "text",
        "text",
        # text(inet) would append /32 and /128 to the host addresses; their output does not
        ("192.168.0.1/24", "::1", "2001:db8::ff00:42:8329", "172.16.0.42/32", "::ffff:1.2.3.4"),
    ),
    Col("cid", "cidr", "text", "text", ("10.0.0.0/8", "2001:db8::/32", "10.0.0.1/32", None, None)),
    Col(
        "ainet",
        "inet[]",
        "array-text",
        "text",
        ("{172.16.0.42,::1/64,NULL}", "{10.0.0.1/32}", None, None, None),
    ),
    # unsized bpchar (what a UNION of char(n) columns gives) keeps its blanks, like char(n)
    Col("bpu", "bpchar", "bpchar-text", "text", ("ab  ", "", " x", "😀", None)),
    Col("mac", "macaddr", "text", "text", ("08:00:2b:01:02:03", None, None, None, None)),
    Col("mac8", "macaddr8", "text", "text", ("08:00:2b:01:02:03:04:05", None, None, None, None)),
    Col("pt", "point", "text", "text", ("(1.5,-2)", "(NaN,Infinity)", None, None, None)),
    Col("ln", "line", "text", "text", ("{1,-1,0}", None, None, None, None)),
    Col("ls", "lseg", "text", "text", ("[(0,0),(1,1)]", None, None, None, None)),
    Col("bx", "box", "text", "text", ("(1,1),(0,0)", None, None, None, None)),
    Col("pa", "path", "text", "text", ("[(0,0),(1,1),(2,0)]", "((0,0),(1,1))", None, None, None)),
    Col("pg", "polygon", "text", "text", ("((0,0),(1,1),(1,0))", None, None, None, None)),
    Col("ci", "circle", "text", "text", ("<(0,0),1.5>", None, None, None, None)),
    Col("tv", "tsvector", "text", "text", ("'a':1 'fat':2A 'rat😀':3", "", None, None, None)),
    Col("tq", "tsquery", "text", "text", ("'fat' & !'rat'", None, None, None, None)),
    Col("lsn", "pg_lsn", "text", "text", ("0/16B3748", "FFFFFFFF/FFFFFFFF", None, None, None)),
    Col("nm", "name", "text", "text", ("name 😀", "", None, None, None)),
    Col("ch", '"char"', "text", "text", ("x", "", None, None, None)),
    Col("i2v", "int2vector", "text", "text", ("1 2 -3", "", None, None, None)),
    Col("ov", "oidvector", "text", "text", ("3 4294967295", "", None, None, None)),
    Col("snap", "pg_snapshot", "text", "text", ("10:20:10,14,15", None, None, None, None)),
    Col("txs", "txid_snapshot", "text", "text", ("10:20:10,14,15", None, None, None, None)),
    Col("rc", "regclass", "text", "text", ("pg_class", None, None, None, None)),
    Col(
        "h",
        "hstore",
        "text",
        "text",
        ('"a"=>"1", "b 😀"=>NULL', "", None, None, None),
        needs="hstore",
    ),
    # arrays: native where Spark reads them exactly, else PostgreSQL's array text
    Col(
        "ai",
        "integer[]",
        "array",
        "array",
        ("{1,NULL,-2147483648}", "{{1,2},{3,4}}", "[0:1]={7,8}", "{}", "{5}"),
    ),
    Col(
        "ata",
        "text[]",
        "array",
        "array",
        ('{héllo,😀,NULL,"a,b","q\\"uote",""}', "{}", '{"NULL"}', None, None),
    ),
    Col("abo", "boolean[]", "array", "array", ("{t,f,NULL}", None, None, None, None)),
    Col("af8", "float8[]", "array", "array", ("{NaN,Infinity,-0,1e308}", None, None, None, None)),
    Col("af4", "real[]", "array", "array", ("{1.1,NaN}", None, None, None, None)),
    Col(
        "ai8",
        "bigint[]",
        "array",
        "array",
        ("{-9223372036854775808,9223372036854775807}", None, None, None, None),
    ),
    Col("abc", "char(2)[]", "array-text", "text", ("{a,bc}", None, None, None, None)),
    Col("avc", "varchar(3)[]", "array", "array", ('{abc,"😀",""}', None, None, None, None)),
    Col("aby", "bytea[]", "array", "array", ('{"\\\\x00ff",NULL}', None, None, None, None)),
    Col(
        "au",
        "uuid[]",
        "array",
        "array",
        ("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", None, None, None, None),
    ),
    Col(
        "adom",
        "sparkpg_posint[]",
        "array",
        "array",
        ("{1,2}", None, None, None, None),
        typed_as="integer[]",
    ),
    Col(
        "ai2",
        "integer[][]",
        "array-text",
        "text",
        ("{{1,2},{3,4}}", "{1}", "[0:0]={0}", None, None),
    ),
    Col("an", "numeric[]", "array-text", "text", ("{1.5,NaN,Infinity}", None, None, None, None)),
    Col(
        "ad",
        "date[]",
        "array-text",
        "text",
        ('{infinity,2020-01-01,"4713-01-01 BC"}', None, None, None, None),
    ),
    Col(
        "atz",
        "timestamptz[]",
        "array-text",
        "text",
        ('{"2020-01-01 00:00:00+00",-infinity}', None, None, None, None),
    ),
    Col("at", "time[]", "array-text", "text", ("{12:34:56.123456}", None, None, None, None)),
    Col("aiv", "interval[]", "array-text", "text", ('{"1 day",-00:00:01}', None, None, None, None)),
    Col("ajb", "jsonb[]", "array-text", "text", ('{"{\\"a\\": 1}",null}', None, None, None, None)),
    Col("ae", "sparkpg_mood[]", "array-text", "text", ('{happy,"sad 😀"}', None, None, None, None)),
    Col("ac", "sparkpg_pair[]", "array-text", "text", ('{"(1,x)"}', None, None, None, None)),
    Col("am", "money[]", "array-text", "text", ("{1.5,-2}", None, None, None, None)),
    Col("abit", "bit(2)[]", "array-text", "text", ("{01,10}", None, None, None, None)),
    # a name that needs quoting everywhere (PostgreSQL, Spark DDL, Python)
    Col('Mixed "Case" `col`', "integer", "native", "native", ("1", "2", None, None, None)),
]


def qualified_table() -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(TABLE))


def create_types_table(conn: psycopg.Connection[Any]) -> List[Col]:
    """(Re)create the schema, types and table; return the columns actually created."""
    has_hstore = conn.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'hstore'"
    ).fetchone() == (1,)
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
    if has_hstore:
        conn.execute("CREATE EXTENSION IF NOT EXISTS hstore")
    for ddl in (
        "DROP TYPE IF EXISTS sparkpg_mood, sparkpg_pair CASCADE",
        "DROP DOMAIN IF EXISTS sparkpg_posint, sparkpg_label, sparkpg_amount CASCADE",
        "CREATE TYPE sparkpg_mood AS ENUM ('sad 😀', 'happy')",
        "CREATE TYPE sparkpg_pair AS (a int, b text)",
        "CREATE DOMAIN sparkpg_posint AS integer CHECK (VALUE > 0)",
        "CREATE DOMAIN sparkpg_label AS text",
        "CREATE DOMAIN sparkpg_amount AS numeric(10,2)",
    ):
        conn.execute(ddl)
    columns = [c for c in COLUMNS if c.needs is None or has_hstore]
    defs = [sql.SQL("id integer PRIMARY KEY"), sql.SQL("dropped_col integer")]
    defs += [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in columns]
    conn.execute(
        sql.SQL("CREATE TABLE {} ({})").format(qualified_table(), sql.SQL(", ").join(defs))
    )
    conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN dropped_col").format(qualified_table()))
    names = sql.SQL(", ").join([sql.Identifier("id")] + [sql.Identifier(c.name) for c in columns])
    casts = sql.SQL(", ").join(
        [sql.Placeholder()]
        + [sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(c.type)) for c in columns]
    )
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(qualified_table(), names, casts)
    with conn.cursor() as cur:
        for row in range(ROWS):
            values = [c.values[row] if row < len(c.values) else None for c in columns]
            cur.execute(insert, [row + 1, *values])
    return columns
