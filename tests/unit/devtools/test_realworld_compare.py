"""The sample-database comparator finds differences and knows no type by default."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from spark_jobs.read.types import ColumnPlan
from tests.realworld_compare import compare_rows

PLANS = [
    ColumnPlan("n", '"n"', "DECIMAL(5,2)", "decimal"),
    ColumnPlan("t", '"t"', "TIMESTAMP", "timestamptz"),
    ColumnPlan("ip", '"ip"', "STRING", "text"),
    ColumnPlan("f", '"f"', None, "native"),
]
TYPES = ["decimal(5,2)", "timestamp", "string", "float"]
PG = [("1.50", "2022-01-23 18:52:02.996577+00", "172.16.0.42", "1.1"), (None, None, None, None)]


def test_equal_values_in_any_row_order_match() -> None:
    spark = [
        (None, None, None, None),
        (
            Decimal("1.5"),
            dt.datetime(2022, 1, 23, 18, 52, 2, 996577),
            "172.16.0.42",
            1.100000023841858,
        ),
    ]
    assert compare_rows(PG, spark, PLANS, TYPES) == []


def test_a_changed_value_or_a_lost_row_is_reported() -> None:
    netmask = [(Decimal("1.5"), dt.datetime(2022, 1, 23, 18, 52, 2, 996577), "172.16.0.42/32", 1.1)]
    problems = compare_rows(PG, [*netmask, (None,) * 4], PLANS, TYPES)
    assert any("172.16.0.42/32" in p and p.startswith("only in Spark") for p in problems)
    assert compare_rows(PG, [(None,) * 4], PLANS, TYPES)[0] == "2 rows in PostgreSQL, 1 read"


def test_an_unknown_spark_type_fails() -> None:
    with pytest.raises(AssertionError, match="no canonical form for Spark type map<string,int>"):
        compare_rows([("x",)], [({"a": 1},)], [PLANS[2]], ["map<string,int>"])
