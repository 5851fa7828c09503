"""How a DataFrame's columns meet the target table's: the target's columns from the catalog,
which DataFrame column goes to which, whether its Spark type may go there, the PostgreSQL type
that holds each Spark type exactly (staging and ``create=True``), and the upsert key's check.

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from connectors.errors import WriteRefusedError
from connectors.jdbc import TableRef, quote_ident, quote_literal

if TYPE_CHECKING:
    from spark_jobs.db.connection import DriverConnection

logger = logging.getLogger(__name__)

#: Spark type (``DataType.simpleString()``) -> PostgreSQL type: the staging table's columns, and
#: the columns ``create=True`` makes (the inverse of docs/types.md). The engine's encoder
#: (jvm/src/io/sparkpg/engine/write/RowEncoder.java) writes exactly these types.
STAGING_TYPES: Dict[str, str] = {
    "boolean": "boolean",
    "tinyint": "smallint",
    "smallint": "smallint",
    "int": "integer",
    "bigint": "bigint",
    "float": "real",
    "double": "double precision",
    "string": "text",
    "binary": "bytea",
    "date": "date",
    "timestamp": "timestamp with time zone",
    "timestamp_ntz": "timestamp without time zone",
}


_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")


_ARRAY = re.compile(r"array<(.+)>")


_INTEGERS = frozenset({"int2", "int4", "int8", "oid"})
_FLOATS = frozenset({"float4", "float8"})
_NUMBERS = _INTEGERS | _FLOATS | {"numeric", "money"}
#: Base types with a length limit, and the unlimited type a staged value is cast to first.
_UNLIMITED = {
    "varchar": "varchar",
    "bpchar": "bpchar",
    "bit": "varbit",
    "varbit": "varbit",
    "_varchar": "varchar[]",
    "_bpchar": "bpchar[]",
    "_bit": "varbit[]",
    "_varbit": "varbit[]",
}
#: Target base types a Spark STRING may not go into (the read side never reads them as text).
_NOT_FROM_TEXT = _INTEGERS | _FLOATS | {"bool", "bytea"}


@dataclass(frozen=True)
class TargetColumn:
    """A column of the target table, from the catalog."""

    name: str
    type_sql: str  # format_type(): what the final INSERT casts to
    base_type: str  # the type's name, domains resolved (int4, numeric, text, _int4 ...)
    category: str  # pg_type.typcategory of the base type (N, S, D, B, A, ...)
    element_type: Optional[str]  # for arrays, the element's base type name
    not_null: bool
    has_default: bool  # a default, an identity or a generated value
    generated: bool

    @property
    def cast_sql(self) -> str:
        """The type the move casts a staged value to before it is assigned to this column: the
        column's type, except for length-limited character and bit strings, which are cast to
        their unlimited type (an explicit cast to ``varchar(3)`` truncates silently, the
        assignment to the column refuses a value too long)."""
        return _UNLIMITED.get(self.base_type, self.type_sql)


@dataclass(frozen=True)
class ColumnPair:
    """A DataFrame column (position, name, Spark type) and the target column it goes to."""

    position: int
    spark_name: str
    spark_type: str
    target: TargetColumn

    @property
    def staging_name(self) -> str:
        """The staging table's column (``c0``, ``c1``, ...)."""
        return f"c{self.position}"


def staging_type(spark_type: str, column: str) -> str:
    """The PostgreSQL type holding a Spark type exactly (see :data:`STAGING_TYPES`).

    >>> staging_type("decimal(12,2)", "total"), staging_type("array<int>", "ids")
    ('numeric(12,2)', 'integer[]')
    """
    if spark_type in STAGING_TYPES:
        return STAGING_TYPES[spark_type]
    decimal = _DECIMAL.fullmatch(spark_type)
    if decimal:
        return f"numeric({decimal.group(1)},{decimal.group(2)})"
    array = _ARRAY.fullmatch(spark_type)
    if (array and array.group(1) in STAGING_TYPES) or (
        array and _DECIMAL.fullmatch(array.group(1))
    ):
        return staging_type(array.group(1), column) + "[]"
    raise WriteRefusedError(
        f"column {column!r} has Spark type {spark_type}, which sparkpg cannot write; cast it to "
        "one of the types in docs/writing.md (for example to_json() for structs and maps)"
    )


def match_columns(
    spark_columns: Sequence[Tuple[str, str]], target: Sequence[TargetColumn], *, table: str
) -> List[ColumnPair]:
    """Pair each DataFrame column ``(name, spark type)`` with a target column: exact name, else
    case-insensitive (with a warning). Refuses extra columns, columns without a writable target,
    two columns for one target, target columns left out that are NOT NULL without a default,
    and incompatible types (:func:`check_compatible`)."""
    by_name = {c.name: c for c in target}
    by_folded: Dict[str, List[TargetColumn]] = {}
    for c in target:
        by_folded.setdefault(c.name.lower(), []).append(c)
    pairs: List[ColumnPair] = []
    extras: List[str] = []
    for position, (name, spark_type) in enumerate(spark_columns):
        staging_type(spark_type, name)  # refuses types the engine cannot write
        column = by_name.get(name)
        if column is None:
            candidates = by_folded.get(name.lower(), [])
            if len(candidates) == 1:
                column = candidates[0]
                logger.warning(
                    "%s: DataFrame column %r written to column %r (names differ in case)",
                    table,
                    name,
                    column.name,
                )
        if column is None:
            extras.append(name)
            continue
        pairs.append(ColumnPair(position, name, spark_type, column))
    if extras:
        raise WriteRefusedError(
            f"{table} has no column {', '.join(repr(e) for e in extras)} (target columns: "
            f"{', '.join(c.name for c in target)}): drop or rename the DataFrame's columns"
        )
    used: Dict[str, str] = {}
    for pair in pairs:
        if pair.target.name in used:
            raise WriteRefusedError(
                f"{table}: DataFrame columns {used[pair.target.name]!r} and {pair.spark_name!r} "
                f"both go to column {pair.target.name!r}: rename one"
            )
        used[pair.target.name] = pair.spark_name
        if pair.target.generated:
            raise WriteRefusedError(
                f"{table}: column {pair.target.name!r} is generated and cannot be written: drop "
                f"{pair.spark_name!r} from the DataFrame"
            )
        check_compatible(pair, table=table)
    missing = [c.name for c in target if c.name not in used and c.not_null and not c.has_default]
    if missing:
        raise WriteRefusedError(
            f"{table}: column(s) {', '.join(repr(m) for m in missing)} are NOT NULL without a "
            "default and the DataFrame has no such column: add them to the DataFrame"
        )
    return pairs


def check_compatible(pair: ColumnPair, *, table: str) -> None:
    """Refuse a Spark type the target column's type cannot take without changing its meaning
    (a string into an integer, a fraction into an integer, a number into a date, ...). Strings go
    into every other type: the server parses them at commit (how text-kept values such as
    unconstrained numeric, interval or ranges write back exactly)."""
    if not _compatible(
        pair.spark_type, pair.target.base_type, pair.target.category, pair.target.element_type
    ):
        raise WriteRefusedError(
            f"{table}: DataFrame column {pair.spark_name!r} ({pair.spark_type}) cannot be "
            f"written to column {pair.target.name!r} ({pair.target.type_sql}): cast it in Spark "
            "first (docs/writing.md lists what goes where)"
        )


def _compatible(spark_type: str, base: str, category: str, element: Optional[str]) -> bool:
    if category == "S" or base in ("json", "jsonb"):  # text types take anything
        return spark_type != "binary" or base not in ("json", "jsonb")
    array = _ARRAY.fullmatch(spark_type)
    if array:
        return category == "A" and _compatible(array.group(1), element or "", "", None)
    if spark_type == "string":
        return base not in _NOT_FROM_TEXT
    if spark_type == "boolean":
        return base == "bool"
    if spark_type in ("tinyint", "smallint", "int", "bigint"):
        return base in _NUMBERS
    if spark_type in ("float", "double"):
        return base in _FLOATS | {"numeric"}
    decimal = _DECIMAL.fullmatch(spark_type)
    if decimal:
        return base in _NUMBERS - _INTEGERS or (base in _INTEGERS and decimal.group(2) == "0")
    if spark_type == "binary":
        return base == "bytea"
    if spark_type == "date":
        return base in ("date", "timestamp", "timestamptz")
    if spark_type in ("timestamp", "timestamp_ntz"):
        return base in ("timestamp", "timestamptz")
    return False


#: Where Spark keeps a column's declared CHAR(n)/VARCHAR(n) (a StructField's metadata).
CHAR_VARCHAR_METADATA = "__CHAR_VARCHAR_TYPE_STRING"
_CHAR_VARCHAR = re.compile(r"(array<)?(char|varchar)\((\d+)\)(>)?")


@dataclass(frozen=True)
class NewColumn:
    """A DataFrame column as ``create=True`` makes it: name, Spark type (``simpleString()``),
    nullability and the CHAR(n)/VARCHAR(n) Spark declared for it (:data:`CHAR_VARCHAR_METADATA`)."""

    name: str
    spark_type: str
    nullable: bool = True
    declared: Optional[str] = None

    @property
    def type_sql(self) -> str:
        """``character(n)``/``character varying(n)`` (or arrays of them) for a string declared
        CHAR/VARCHAR, else :func:`staging_type`."""
        found = _CHAR_VARCHAR.fullmatch(self.declared or "")
        if found and bool(found.group(1)) == bool(found.group(4)):
            array = bool(found.group(1))
            if self.spark_type == ("array<string>" if array else "string"):
                kind = "character" if found.group(2) == "char" else "character varying"
                return f"{kind}({found.group(3)}){'[]' if array else ''}"
        return staging_type(self.spark_type, self.name)


def create_table_sql(table: TableRef, columns: Sequence[NewColumn], key: Sequence[str] = ()) -> str:
    """``CREATE TABLE`` for ``create=True``: one column per DataFrame column, named as in the
    DataFrame, typed by :data:`STAGING_TYPES` (CHAR(n)/VARCHAR(n) as Spark declared them),
    NOT NULL where the DataFrame's column is not nullable, and ``key`` as the primary key.

    >>> create_table_sql(TableRef("c", "s", "t"), [NewColumn("id", "bigint", False),
    ...     NewColumn("code", "string", True, "char(3)")], ["id"])
    'CREATE TABLE "s"."t" ("id" bigint NOT NULL, "code" character(3), PRIMARY KEY ("id"))'
    """
    names = [c.name for c in columns]
    unknown = [k for k in key if k not in names]
    if unknown:
        raise WriteRefusedError(
            f"key {list(key)} for the new table {table}: {', '.join(repr(k) for k in unknown)} "
            f"is not a DataFrame column (columns: {', '.join(names)}): pass the DataFrame's "
            "column names"
        )
    parts = [
        f"{quote_ident(c.name)} {c.type_sql}{'' if c.nullable else ' NOT NULL'}" for c in columns
    ]
    if key:
        parts.append(f"PRIMARY KEY ({', '.join(quote_ident(k) for k in key)})")
    return f"CREATE TABLE {table.qualified_name} ({', '.join(parts)})"


def check_exact(pair: ColumnPair, *, table: str) -> None:
    """For ``atomic=False``: binary COPY into the target needs the target's exact type."""
    staged = staging_type(pair.spark_type, pair.spark_name)
    scalar = staged[:-2] if staged.endswith("[]") else staged
    if scalar.startswith("numeric"):  # binary numeric is rounded to the column's scale: same typmod
        target = pair.target.type_sql[:-2] if staged.endswith("[]") else pair.target.type_sql
        name: Optional[str] = "numeric" if target in (scalar, "numeric") else None
    else:
        name = _BINARY_NAMES.get(scalar)
    expected = ("_" + name if staged.endswith("[]") else name) if name else None
    actual = pair.target.base_type
    if actual in ("varchar", "_varchar"):  # varchar takes text's binary form
        actual = actual.replace("varchar", "text")
    if expected is None or expected != actual:
        raise WriteRefusedError(
            f"{table}: atomic=False needs DataFrame column {pair.spark_name!r} "
            f"({pair.spark_type}) to have column {pair.target.name!r}'s exact type "
            f"({pair.target.type_sql}): cast it in Spark, or write with atomic=True"
        )


_BINARY_NAMES = {
    "boolean": "bool",
    "smallint": "int2",
    "integer": "int4",
    "bigint": "int8",
    "real": "float4",
    "double precision": "float8",
    "text": "text",
    "bytea": "bytea",
    "date": "date",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
}


_COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), bt.typname, bt.typcategory,
       et.typname, a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',
       a.attgenerated <> ''
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
WHERE n.nspname = ? AND c.relname = ? AND c.relkind IN ('r', 'p', 'f')
ORDER BY a.attnum
"""


def target_columns(source: DriverConnection, ref: TableRef) -> List[TargetColumn]:
    """The target's columns in order (empty when there is no such table)."""
    rows = source.query(_COLUMNS_SQL, [ref.schema, ref.table], what=f"describing {ref}")
    return [
        TargetColumn(
            name=str(r[0]),
            type_sql=str(r[1]),
            base_type=str(r[2]),
            category=str(r[3]),
            element_type=None if r[4] is None else str(r[4]),
            not_null=bool(r[5]),
            has_default=bool(r[6]),
            generated=bool(r[7]),
        )
        for r in rows
    ]


def check_key(source: DriverConnection, ref: TableRef, keys: Sequence[str]) -> None:
    """Refuse a key that is not exactly the columns of a unique index or the primary key."""
    rows = source.query(
        "SELECT array_to_string(array_agg(a.attname::text ORDER BY a.attname), ',') "
        "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
        f"WHERE i.indrelid = {quote_literal(ref.qualified_name)}::regclass AND i.indisunique "
        "AND i.indpred IS NULL AND i.indexprs IS NULL GROUP BY i.indexrelid",
        what=f"reading the unique indexes of {ref}",
    )
    unique = [set(str(r[0]).split(",")) for r in rows]
    if set(keys) not in unique:
        found = "; ".join(sorted(", ".join(sorted(u)) for u in unique)) or "none"
        raise WriteRefusedError(
            f"key {list(keys)} of {ref} is not a primary key or unique index (unique column sets: "
            f"{found}): pass one of those, or create a unique index on the key"
        )
