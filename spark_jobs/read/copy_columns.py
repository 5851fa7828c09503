"""What the COPY engine decodes, column by column: :class:`EngineColumn` (the Spark name, the
decoder kind, the SELECT expression, which filters may be pushed, the planned type the engine
checks at each partition) from a column the type policy planned (:func:`engine_column`).

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence

from connectors.errors import EngineError
from connectors.jdbc import quote_ident
from spark_jobs.read.types import ColumnPlan, PgColumn

FILTERS = ("none", "equality", "ordering")
COUNTED_KINDS = frozenset({"numeric", "date", "timestamp", "timestamptz", "array"})


_SCALAR_KINDS: Dict[str, str] = {  # PostgreSQL base type -> decoder kind
    "bool": "bool",
    "int2": "int2",
    "int4": "int4",
    "int8": "int8",
    "oid": "oid",
    "float4": "float4",
    "float8": "float8",
    "text": "text",
    "varchar": "text",
    "bpchar": "text",
    "bytea": "bytea",
    "uuid": "uuid",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
}
_SPARK_TYPES: Dict[str, str] = {  # decoder kind -> Spark type (as the type policy writes it)
    "bool": "BOOLEAN",
    "int2": "SMALLINT",
    "int4": "INT",
    "int8": "BIGINT",
    "oid": "BIGINT",
    "float4": "FLOAT",
    "float8": "DOUBLE",
    "text": "STRING",
    "bytea": "BINARY",
    "uuid": "STRING",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMP",
}
_ORDERED_KINDS = frozenset(
    {"bool", "int2", "int4", "int8", "oid", "float4", "float8", "numeric", "date"}
    | {"timestamp", "timestamptz"}
)
_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")


class CopyEngineError(EngineError):
    """The COPY engine cannot read this plan, or its JAR is not on the Spark classpath."""


@dataclass(frozen=True)
class EngineColumn:
    """One column as the engine reads it: Spark name, decoder kind, SELECT expression, filters,
    and the source column and type it was planned from.

    ``kind`` is one of the decoders (``int4``, ``numeric``, ``text``, ``array``, ...); ``element``
    the decoder of an array's elements; ``precision``/``scale`` a numeric's Spark DECIMAL; ``expr``
    the SQL selected (a plain quoted column wherever ``filter`` is not ``none``); ``filter`` which
    Spark filters are pushed as SQL: ``none``, ``equality`` (=, IN, IS NULL) or ``ordering``
    (also <, <=, >, >=). ``pg_column``, ``pg_type`` (the type's oid, as declared: a domain's for
    a domain column) and ``pg_type_name`` (``format_type``): each partition checks, before its
    COPY, that the source column still has that type (:class:`PlanChangedError` otherwise);
    ``pg_type`` 0: not checked.
    """

    name: str
    kind: str
    expr: str
    filter: str = "none"
    element: Optional[str] = None
    precision: Optional[int] = None
    scale: Optional[int] = None
    pg_column: Optional[str] = None
    pg_type: int = 0
    pg_type_name: Optional[str] = None

    @property
    def spark_type(self) -> str:
        """The Spark type the engine produces, in the type policy's spelling."""
        if self.kind == "numeric":
            return f"DECIMAL({self.precision},{self.scale})"
        if self.kind == "array":
            return f"ARRAY<{_SPARK_TYPES[self.element or '']}>"
        return _SPARK_TYPES[self.kind]

    @property
    def counted(self) -> bool:
        """True when some values of this column may be read as NULL (and are counted)."""
        return self.kind in COUNTED_KINDS

    def to_json(self) -> Dict[str, Any]:
        """The column's entry in the ``columns`` option."""
        data: Dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "expr": self.expr,
            "filter": self.filter,
        }
        if self.element is not None:
            data["element"] = self.element
        if self.kind == "numeric":
            data.update(precision=self.precision, scale=self.scale)
        if self.pg_type:
            data.update(pgColumn=self.pg_column, pgType=self.pg_type, pgTypeName=self.pg_type_name)
        return data


def engine_column(
    column: PgColumn, plan: ColumnPlan, *, string_filter: str = "equality"
) -> EngineColumn:
    """The engine's reading of ``column`` as the type policy planned it (``plan``).

    Native types are selected raw (no ``CASE WHEN`` guard: the decoder counts what Spark cannot
    hold); types the policy reads as text keep the policy's expression. ``string_filter`` is for
    text/varchar columns: ``"equality"`` for deterministic collations, ``"ordering"`` under a
    ``"C"``/``POSIX`` collation (ranges then order bytes like Spark), ``"none"`` for
    nondeterministic ones. bpchar never gets filters (PostgreSQL ignores its trailing blanks).

    >>> c = PgColumn(name="total", formatted_type="numeric(12,2)", base_type="numeric",
    ...              base_typmod=786438)
    >>> engine_column(c, ColumnPlan("total", 'CASE WHEN ... END AS "total"', "DECIMAL(12,2)", "decimal"))
    EngineColumn(name='total', kind='numeric', expr='"total"', filter='ordering', element=None, precision=12, scale=2, pg_column=None, pg_type=0, pg_type_name=None)
    """
    decoded = _decoder_column(column, plan, string_filter)
    if not column.type_oid:
        return decoded  # described without oids: not checked
    return replace(
        decoded, pg_column=column.name, pg_type=column.type_oid, pg_type_name=column.formatted_type
    )


def _decoder_column(column: PgColumn, plan: ColumnPlan, string_filter: str) -> EngineColumn:
    if string_filter not in FILTERS:
        raise ValueError(f"string_filter={string_filter!r}: expected one of {', '.join(FILTERS)}")
    q = quote_ident(column.name)
    name = plan.dataframe_name  # the DataFrame's name (case clashes renamed: docs/types.md)
    policy = plan.policy
    if plan.spark_type == "STRING" and policy != "native":
        return EngineColumn(name, "text", plan.select_sql)
    if policy in ("decimal", "money-decimal"):
        match = _DECIMAL.fullmatch(plan.spark_type or "")
        if match is None:
            raise CopyEngineError(f"column {plan.name}: unexpected decimal type {plan.spark_type}")
        expr = q if policy == "decimal" else f"{q}::numeric"
        precision, scale = int(match.group(1)), int(match.group(2))
        return EngineColumn(name, "numeric", expr, "ordering", None, precision, scale)
    if policy == "array":
        element = _SCALAR_KINDS.get(column.element_type or "")
        if element is None or element in COUNTED_KINDS:
            raise CopyEngineError(
                f"column {plan.name}: no native decoder for {column.formatted_type}"
            )
        value = f"{q}::pg_catalog.{quote_ident(column.element_type or '')}[]"
        return EngineColumn(
            name, "array", value if column.element_is_domain else q, element=element
        )
    kind = _SCALAR_KINDS.get(column.base_type)
    if kind is None or policy not in ("native", "date", "timestamp", "timestamptz"):
        raise CopyEngineError(
            f"column {plan.name}: the engine has no decoder for policy {policy!r} "
            f"({column.formatted_type})"
        )
    if kind in _ORDERED_KINDS:
        return EngineColumn(name, kind, q, "ordering")
    if kind == "text" and column.base_type != "bpchar":
        return EngineColumn(name, kind, q, string_filter)
    return EngineColumn(name, kind, q)


def engine_columns(
    columns: Sequence[PgColumn],
    plans: Sequence[ColumnPlan],
    *,
    string_filters: Optional[Mapping[str, str]] = None,
) -> List[EngineColumn]:
    """:func:`engine_column` for each (column, plan) pair; ``string_filters`` by column name."""
    filters = string_filters or {}
    return [
        engine_column(column, plan, string_filter=filters.get(column.name, "equality"))
        for column, plan in zip(columns, plans)
    ]
