"""TEMPORARY stand-in for the PostgreSQL type policy (``spark_jobs/types.py``, branch ``types``).

Same interface as the real module: ``describe_source(run_query, source_sql)`` and
``plan_columns(columns)``. It selects every column as it is and keeps Spark's own type mapping.
:mod:`spark_jobs.reader` imports it in ONE line; when ``spark_jobs/types.py`` lands, change that
line to ``from spark_jobs.types import describe_source, plan_columns`` and delete this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from connectors.jdbc import quote_ident


@dataclass(frozen=True)
class PgColumn:
    """A column of a table or query: its name and PostgreSQL type name."""

    name: str
    type_name: str


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is selected and typed (see the real ``spark_jobs.types``)."""

    name: str
    select_sql: str
    spark_type: Optional[str]
    policy: str


def describe_source(run_query: Any, source_sql: str) -> List[PgColumn]:
    """The columns of ``source_sql`` (a quoted table name or ``(query) q``), without reading rows."""
    return [
        PgColumn(name, type_name)
        for name, type_name in run_query.describe(f"SELECT * FROM {source_sql}")
    ]


def plan_columns(columns: List[PgColumn]) -> List[ColumnPlan]:
    """Every column selected as is, with Spark's default type mapping."""
    return [ColumnPlan(c.name, quote_ident(c.name), None, "spark-default") for c in columns]
