"""Values read as NULL because their Spark type cannot hold them are counted during the read (one
extra column computed by PostgreSQL, observed by Spark, dropped) and reported by the main job."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Dict, List

import pytest

from entrypoints import read_tables
from entrypoints.errors import EXIT_DATABASE, EXIT_OK
from spark_jobs import load_read, plan_table
from spark_jobs import read_tables as read_tables_lib
from spark_jobs.read.spark_jdbc import LOST_ALIAS, dbtable_sql, read_masks
from tests.type_audit import unrepresentable_counts_sql

from .conftest import ReadDb

pytestmark = [pytest.mark.spark]

ROWS = 3000
# Known counts of the values the default policy reads as NULL (NULLs themselves never count).
EXPECTED: Dict[str, int] = {
    "amount": 30,  # NaN: id % 100 = 0
    "d": 25,  # infinity: id % 250 = 0 (12), -infinity: id % 250 = 1 (12), 1582-10-10: id = 7
    "ts": 7,  # infinity: id % 500 = 3 (6), after Spark's maximum: id = 8
    "arr": 2,  # lower bound 0: id = 5, two dimensions: id = 6
}
TOTAL = sum(EXPECTED.values())
# The COPY engine (the default) reads dates of the 1582-10-05..14 gap exactly (docs/types.md).
EXPECTED_BY_ENGINE = {"jdbc": EXPECTED, "copy": {**EXPECTED, "d": EXPECTED["d"] - 1}}
ENGINES = pytest.mark.parametrize("engine", ["copy", "jdbc"])


@pytest.fixture(scope="module")
def lossy(read_db: ReadDb) -> ReadDb:
    read_db.execute("DROP TABLE IF EXISTS lossy, lossless")
    read_db.execute(
        "CREATE TABLE lossy (id int PRIMARY KEY, amount numeric(10, 2), d date, ts timestamp, "
        "arr int[], note text)"
    )
    read_db.execute(
        "INSERT INTO lossy SELECT g, "
        "CASE WHEN g % 100 = 0 THEN 'NaN' WHEN g % 9 = 4 THEN NULL ELSE g * 1.25 END, "
        "CASE WHEN g % 250 = 0 THEN 'infinity' WHEN g % 250 = 1 THEN '-infinity' "
        "  WHEN g = 7 THEN '1582-10-10' WHEN g % 9 = 4 THEN NULL ELSE DATE '2020-01-01' + g END, "
        "CASE WHEN g % 500 = 3 THEN 'infinity' WHEN g = 8 THEN '294250-01-01' "
        "  WHEN g % 9 = 4 THEN NULL ELSE TIMESTAMP '2020-01-01' + g * INTERVAL '1 minute' END, "
        "CASE WHEN g = 5 THEN '[0:1]={7,8}' WHEN g = 6 THEN '{{1,2},{3,4}}' "
        "  WHEN g % 9 = 4 THEN NULL ELSE ARRAY[g, g + 1] END, "
        f"'n' || g FROM generate_series(1, {ROWS}) g"
    )
    read_db.execute("CREATE TABLE lossless (id int PRIMARY KEY, t text)")
    read_db.execute("INSERT INTO lossless VALUES (1, 'a')")
    return read_db


def _psycopg_counts(db: ReadDb) -> Dict[str, int]:
    row = db.rows(
        "SELECT count(*) FILTER (WHERE amount = 'NaN'), "
        "count(*) FILTER (WHERE NOT isfinite(d) OR d BETWEEN '1582-10-05' AND '1582-10-14'), "
        "count(*) FILTER (WHERE NOT isfinite(ts) OR ts > '294247-01-10 04:00:54.775807'), "
        "count(*) FILTER (WHERE array_ndims(arr) > 1 OR array_lower(arr, 1) <> 1) FROM lossy"
    )[0]
    return dict(zip(EXPECTED, row))


@pytest.mark.parametrize(
    "partitioning",
    [
        {"num_partitions": 3},  # key_range on the primary key
        {"strategy": "page_range", "num_partitions": 2},
    ],
    ids=["key_range", "page_range"],
)
@ENGINES
def test_counts_equal_the_known_counts_under_a_split_read(
    spark: Any, lossy: ReadDb, partitioning: Dict[str, Any], engine: str
) -> None:
    assert _psycopg_counts(lossy) == EXPECTED
    read = plan_table(spark, lossy.settings(), "it.lossy", partitioning=partitioning, engine=engine)
    expected = EXPECTED_BY_ENGINE[engine]
    assert read.plan.num_partitions == partitioning["num_partitions"]
    assert [m.alias for m in read_masks(read)] == [LOST_ALIAS]
    # the audit query of the type policy agrees with the masks' conditions
    audit = unrepresentable_counts_sql(read.columns, '"public"."lossy"')
    assert audit is not None and tuple(lossy.rows(audit)[0]) == tuple(EXPECTED.values())
    loaded = load_read(spark, read)
    df = loaded.dataframe
    assert df.columns == ["id", "amount", "d", "ts", "arr", "note"]
    assert loaded.unrepresentable_counts(wait_seconds=0) is None  # no action yet: never blocks
    rows = df.collect()  # the caller's action; nothing else runs
    assert len(rows) == ROWS
    assert loaded.unrepresentable_counts() == expected
    nulls = {c: sum(1 for r in rows if r[c] is None) for c in EXPECTED}
    real_nulls = lossy.rows(
        "SELECT count(*) - count(amount), count(*) - count(d), count(*) - count(ts), "
        "count(*) - count(arr) FROM lossy"
    )[0]
    assert nulls == {c: expected[c] + n for c, n in zip(EXPECTED, real_nulls)}
    # a second action does not change the first action's counts
    assert df.filter("id < 10").count() == 9
    assert loaded.unrepresentable_counts() == expected
    # the plan is untouched by loading: a second load has a report of its own
    again = load_read(spark, read)
    assert again.unrepresentable_counts(wait_seconds=0) is None
    # (the COPY engine counts the columns an action reads: a count() reads none)
    assert len(again.dataframe.collect()) == ROWS and again.unrepresentable_counts() == expected


@pytest.mark.parametrize(
    ("engine", "read_schema", "partitions"),
    [
        ("copy", "BatchScan sparkpg_copy it.public.lossy[id#", "Partitions: 3"),
        ("jdbc", "ReadSchema: struct<id:int,note:string,__sparkpg_lost:int>", "numPartitions=3"),
    ],
)
def test_read_tables_exposes_counts_and_pushdown_of_columns_and_ranges_survives(
    spark: Any, lossy: ReadDb, engine: str, read_schema: str, partitions: str
) -> None:
    (table,) = read_tables_lib(
        spark,
        lossy.settings(),
        ["it.lossy"],
        register_views=False,
        partitioning={"num_partitions": 3},
        engine=engine,
    )
    assert table.report.enabled
    selected = table.dataframe.select("id", "note")
    plan = selected._jdf.queryExecution().executedPlan().toString()
    # only the selected columns (and on JDBC the mask) travel; the ranges are the key's
    assert read_schema in plan and (engine == "jdbc" or "amount" not in plan)
    assert partitions in plan
    assert selected.count() == ROWS
    if engine == "copy":  # counted while decoding: the columns no action read count nothing yet
        assert table.unrepresentable_counts() == {c: 0 for c in EXPECTED}
        assert len(table.dataframe.collect()) == ROWS
    assert table.unrepresentable_counts() == EXPECTED_BY_ENGINE[engine]
    message = table.report.message(EXPECTED)
    assert message.startswith(f"it.public.lossy: {TOTAL} value(s) read as NULL")
    assert '"amount" 30 (numeric NaN)' in message and "--unrepresentable text" in message


def test_switched_off_or_nothing_to_lose_adds_no_column(spark: Any, lossy: ReadDb) -> None:
    settings = lossy.settings()
    off = plan_table(spark, settings, "it.lossy", report_unrepresentable=False)
    assert LOST_ALIAS not in dbtable_sql(off) and read_masks(off) == []
    on = plan_table(spark, settings, "it.lossy")
    assert 'THEN 1 ELSE 0 END + CASE WHEN NOT pg_catalog.isfinite("d")' in dbtable_sql(on)
    assert f'AS "{LOST_ALIAS}" FROM "public"."lossy"' in dbtable_sql(on)
    off_loaded = load_read(spark, off)
    df = off_loaded.dataframe
    assert LOST_ALIAS not in df.columns
    assert df.count() == ROWS
    assert off_loaded.unrepresentable_counts(wait_seconds=0) is None  # not counted
    text = plan_table(spark, settings, "it.lossy", unrepresentable="text")
    assert LOST_ALIAS not in dbtable_sql(text)
    assert (
        load_read(spark, text).unrepresentable_counts(wait_seconds=0) == {}
    )  # nothing can be lost
    plain = plan_table(spark, settings, "it.lossless")
    assert LOST_ALIAS not in dbtable_sql(plain)
    assert load_read(spark, plain).unrepresentable_counts(wait_seconds=0) == {}


def _summary_row(out: str, table: str) -> list:  # type: ignore[type-arg]
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("table "))
    assert lines[header].split()[-1] == "nulled"
    return next(line.split() for line in lines[header + 1 :] if line.startswith(table))


def _warnings(caplog: Any) -> List[str]:
    """The WARNING log lines so far (the CLI shows each once, on stderr), then forgets them."""
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    caplog.clear()
    return lines


def test_main_job_warns_with_the_counts_and_strict_fails(
    spark: Any, lossy: ReadDb, capsys: Any, caplog: Any
) -> None:
    settings = str(lossy.settings_file())
    argv = ["--settings", settings, "--table", "it.lossy", "--num-partitions", "3"]
    argv += ["--engine", "jdbc"]  # the COPY engine's counts: test_main_job_on_the_copy_engine
    assert read_tables.main([*argv, "--table", "it.lossless"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "WARNING" not in out  # logged, not printed as well
    assert _warnings(caplog) == [
        f"it.public.lossy: {TOTAL} value(s) read as NULL because their Spark type "
        'cannot hold them: "amount" 30 (numeric NaN), "d" 25 (date infinity or 1582-10-05..14), '
        '"ts" 7 (timestamp infinity, 1582-10-05..14 or after 294247), "arr" 2 (array with more '
        'dimensions or a lower bound other than 1). Read with --unrepresentable text (unrepresentable="text") '
        "to keep them exactly as PostgreSQL text"
    ]
    assert _summary_row(out, "it.public.lossy")[1] == str(ROWS)
    assert _summary_row(out, "it.public.lossy")[6] == str(TOTAL)
    assert _summary_row(out, "it.public.lossless")[6] == "0"

    assert read_tables.main([*argv, "--strict"]) == EXIT_DATABASE
    captured = capsys.readouterr()
    (warning,) = _warnings(caplog)
    assert warning.startswith(f"it.public.lossy: {TOTAL} value(s)")
    assert captured.err.startswith(
        f"sparkpg: error: it.public.lossy: {TOTAL} value(s) read as NULL"
    )


def test_main_job_on_the_copy_engine_counts_without_the_gap(
    spark: Any, lossy: ReadDb, capsys: Any, caplog: Any
) -> None:
    settings = str(lossy.settings_file())
    argv = ["--settings", settings, "--table", "it.lossy", "--num-partitions", "3", "--strict"]
    assert read_tables.main(argv) == EXIT_DATABASE  # the default engine is COPY
    captured = capsys.readouterr()
    total = sum(EXPECTED_BY_ENGINE["copy"].values())
    assert total == TOTAL - 1
    (warning,) = _warnings(caplog)
    assert warning.startswith(f"it.public.lossy: {total} value(s)") and '"d" 24 (' in warning
    assert captured.err.startswith(f"sparkpg: error: it.public.lossy: {total} value(s) read as")


def test_main_job_text_keeps_the_values_and_warns_nothing(
    spark: Any, lossy: ReadDb, tmp_path: Path, capsys: Any
) -> None:
    settings = str(lossy.settings_file())
    out_dir = tmp_path / "out"
    argv = ["--settings", settings, "--table", "it.lossy", "--num-partitions", "3"]
    code = read_tables.main([*argv, "--unrepresentable", "text", "--output", str(out_dir)])
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "WARNING" not in out
    assert _summary_row(out, "it.public.lossy")[6] == "0"
    written = {r["id"]: r for r in spark.read.parquet(str(out_dir / "lossy")).collect()}
    assert len(written) == ROWS
    assert written[100]["amount"] == "NaN" and written[250]["d"] == "infinity"
    assert written[251]["d"] == "-infinity" and written[7]["d"] == "1582-10-10"
    assert written[3]["ts"] == "infinity" and written[8]["ts"] == "294250-01-01 00:00:00"
    assert written[5]["arr"] == "[0:1]={7,8}" and written[6]["arr"] == "{{1,2},{3,4}}"
    assert not math.isnan(float(written[1]["amount"]))


def test_main_job_with_sql_says_it_does_not_count_unless_strict(
    spark: Any, lossy: ReadDb, capsys: Any, caplog: Any
) -> None:
    settings = str(lossy.settings_file())
    # (the COPY engine counts what the query reads: here every counted column)
    sql = "SELECT count(amount), count(d), count(ts), count(arr) FROM lossy"
    argv = ["--settings", settings, "--table", "it.lossy", "--sql", sql]
    assert read_tables.main(argv) == EXIT_OK
    out = capsys.readouterr().out
    assert "WARNING" not in out
    assert _summary_row(out, "it.public.lossy")[6] == "-"
    assert "note: values read as NULL because their Spark type cannot hold them" in out
    assert "are not counted with --sql" in out
    assert read_tables.main([*argv, "--strict"]) == EXIT_DATABASE
    captured = capsys.readouterr()
    assert captured.err.startswith("sparkpg: error: ")
    (warning,) = _warnings(caplog)
    assert warning.startswith(f"it.public.lossy: {TOTAL - 1} value(s)")  # COPY: no gap
