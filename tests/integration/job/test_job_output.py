"""The main job's output against the real server and local Spark: injective folder names,
collisions refused before work, overwrite that never loses the previous output, no leftovers
after a failure, the summary of a failed run, and old/new dates in every output format."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Set

import pytest

from connectors.errors import OutputError
from entrypoints import read_tables
from entrypoints.errors import EXIT_DATABASE, EXIT_OK, EXIT_SETTINGS
from spark_jobs.job.actions import WRITE_OPTIONS
from spark_jobs.job.output import HadoopStore, output_folder

from .conftest import ReadDb

pytestmark = [pytest.mark.spark]

GOOD_VIEW = (
    "CREATE OR REPLACE VIEW boom AS SELECT g AS id, g * 2 AS v FROM generate_series(1, 3000) g"
)
BAD_VIEW = (
    "CREATE OR REPLACE VIEW boom AS SELECT g AS id, CASE WHEN g = 2000 THEN g / (g - 2000) "
    "ELSE g * 2 END AS v FROM generate_series(1, 3000) g"
)


@pytest.fixture(scope="module")
def out_tables(read_db: ReadDb) -> ReadDb:
    read_db.execute('DROP TABLE IF EXISTS t_one, t_two, "売上", "顧客", "a b", a_b CASCADE')
    read_db.execute("DROP VIEW IF EXISTS boom")
    read_db.execute(
        "CREATE TABLE t_one AS SELECT g AS id, 'one' || g AS s FROM generate_series(1, 100) g"
    )
    read_db.execute("CREATE TABLE t_two AS SELECT g AS id FROM generate_series(1, 20) g")
    for name, rows in (('"売上"', 3), ('"顧客"', 4), ('"a b"', 5), ("a_b", 6)):
        read_db.execute(f"CREATE TABLE {name} AS SELECT g AS id FROM generate_series(1, {rows}) g")
    read_db.execute(GOOD_VIEW)
    return read_db


def run(db: ReadDb, *argv: str) -> int:
    return read_tables.main(["--settings", str(db.settings_file()), *argv])


def tree(root: Path) -> Set[str]:
    """Every file and folder below ``root`` (hidden ones included), relative."""
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def parquet_ids(spark: Any, path: Path) -> List[int]:
    return sorted(r[0] for r in spark.read.parquet(str(path)).select("id").collect())


def test_odd_names_get_different_folders(
    spark: Any, out_tables: ReadDb, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"
    tables = ['it."売上"', 'it."顧客"', 'it."a b"', "IT.a_b"]  # connection names: any case
    argv = [arg for t in tables for arg in ("--table", t)]
    assert run(out_tables, *argv, "--output", str(out)) == EXIT_OK, capsys.readouterr().err
    folders = {name: output_folder(name) for name in ("売上", "顧客", "a b", "a_b")}
    assert len(set(folders.values())) == 4 and folders["a_b"] == "a_b"
    assert folders["売上"] == "売上" and folders["顧客"] == "顧客"  # readable, and not hidden
    assert {p.name for p in out.iterdir()} == set(folders.values())
    for name, rows in (("売上", 3), ("顧客", 4), ("a b", 5), ("a_b", 6)):
        assert parquet_ids(spark, out / folders[name]) == list(range(1, rows + 1)), name
    summary = capsys.readouterr().out
    assert f"-> {out}/{folders['売上']}" in summary
    assert "it.public.a_b " in summary and "IT." not in summary


def test_two_refs_to_one_folder_are_refused_before_any_work(
    spark: Any, out_tables: ReadDb, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"
    code = run(
        out_tables, "--table", "it.t_one", "--table", "IT.public.t_one", "--output", str(out)
    )
    assert code == EXIT_SETTINGS
    err = capsys.readouterr().err
    assert "tables it.public.t_one and IT.public.t_one" in err, err
    assert not out.exists()
    assert run(out_tables, "--table", "it.t_one", "--output", "  ") == EXIT_SETTINGS
    assert "--output '  ' is empty" in capsys.readouterr().err


def test_overwrite_keeps_the_previous_output_when_a_table_fails(
    spark: Any, out_tables: ReadDb, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"
    argv = [
        "--table",
        "it.t_one",
        "--table",
        "it.t_two",
        "--table",
        "it.boom",
        "--output",
        str(out),
    ]
    assert run(out_tables, *argv, "--mode", "overwrite") == EXIT_OK, capsys.readouterr().err
    capsys.readouterr()
    before = tree(out)
    assert parquet_ids(spark, out / "t_one") == list(range(1, 101))
    out_tables.execute("INSERT INTO t_one SELECT g, 'new' FROM generate_series(101, 150) g")
    out_tables.execute(BAD_VIEW)
    try:
        code = run(out_tables, *argv, "--mode", "overwrite")
        captured = capsys.readouterr()
        assert code == EXIT_DATABASE, captured.err
        assert "division by zero" in captured.err and "Traceback" not in captured.err
        lines = captured.out.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("table "))
        one, two, boom = lines[header + 1 : header + 4]
        assert one.split()[:2] == ["it.public.t_one", "150"] and "not published" in one
        assert two.split()[:2] == ["it.public.t_two", "20"] and "not published" in two
        assert (
            boom.startswith("it.public.boom") and "[FAILED: " in boom and "division by zero" in boom
        )
        assert tree(out) == before  # same files, nothing staged left behind
        assert parquet_ids(spark, out / "t_one") == list(range(1, 101))
        assert len(parquet_ids(spark, out / "boom")) == 3000
    finally:
        out_tables.execute(GOOD_VIEW)
    assert run(out_tables, *argv, "--mode", "overwrite") == EXIT_OK
    capsys.readouterr()
    assert parquet_ids(spark, out / "t_one") == list(range(1, 151))
    assert {p.name for p in out.iterdir()} == {"t_one", "t_two", "boom"}  # backups removed
    out_tables.execute("DELETE FROM t_one WHERE id > 100")


def test_a_failed_default_run_leaves_nothing_and_append_removes_what_it_created(
    spark: Any, out_tables: ReadDb, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"
    argv = ["--table", "it.t_one", "--table", "it.boom", "--output", str(out)]
    out_tables.execute(BAD_VIEW)
    try:
        assert run(out_tables, *argv) == EXIT_DATABASE
        assert tree(out) == set()  # no empty boom/ folder, t_one not published either
        appended = tmp_path / "appended"
        assert run(out_tables, "--mode", "append", *argv[:-1], str(appended)) == EXIT_DATABASE
        assert "appended (kept" in capsys.readouterr().out
        # t_one's append committed on its own; the failed table's folder was removed
        assert {p.name for p in appended.iterdir()} == {"t_one"}
        assert parquet_ids(spark, appended / "t_one") == list(range(1, 101))
    finally:
        out_tables.execute(GOOD_VIEW)
    capsys.readouterr()
    assert run(out_tables, *argv) == EXIT_OK, capsys.readouterr().err  # no PATH_ALREADY_EXISTS
    assert {p.name for p in out.iterdir()} == {"t_one", "boom"}
    assert run(out_tables, *argv) != EXIT_OK
    assert "already exists: use --mode overwrite" in capsys.readouterr().err


def test_hadoop_publish_rolls_back_every_target_on_a_failure(spark: Any, tmp_path: Path) -> None:
    store = HadoopStore(spark)
    files: Dict[str, str] = {"t1/old": "old 1", "t2/old": "old 2", "s1/new": "new 1"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    pairs = [
        (str(tmp_path / "s1"), str(tmp_path / "t1")),
        (str(tmp_path / "s2"), str(tmp_path / "t2")),
    ]
    with pytest.raises(OutputError, match="cannot rename"):
        store.publish(pairs, replace=True)  # s2 was never written: the second rename fails
    assert {name: (tmp_path / name).read_text() for name in files} == files
    assert {p.name for p in tmp_path.iterdir()} == {"t1", "t2", "s1"}


OLD_AND_NEW = """
CREATE TABLE dates_edge (id int, d date, ts timestamp, tstz timestamptz);
INSERT INTO dates_edge VALUES
  (1, '4713-01-01 BC', '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC'),
  (2, '0001-01-01', '0001-01-01 00:00:00', '0001-01-01 00:00:00+00'),
  (3, '1000-01-01', '1000-01-01 12:34:56.123456', '1000-01-01 12:34:56.123456+00'),
  (4, '1582-10-04', '1582-10-04 23:59:59.999999', '1582-10-15 00:00:00+00'),
  (5, '1899-12-31', '1899-12-31 23:59:59.999999', '1899-12-31 23:59:59.999999+00'),
  (6, '9999-12-31', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999+00'),
  (7, '5874897-12-31', '294247-01-10 04:00:54.775807', '294247-01-10 04:00:54.775807+00'),
  (8, NULL, NULL, NULL)
"""


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_oldest_and_newest_dates_round_trip_in_every_format(
    spark: Any, read_db: ReadDb, tmp_path: Path, capsys: Any, fmt: str
) -> None:
    read_db.execute("DROP TABLE IF EXISTS dates_edge")
    read_db.execute(OLD_AND_NEW)
    out = tmp_path / "out"
    code = run(read_db, "--table", "it.dates_edge", "--output", str(out), "--format", fmt)
    assert code == EXIT_OK, capsys.readouterr().err
    assert spark.conf.get("spark.sql.parquet.datetimeRebaseModeInWrite") == "CORRECTED"
    schema = "id INT, d DATE, ts TIMESTAMP, tstz TIMESTAMP"
    reader = spark.read.schema(schema).options(**WRITE_OPTIONS.get(fmt, {}))
    back = reader.format(fmt).load(str(out / "dates_edge"))
    got = sorted(
        tuple(r)
        for r in back.selectExpr(
            "id", "unix_date(d)", "unix_micros(ts)", "unix_micros(tstz)"
        ).collect()
    )
    # microseconds since 1970 as days and time of day: extract(epoch) rounds near 2^63
    micros = (
        "(({0})::date - date '1970-01-01')::bigint * 86400000000 "
        "+ (extract(epoch FROM ({0})::time) * 1000000)::bigint"
    )
    utc = micros.format("tstz AT TIME ZONE 'UTC'")
    expected = read_db.rows(
        f"SELECT id, d - date '1970-01-01', {micros.format('ts')}, {utc} FROM dates_edge"
    )
    assert got == sorted(expected)


def test_ignore_keeps_existing_targets_and_writes_the_others(
    spark: Any, out_tables: ReadDb, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"
    assert run(out_tables, "--table", "it.t_two", "--output", str(out)) == EXIT_OK
    before = tree(out)
    argv = ["--table", "it.t_one", "--table", "it.t_two", "--output", str(out), "--mode", "ignore"]
    capsys.readouterr()
    assert run(out_tables, *argv) == EXIT_OK
    summary = capsys.readouterr().out
    assert "[kept (exists; --mode ignore)]" in summary.splitlines()[-1]
    assert before <= tree(out) and {p.name for p in out.iterdir()} == {"t_one", "t_two"}
    assert parquet_ids(spark, out / "t_one") == list(range(1, 101))
