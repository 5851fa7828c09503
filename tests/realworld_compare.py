"""Compare what sparkpg read with what PostgreSQL holds, value by value.

Both sides become one canonical text per value: PostgreSQL's side from its output text (psycopg
raw text results in a UTC, ISO-DateStyle session; arrays as ``to_json``), Spark's side from the
collected Python value through the type policy's documented mapping (docs/types.md): DECIMAL for
``numeric(p,s)`` and ``money``, TIMESTAMP in UTC, BINARY for ``bytea``, ARRAY for 1-D arrays of
simple types, STRING for output text. A Spark type the comparator does not know fails the
comparison (it never passes by default).
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections import Counter
from decimal import Decimal
from typing import Any, List, Optional, Sequence, Tuple

from spark_jobs.read.types import ColumnPlan

CanonicalRow = Tuple[Optional[str], ...]


def _decimal(text: str) -> str:
    return format(Decimal(text).normalize(), "f")


def _float(value: float, single: bool) -> str:
    if single:
        value = struct.unpack(">f", struct.pack(">f", value))[0]
    return "NaN" if value != value else repr(value)


def pg_canonical(text: Optional[str], plan: ColumnPlan, spark_type: str) -> Optional[str]:
    """PostgreSQL's output text of one value (``to_json`` text for arrays), canonical."""
    if text is None:
        return None
    if spark_type == "string":
        return text
    if spark_type == "boolean":
        return {"t": "true", "f": "false"}[text]
    if spark_type in ("smallint", "int", "bigint"):
        return str(int(text))
    if spark_type in ("float", "double"):
        return _float(float(text), single=spark_type == "float")
    if spark_type.startswith("decimal"):
        if plan.policy == "money-decimal":  # lc_monetary C: '-$1,234.56'
            text = text.replace("$", "").replace(",", "")
        return _decimal(text)
    if spark_type == "date":
        return dt.date.fromisoformat(text).isoformat()
    if spark_type == "timestamp":
        naive = text[:-3] if text.endswith("+00") else text  # timestamptz in a UTC session
        return dt.datetime.fromisoformat(naive).isoformat(sep=" ")
    if spark_type == "binary":
        assert text.startswith("\\x"), text
        return text[2:].lower()
    if spark_type.startswith("array<"):
        return json.dumps(json.loads(text))
    raise AssertionError(f"{plan.name}: no canonical form for Spark type {spark_type}")


def spark_canonical(value: Any, plan: ColumnPlan, spark_type: str) -> Optional[str]:
    """One collected Spark value, canonical (see the module docstring)."""
    if value is None:
        return None
    if spark_type == "string":
        assert isinstance(value, str), (plan.name, value)
        return value
    if spark_type == "boolean":
        return "true" if value else "false"
    if spark_type in ("smallint", "int", "bigint"):
        return str(int(value))
    if spark_type in ("float", "double"):
        return _float(value, single=spark_type == "float")
    if spark_type.startswith("decimal"):
        return _decimal(str(value))
    if spark_type == "date":
        return str(value.isoformat())
    if spark_type == "timestamp":
        return str(value.isoformat(sep=" "))
    if spark_type == "binary":
        return bytes(value).hex()
    if spark_type.startswith("array<"):
        return json.dumps([_json_element(v) for v in value])
    raise AssertionError(f"{plan.name}: no canonical form for Spark type {spark_type}")


def _json_element(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "\\x" + bytes(value).hex()
    return value


def compare_rows(
    pg_rows: Sequence[Sequence[Optional[str]]],
    spark_rows: Sequence[Sequence[Any]],
    plans: Sequence[ColumnPlan],
    spark_types: Sequence[str],
) -> List[str]:
    """The differences between the two row multisets (empty when every value matches)."""
    columns = list(zip(plans, spark_types))
    pg = Counter(tuple(pg_canonical(v, p, t) for v, (p, t) in zip(row, columns)) for row in pg_rows)
    spark = Counter(
        tuple(spark_canonical(v, p, t) for v, (p, t) in zip(row, columns)) for row in spark_rows
    )
    problems = []
    if sum(pg.values()) != sum(spark.values()):
        problems.append(f"{sum(pg.values())} rows in PostgreSQL, {sum(spark.values())} read")
    only_pg = list((pg - spark).elements())[:3]
    only_spark = list((spark - pg).elements())[:3]
    problems += [f"only in PostgreSQL: {row}" for row in only_pg]
    problems += [f"only in Spark:      {row}" for row in only_spark]
    return problems
