"""The PostgreSQL -> Spark type policy: every built-in type reads without an error and without
silent loss.

Two steps, both pure except for the catalog queries:

1. :func:`describe_source` reads the columns of a table (from the catalog) or of a query (from a
   one-row probe that never executes the query) into :class:`PgColumn` objects;
2. :func:`plan_columns` turns each column into a :class:`ColumnPlan`: the SQL expression to select
   (``"amount"::text AS "amount"``) and the Spark type to force with the JDBC ``customSchema``
   option (see :func:`custom_schema`).

Where Spark has an exact type it is used; where it has none the value is read as exact text or an
exact decimal. Values that a native Spark type cannot hold exactly (``NaN`` in ``numeric(p,s)``,
``±infinity`` dates and timestamps, dates Spark's JDBC path would shift, arrays whose shape Spark
cannot carry) become NULL by default, and every such rule is visible in
:attr:`ColumnPlan.null_when`; ``plan_columns(..., unrepresentable="text")`` reads those columns as
exact text instead. The full table, with examples, is in ``docs/types.md``.

This module imports on Python 3.9 without pyspark or a database driver.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Sequence

from connectors.jdbc import quote_ident

UNREPRESENTABLE_MODES = ("null", "text")

# Spark's TimestampType holds microseconds since the epoch in a signed 64-bit integer; PostgreSQL
# timestamps go 32 years further (294276 AD).
SPARK_MAX_TIMESTAMP = "294247-01-10 04:00:54.775807"
# pgjdbc builds java.sql.Date/Timestamp with the hybrid Julian/Gregorian calendar, where these
# proleptic Gregorian days do not exist; Spark then reads them 10 days later (measured on Spark
# 3.5 + pgjdbc 42.7, text and binary transfer). Every other date PostgreSQL can store reads exactly.
GREGORIAN_GAP = ("1582-10-05", "1582-10-15")  # [start, end)

# Array element types Spark 3.5 reads as a native ARRAY exactly, in text and binary transfer.
_NATIVE_ARRAY_ELEMENTS: Dict[str, str] = {
    "bool": "BOOLEAN",
    "int2": "SMALLINT",
    "int4": "INT",
    "int8": "BIGINT",
    "float4": "FLOAT",
    "float8": "DOUBLE",
    "text": "STRING",
    "varchar": "STRING",
    "bytea": "BINARY",
    "uuid": "STRING",
}
# Not bpchar: reading char(n)[] with customSchema ARRAY<STRING> kills the task with
# "OutOfMemoryError: Requested array size exceeds VM limit" (Spark 3.5.9, pgjdbc 42.7.13).

# Scalar types read natively with Spark's own (exact) getter.
_NATIVE_SCALARS: Dict[str, str] = {
    "bool": "BOOLEAN",
    "int2": "SMALLINT",
    "int4": "INT",
    "int8": "BIGINT",
    "float4": "FLOAT",
    "float8": "DOUBLE",
    "text": "STRING",
    "varchar": "STRING",
    "bpchar": "STRING",
    "bytea": "BINARY",
    "oid": "BIGINT",
}

_MAX_SPARK_DECIMAL_PRECISION = 38
# money is an int8 count of the locale's smallest unit (lc_monetary: 0 to 3 fraction digits in
# practice): 19 integer digits and 3 fraction digits hold every value in every such locale.
MONEY_SPARK_TYPE = "DECIMAL(22,3)"


@dataclass(frozen=True)
class PgColumn:
    """One column of a PostgreSQL table or query, with its type resolved through domains.

    ``base_type`` and ``element_type`` are ``pg_type.typname`` values (``int4``, ``numeric``,
    ``_int4``, ``timestamptz``, ``mood``); ``*_schema`` says where the type lives, so a user type
    that happens to be called ``int4`` in another schema is not mistaken for the built-in one.

    >>> c = PgColumn(name="amount", formatted_type="numeric(12,2)", base_type="numeric",
    ...              base_typmod=786438)
    >>> (c.numeric_precision, c.numeric_scale)
    (12, 2)
    """

    name: str
    formatted_type: (
        str  # format_type(atttypid, atttypmod): 'numeric(12,2)', 'public.mood', 'posint'
    )
    base_type: str  # typname after resolving domains: 'numeric', '_int4', 'mood'
    base_schema: str = "pg_catalog"
    base_typmod: int = -1  # of the base type, or of the array elements for arrays
    typtype: str = (
        "b"  # of the base type: b base, c composite, e enum, r range, m multirange, p pseudo
    )
    typcategory: str = (
        "U"  # of the base type: A array, N numeric, D datetime, S string, U user, ...
    )
    domain: Optional[str] = None  # formatted name of the domain the column was declared with
    element_type: Optional[str] = None  # arrays: typname of the element after resolving domains
    element_schema: Optional[str] = None
    element_typtype: Optional[str] = None
    element_is_domain: bool = False
    dimensions: int = 0  # arrays: declared dimensions (pg_attribute.attndims; 0 = not declared)
    type_oid: int = 0  # as declared (the domain's oid for a domain column)
    string_filter: str = (
        "none"  # string filters the collation allows pushing: none/equality/ordering
    )
    output_function: Optional[str] = None  # of the base type, quoted: 'pg_catalog.inet_out'

    @property
    def is_array(self) -> bool:
        """True for a PostgreSQL array (``int4[]``, ``numeric[][]``), false for int2vector/oidvector."""
        return self.element_type is not None

    @property
    def is_builtin(self) -> bool:
        """True when the base type is one of PostgreSQL's own (schema ``pg_catalog``)."""
        return self.base_schema == "pg_catalog"

    @property
    def numeric_precision(self) -> Optional[int]:
        """Declared precision of a ``numeric`` (or ``numeric[]``) column, else None."""
        if _numeric_name(self) is None or self.base_typmod < 4:
            return None
        return ((self.base_typmod - 4) >> 16) & 0xFFFF

    @property
    def numeric_scale(self) -> Optional[int]:
        """Declared scale (PostgreSQL 15 allows negative scales and scales above the precision)."""
        if _numeric_name(self) is None or self.base_typmod < 4:
            return None
        return (((self.base_typmod - 4) & 0x7FF) ^ 1024) - 1024


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is read: the SELECT expression and the Spark type forced by customSchema.

    ``null_when`` is a SQL condition over the source column that is true exactly for the values
    the plan reads as NULL because the native Spark type cannot hold them (None: no such values).
    It makes the documented rules auditable (the reader counts them, see ``docs/types.md``).
    ``read_as`` is set only for names Spark cannot quote or tell apart (see :attr:`spark_name`);
    ``dataframe_name`` only for a column renamed because its name differs from another's only in
    case (see :func:`plan_columns`).
    """

    name: str
    select_sql: str
    spark_type: Optional[str]
    policy: str
    null_when: Optional[str] = None
    read_as: Optional[str] = None
    renamed_to: Optional[str] = None

    @property
    def dataframe_name(self) -> str:
        """The column's name in the DataFrame: the PostgreSQL name unless it had to be renamed."""
        return self.renamed_to or self.name

    @property
    def spark_name(self) -> str:
        """The column's name in the JDBC result Spark reads (``read_as`` when set, else ``name``).

        Spark 3.5's PostgreSQL dialect wraps column names in double quotes without doubling the
        ones inside, so a name containing ``"`` is read under a placeholder name and must be
        renamed back after the load (see :func:`renames`).
        """
        return self.read_as or self.dataframe_name


# --------------------------------------------------------------------------------------------------
# plan_columns


def plan_columns(columns: List[PgColumn], *, unrepresentable: str = "null") -> List[ColumnPlan]:
    """One :class:`ColumnPlan` per column, in order. See ``docs/types.md`` for the table.

    ``unrepresentable`` decides what happens to columns of a native type that may hold values
    the Spark type cannot (``numeric(p,s)`` NaN, ``±infinity`` dates and timestamps, dates in the
    1582 Gregorian gap, timestamps after 294247-01-10, arrays of other shapes):
    ``"null"`` (default) keeps the native type and reads those values as NULL (``null_when`` says
    which); ``"text"`` reads the whole column as PostgreSQL's exact text instead.

    Spark resolves column names case-insensitively, so of columns whose names differ only in case
    (``"ID"`` and ``id``) the first keeps its name and each later one gets ``__2``, ``__3``, ...
    (``id__2``; :attr:`ColumnPlan.dataframe_name`, see :func:`case_renames`).

    >>> [p.select_sql for p in plan_columns([PgColumn(name="n", formatted_type="numeric",
    ...                                               base_type="numeric")])]
    ['"n"::text AS "n"']
    """
    if unrepresentable not in UNREPRESENTABLE_MODES:
        raise ValueError(
            f"unrepresentable={unrepresentable!r}: expected one of {', '.join(UNREPRESENTABLE_MODES)}"
        )
    plans = [_plan(column, unrepresentable) for column in columns]
    new_names = _case_insensitive_names([plan.name for plan in plans])
    result = []
    for position, (plan, new_name) in enumerate(zip(plans, new_names), start=1):
        if new_name != plan.name:
            plan = _read_as(plan, new_name if '"' not in new_name else f"_sparkpg_col_{position}")
            plan = replace(plan, renamed_to=new_name)
        elif '"' in plan.name:
            plan = _read_as(plan, f"_sparkpg_col_{position}")
        result.append(plan)
    return result


def _case_insensitive_names(names: Sequence[str]) -> List[str]:
    """``names`` made unique case-insensitively: later duplicates get ``__2``, ``__3``, ..."""
    taken = {name.lower() for name in names}
    seen: Dict[str, int] = {}
    result = []
    for name in names:
        key = name.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 1:
            result.append(name)
            continue
        suffix = seen[key]
        while f"{key}__{suffix}" in taken:
            suffix += 1
        result.append(f"{name}__{suffix}")
        taken.add(f"{key}__{suffix}")
    return result


def case_renames(plans: Sequence[ColumnPlan]) -> Dict[str, str]:
    """``{PostgreSQL name: DataFrame name}`` of the columns renamed because their names differ
    from an earlier column's only in case (empty for almost every table)."""
    return {plan.name: plan.renamed_to for plan in plans if plan.renamed_to}


def _read_as(plan: ColumnPlan, alias: str) -> ColumnPlan:
    quoted = quote_ident(plan.name)
    select = plan.select_sql
    if select.endswith(f" AS {quoted}"):
        select = select[: -len(quoted)] + quote_ident(alias)
    else:
        select = f"{select} AS {quote_ident(alias)}"
    return replace(plan, select_sql=select, read_as=alias)


def _numeric_name(column: PgColumn) -> Optional[str]:
    name = column.element_type if column.is_array else column.base_type
    schema = column.element_schema if column.is_array else column.base_schema
    return name if name == "numeric" and schema == "pg_catalog" else None


def _plan(column: PgColumn, unrepresentable: str) -> ColumnPlan:
    q = quote_ident(column.name)

    def text(policy: str, expr: str = f"{q}::text") -> ColumnPlan:
        return ColumnPlan(column.name, f"{expr} AS {q}", "STRING", policy)

    def guarded(policy: str, spark_type: str, null_when: str, value: str = q) -> ColumnPlan:
        if unrepresentable == "text":
            return text(f"{policy}-as-text")
        select = f"CASE WHEN {null_when} THEN NULL ELSE {value} END AS {q}"
        return ColumnPlan(column.name, select, spark_type, policy, null_when)

    if column.is_array:
        return _plan_array(column, q, text, guarded)
    if column.typtype != "b":
        # enum, composite, range, multirange and pseudo types: their ::text is their output
        return text(_KIND_POLICY.get(column.typtype, "text"))
    if not column.is_builtin:  # extension types (hstore, citext, ...): their own output text
        return text("text", output_text_sql(column, q))

    name = column.base_type
    if name == "bpchar" and column.base_typmod < 0:
        # Unsized bpchar (a UNION of char(n) of different lengths, 'ab'::bpchar) kills Spark's
        # JDBC reader (OutOfMemoryError: Requested array size exceeds VM limit). Its output
        # function keeps the value's trailing blanks, as char(n) reads them; ::text would drop them.
        return text("bpchar-text", f"{column.output_function or 'pg_catalog.bpcharout'}({q})::text")
    if name in _NATIVE_SCALARS:
        return ColumnPlan(column.name, q, _NATIVE_SCALARS[name], "native")
    if name == "numeric":
        return _plan_numeric(column, q, text, guarded)
    if name == "money":
        return ColumnPlan(column.name, f"{q}::numeric AS {q}", MONEY_SPARK_TYPE, "money-decimal")
    if name == "date":
        null_when = (
            f"NOT pg_catalog.isfinite({q}) OR ({q} >= DATE '{GREGORIAN_GAP[0]}' "
            f"AND {q} < DATE '{GREGORIAN_GAP[1]}')"
        )
        return guarded("date", "DATE", null_when)
    if name in ("timestamp", "timestamptz"):
        literal = "TIMESTAMP" if name == "timestamp" else "TIMESTAMPTZ"
        zone = "" if name == "timestamp" else "+00"
        null_when = (
            f"NOT pg_catalog.isfinite({q}) OR {q} > {literal} '{SPARK_MAX_TIMESTAMP}{zone}' "
            f"OR ({q} >= {literal} '{GREGORIAN_GAP[0]}{zone}' "
            f"AND {q} < {literal} '{GREGORIAN_GAP[1]}{zone}')"
        )
        return guarded(name, "TIMESTAMP", null_when)
    if name in ("time", "timetz"):
        return text("time-text")
    if name == "interval":
        return text("interval-iso8601", interval_iso8601_sql(q))
    if name in ("bit", "varbit"):
        return text("bit-text")
    if name in ("json", "jsonb"):
        return text("json-text")
    return text("text", output_text_sql(column, q))


def output_text_sql(column: PgColumn, expr: str) -> str:
    """SQL for the type's output text (what psql and pg_dump show) of a base-type column.

    ``::text`` is not always that: a type may have its own cast to text (``text(inet)`` appends
    ``/32`` or ``/128`` to a host address, which ``inet_out`` omits), so the output function is
    called directly when the catalog named it.
    """
    if column.output_function is None:
        return f"{expr}::text"
    return f"{column.output_function}({expr})::text"


_KIND_POLICY = {"e": "enum-text", "c": "composite-text", "r": "range-text", "m": "range-text"}


def _plan_numeric(
    column: PgColumn,
    q: str,
    text: Callable[..., ColumnPlan],
    guarded: Callable[..., ColumnPlan],
) -> ColumnPlan:
    spark_type = _decimal_for(column.numeric_precision, column.numeric_scale)
    if spark_type is None:
        return text("numeric-text")
    return guarded("decimal", spark_type, f"{q} = 'NaN'::numeric")


def _decimal_for(precision: Optional[int], scale: Optional[int]) -> Optional[str]:
    """The Spark DECIMAL that holds every value of numeric(precision, scale) exactly, if any."""
    if precision is None or scale is None or precision < 1:
        return None
    if scale < 0:  # numeric(5,-2): up to 7 integer digits, no fraction
        precision, scale = precision - scale, 0
    elif scale > precision:  # numeric(2,5): |x| < 0.01 with 5 fraction digits
        precision = scale
    if precision > _MAX_SPARK_DECIMAL_PRECISION:
        return None
    return f"DECIMAL({precision},{scale})"


def _plan_array(
    column: PgColumn,
    q: str,
    text: Callable[..., ColumnPlan],
    guarded: Callable[..., ColumnPlan],
) -> ColumnPlan:
    element = column.element_type or ""
    native = (
        column.element_schema == "pg_catalog"
        and column.element_typtype == "b"
        and element in _NATIVE_ARRAY_ELEMENTS
        and column.dimensions <= 1
    )
    if not native:
        return text("array-text")
    # Spark reads one-dimensional arrays with lower bound 1 only; PostgreSQL does not enforce the
    # declared dimensions, so other shapes are guarded like any other unrepresentable value.
    null_when = f"pg_catalog.array_ndims({q}) > 1 OR pg_catalog.array_lower({q}, 1) <> 1"
    value = f"{q}::pg_catalog.{quote_ident(element)}[]" if column.element_is_domain else q
    return guarded("array", f"ARRAY<{_NATIVE_ARRAY_ELEMENTS[element]}>", null_when, value)


def interval_iso8601_sql(expr: str) -> str:
    """SQL for ``interval`` -> ISO 8601 duration text, independent of the session's IntervalStyle.

    Every field is written, signed as PostgreSQL stores it (months, days and microseconds are
    independent), e.g. ``'1 year 2 mons -3 days 04:05:06.789'`` -> ``'P1Y2M-3DT4H5M6.789000S'``.
    Hours are not folded into days (PostgreSQL does not either).
    """
    fields = [("YEAR", "Y"), ("MONTH", "M"), ("DAY", "D"), ("HOUR", "H"), ("MINUTE", "M")]
    pieces = ["'P'"]
    for field, unit in fields:
        if field == "HOUR":
            pieces.append("'T'")
        pieces += [f"EXTRACT({field} FROM {expr})::text", f"'{unit}'"]
    # EXTRACT returns numeric (exact microseconds) from PostgreSQL 14 on.
    pieces += [f"EXTRACT(SECOND FROM {expr})::text", "'S'"]
    return "(" + " || ".join(pieces) + ")"


# --------------------------------------------------------------------------------------------------
# helpers for the reader


def custom_schema(plans: Sequence[ColumnPlan]) -> Optional[str]:
    """The ``customSchema`` option for ``plans``, or None when no plan forces a type.

    Spark parses customSchema as SQL DDL (``CatalystSqlParser.parseTableSchema``): names are
    back-quoted with a back-quote doubled; double quotes are not identifier quotes there. Spark
    matches the names to the columns it reads case-insensitively (``spark.sql.caseSensitive``).

    >>> custom_schema([ColumnPlan("Mixed Case", '"Mixed Case"', "INT", "native"),
    ...                ColumnPlan("a`b", '"a`b"', "STRING", "text"),
    ...                ColumnPlan("c", '"c"', None, "native")])
    '`Mixed Case` INT, `a``b` STRING'
    """
    parts = [
        f"`{plan.spark_name.replace('`', '``')}` {plan.spark_type}"
        for plan in plans
        if plan.spark_type is not None
    ]
    return ", ".join(parts) if parts else None


def renames(plans: Sequence[ColumnPlan]) -> Dict[str, str]:
    """``{name read by Spark: DataFrame name}`` for the plans read under a placeholder name.

    Apply after the load: ``for old, new in renames(plans).items(): df = df.withColumnRenamed(old, new)``.
    """
    return {
        plan.read_as: plan.dataframe_name
        for plan in plans
        if plan.read_as and plan.read_as != plan.dataframe_name
    }


CHAR_TYPE_METADATA = "__CHAR_VARCHAR_TYPE_STRING"
"""The field metadata key in which Spark keeps a STRING column's ``char(n)`` type: with it,
Spark pads the other side of a comparison to ``n`` blanks (``ApplyCharTypePadding``), so ``=``,
``IN``, joins and grouping on a PostgreSQL ``character(n)`` column match what PostgreSQL, which
ignores trailing blanks, finds (docs/types.md, Character types)."""


def char_lengths(columns: Sequence[PgColumn], plans: Sequence[ColumnPlan]) -> Dict[str, int]:
    """``{DataFrame column: n}`` for the ``character(n)`` columns read as native strings (blank-
    padded to ``n``, as PostgreSQL stores them).

    >>> c = PgColumn(name="r_name", formatted_type="character(25)", base_type="bpchar",
    ...              base_typmod=29)
    >>> char_lengths([c], plan_columns([c]))
    {'r_name': 25}
    """
    return {
        plan.dataframe_name: column.base_typmod - 4
        for column, plan in zip(columns, plans)
        if column.base_type == "bpchar" and column.base_typmod > 4 and plan.policy == "native"
    }
