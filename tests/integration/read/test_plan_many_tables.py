"""Planning many small tables of one connection: a constant number of round trips, and the same
plans and errors as planning each table alone."""

from __future__ import annotations

import dataclasses
from typing import Any, List

import pytest

from connectors.errors import DatabasePermissionError, TableNotFoundError
from spark_jobs import plan_table, read_tables
from spark_jobs.db.connection import DriverConnection

from .conftest import ReadDb

pytestmark = [pytest.mark.spark]

TABLES = 20


@pytest.fixture(scope="module")
def many(read_db: ReadDb) -> List[str]:
    """``TABLES`` small tables of different shapes (keys, domains, arrays, a partitioned table,
    a view, a mixed-case name); their refs."""
    read_db.execute(
        "DROP SCHEMA IF EXISTS many CASCADE; CREATE SCHEMA many; "
        "GRANT USAGE ON SCHEMA many TO sparkpg_reader; "
        "CREATE DOMAIN many.cents AS numeric(12, 2)"
    )
    refs = []
    for i in range(TABLES - 2):
        name = f'"Mixed {i}"' if i % 7 == 3 else f"t{i}"
        key = "id bigint PRIMARY KEY" if i % 2 else "id int"
        read_db.execute(
            f"CREATE TABLE many.{name} ({key}, amount many.cents, tags text[], at timestamptz); "
            f"INSERT INTO many.{name} SELECT g, g / 4.0, ARRAY['x'], now() "
            f"FROM generate_series(1, {i + 1}) g"
        )
        refs.append(f"it.many.{name}")
    read_db.execute(
        "CREATE TABLE many.parted (id int, d date) PARTITION BY RANGE (d); "
        "CREATE TABLE many.parted_a PARTITION OF many.parted FOR VALUES FROM ('2020-01-01') "
        "TO ('2030-01-01'); INSERT INTO many.parted VALUES (1, '2024-01-01'); "
        "CREATE VIEW many.v AS SELECT id, amount FROM many.t0; "
        "GRANT SELECT ON ALL TABLES IN SCHEMA many TO sparkpg_reader; ANALYZE"
    )
    return [*refs, "it.many.parted", "it.many.v"]


def _round_trips(monkeypatch: Any, run: Any) -> int:
    calls = []
    query = DriverConnection.query

    def counted(self: DriverConnection, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return query(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(DriverConnection, "query", counted)
        run()
    return len(calls)


def test_round_trips_do_not_grow_with_the_table_count(
    spark: Any, read_db: ReadDb, many: List[str], monkeypatch: Any
) -> None:
    settings = read_db.settings()
    counts = {
        n: _round_trips(
            monkeypatch,
            lambda n=n: read_tables(spark, settings, many[:n], register_views=False),
        )
        for n in (5, TABLES)
    }
    assert counts[5] == counts[TABLES] <= 10, counts


def test_batched_plans_equal_plans_of_each_table_alone(
    spark: Any, read_db: ReadDb, many: List[str]
) -> None:
    settings = read_db.settings()
    loaded = read_tables(spark, settings, many, register_views=False)
    for ref, table in zip(many, loaded):
        alone = plan_table(spark, settings, ref)
        assert table.read == dataclasses.replace(
            alone, planning_seconds=table.read.planning_seconds
        ), ref
        assert table.dataframe.count() == len(read_db.rows(f"SELECT 1 FROM {alone.from_sql}"))


def test_a_missing_table_in_a_list_fails_as_it_does_alone(
    spark: Any, read_db: ReadDb, many: List[str]
) -> None:
    settings = read_db.settings()
    with pytest.raises(TableNotFoundError) as alone:
        plan_table(spark, settings, "it.many.T1")
    with pytest.raises(TableNotFoundError) as listed:
        read_tables(spark, settings, [many[0], "it.many.T1", many[2]], register_views=False)
    assert str(listed.value) == str(alone.value)
    assert "did you mean: it.many.t1" in str(listed.value)


def test_a_failing_probe_in_a_list_names_its_table(
    spark: Any, read_db: ReadDb, many: List[str]
) -> None:
    read_db.execute("CREATE TABLE IF NOT EXISTS many.hidden (id int)")  # no SELECT grant
    settings = read_db.settings()
    with pytest.raises(DatabasePermissionError) as alone:
        plan_table(spark, settings, "it.many.hidden")
    with pytest.raises(DatabasePermissionError) as listed:
        read_tables(spark, settings, [many[0], "it.many.hidden", many[2]], register_views=False)
    assert str(listed.value) == str(alone.value)
    assert "many.hidden" in str(listed.value) and "permission denied" in str(listed.value)
