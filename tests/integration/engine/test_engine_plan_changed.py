"""A source that changed between planning and the action (issue 19 item 5): every partition
checks, in its transaction and before its COPY, that the columns it decodes still have their
planned types, and fails with a :class:`PlanChangedError` naming the table, the column, both
types and the fix, instead of decoding wrong values or failing with a raw driver error."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from spark_jobs import load_read, plan_query, plan_table
from spark_jobs.read.copy_engine import PlanChangedError
from spark_jobs.read.loading import LoadedTable, read_error_of

from .conftest import EngineDb

pytestmark = [pytest.mark.spark]

TABLE = "changing"
ADVICE = "plan the read again"


@pytest.fixture()
def changing(engine_db: EngineDb) -> Iterator[EngineDb]:
    engine_db.execute(f"DROP TABLE IF EXISTS {TABLE}, {TABLE}_renamed")
    engine_db.execute(f"CREATE TABLE {TABLE} (id int, i4 int, i8 bigint, t text)")
    engine_db.execute(
        f"INSERT INTO {TABLE} SELECT g, g * 1000, g * 1000, 'r' || g FROM generate_series(1, 40) g"
    )
    yield engine_db
    engine_db.execute(f"DROP TABLE IF EXISTS {TABLE}, {TABLE}_renamed")


def loaded(spark: Any, db: EngineDb) -> LoadedTable:
    """The table planned now (two partitions), as the job does it."""
    read = plan_table(
        spark, db.settings, f"eng.{TABLE}", partitioning={"key_column": "id", "num_partitions": 2}
    )
    assert read.engine == "copy"
    return load_read(spark, read)


def action_error(table: LoadedTable) -> PlanChangedError:
    with pytest.raises(Exception) as caught:
        table.dataframe.collect()
    error = read_error_of(caught.value, table.read)
    assert isinstance(error, PlanChangedError), repr(caught.value)
    return error


@pytest.mark.parametrize(
    ("column", "new_type", "planned", "actual"),
    [
        (
            "i8",
            "double precision",
            "bigint",
            "double precision",
        ),  # read 1000 as 4652007308841189376
        ("i4", "text", "integer", "text"),  # 4-byte text decoded as an int
        ("i4", "real", "integer", "real"),  # the float's bits as an int
        ("i4", "bigint", "integer", "bigint"),  # another width: IndexOutOfBoundsException
    ],
)
def test_a_changed_column_type_fails_naming_table_column_and_types(
    spark: Any, changing: EngineDb, column: str, new_type: str, planned: str, actual: str
) -> None:
    table = loaded(spark, changing)
    changing.execute(f"ALTER TABLE {TABLE} ALTER COLUMN {column} TYPE {new_type}")
    error = action_error(table)
    assert (error.table, error.column) == ("eng.public.changing", column)
    assert (error.planned_type, error.actual_type) == (planned, actual)
    text = str(error)
    assert f'column "{column}" of eng.public.changing was planned as {planned}' in text
    assert f"but is {actual} now" in text and ADVICE in text
    # Planned again, the same table reads its new values.
    assert sorted(loaded(spark, changing).dataframe.select(column).collect())[0][0] in (
        1000,
        1000.0,
        "1000",
    )


def test_a_column_the_action_does_not_read_may_change(spark: Any, changing: EngineDb) -> None:
    table = loaded(spark, changing)
    changing.execute(f"ALTER TABLE {TABLE} ALTER COLUMN i8 TYPE double precision")
    assert table.dataframe.select("id", "t").count() == 40
    assert table.dataframe.count() == 40


@pytest.mark.parametrize(
    "change", [f"ALTER TABLE {TABLE} RENAME TO {TABLE}_renamed", f"DROP TABLE {TABLE}"]
)
def test_a_renamed_or_dropped_table_fails_with_the_fix(
    spark: Any, changing: EngineDb, change: str
) -> None:
    table = loaded(spark, changing)
    changing.execute(change)
    for action in (lambda: table.dataframe.collect(), lambda: table.dataframe.count()):
        with pytest.raises(Exception) as caught:
            action()
        error = read_error_of(caught.value, table.read)
        assert isinstance(error, PlanChangedError), repr(caught.value)
        assert (error.table, error.column, error.planned_type) == (
            "eng.public.changing",
            None,
            None,
        )
        text = str(error)
        assert 'relation "public.changing" does not exist' in text
        assert "renamed or dropped" in text and ADVICE in text


def test_a_query_source_is_checked_too(spark: Any, changing: EngineDb) -> None:
    read = plan_query(spark, changing.settings, "eng", f"SELECT id, i8 FROM {TABLE}", name="q")
    table = load_read(spark, read)
    changing.execute(f"ALTER TABLE {TABLE} ALTER COLUMN i8 TYPE numeric")
    error = action_error(table)
    assert (error.column, error.planned_type, error.actual_type) == ("i8", "bigint", "numeric")


@pytest.mark.parametrize("pushed", [True, False])
def test_a_numeric_that_lost_its_declared_precision_fails(
    spark: Any, changing: EngineDb, pushed: bool
) -> None:
    """A numeric(p,s) column cannot hold ±Infinity, so the SQL pushed for it excludes only NaN:
    retyped to plain numeric (same type oid) after planning, it could hold infinities that SQL
    would let through, so each partition refuses it, pushed or not."""
    from pyspark.sql import functions as F

    changing.execute(f"ALTER TABLE {TABLE} ADD COLUMN amount numeric(12,2)")
    changing.execute(f"UPDATE {TABLE} SET amount = id * 1.25")
    table = loaded(spark, changing)
    changing.execute(f"ALTER TABLE {TABLE} ALTER COLUMN amount TYPE numeric")
    changing.execute(f"UPDATE {TABLE} SET amount = 'Infinity' WHERE id = 7")
    frame = table.dataframe.agg(F.max("amount")) if pushed else table.dataframe.select("amount")
    plan = frame._jdf.queryExecution().executedPlan().toString()
    assert ("PushedAggregates" in plan) == pushed, plan
    with pytest.raises(Exception) as caught:
        frame.collect()
    error = read_error_of(caught.value, table.read)
    assert isinstance(error, PlanChangedError), repr(caught.value)
    assert (error.column, error.planned_type, error.actual_type) == (
        "amount",
        "numeric(12,2)",
        "numeric",
    )
    # Planned again, it reads the column as it is now (a numeric without precision: exact text).
    again = loaded(spark, changing).dataframe.where("id IN (6, 7)").orderBy("id").collect()
    assert [row["amount"] for row in again] == ["7.50", "Infinity"]
