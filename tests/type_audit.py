"""SQL that audits the type policy from outside the product: the plan's SELECT list, and one
query that counts, per guarded column, the values the plan reads as NULL (tests only)."""

from __future__ import annotations

from typing import Optional, Sequence

from connectors.jdbc import quote_ident
from spark_jobs.read.types import ColumnPlan


def select_list(plans: Sequence[ColumnPlan]) -> str:
    """The SELECT list of ``plans``: ``'"id", "amount"::text AS "amount"'``."""
    return ", ".join(plan.select_sql for plan in plans)


def unrepresentable_counts_sql(plans: Sequence[ColumnPlan], source_sql: str) -> Optional[str]:
    """One query counting, per guarded column, the rows the plan reads as NULL (None if none)."""
    guarded = [plan for plan in plans if plan.null_when]
    if not guarded:
        return None
    counts = ", ".join(
        f"count(*) FILTER (WHERE {plan.null_when}) AS {quote_ident(plan.name)}" for plan in guarded
    )
    return f"SELECT {counts} FROM {source_sql}"
