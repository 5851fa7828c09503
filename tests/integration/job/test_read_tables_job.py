"""The main job end to end: entrypoints.read_tables.main / sparkpg run with explicit argv, checking
exit codes, the summary and the files written; and spark-submit with a 512 MiB driver heap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest

from entrypoints import read_tables
from entrypoints.cli import main as cli_main
from entrypoints.errors import EXIT_CREDENTIALS, EXIT_DATABASE, EXIT_OK, EXIT_OUTPUT, EXIT_SETTINGS
from spark_jobs.engine.session import ENGINE_JAR
from tests import REPO

from .conftest import PASSWORD, ReadDb

pytestmark = [pytest.mark.spark]


@pytest.fixture(scope="module")
def job_tables(read_db: ReadDb) -> ReadDb:
    read_db.execute("DROP TABLE IF EXISTS orders, customers_job")
    read_db.execute(
        "CREATE TABLE orders AS SELECT g AS order_id, g % 50 AS customer_id, "
        "(g * 1.25)::numeric(10, 2) AS total, CASE WHEN g % 9 = 0 THEN NULL ELSE 'o' || g END AS note "
        "FROM generate_series(1, 3000) g"
    )
    read_db.execute("ALTER TABLE orders ADD PRIMARY KEY (order_id)")
    read_db.execute(
        "CREATE TABLE customers_job AS SELECT g AS customer_id, 'c' || g AS name "
        "FROM generate_series(0, 49) g"
    )
    return read_db


def run(argv: List[str]) -> int:
    return read_tables.main(argv)


def test_tables_to_parquet_with_summary(
    spark: Any, job_tables: ReadDb, tmp_path: Path, capsys: Any
) -> None:
    settings = job_tables.settings_file()
    out = tmp_path / "out"
    code = run(
        [
            "--settings",
            str(settings),
            "--table",
            "it.orders",
            "--table",
            "it.public.customers_job",
            "--output",
            str(out),
            "--num-partitions",
            "3",
            "--show",
            "2",
        ]
    )
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    lines = captured.out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("table "))
    orders = lines[header + 1].split()
    assert orders[:6] == ["it.public.orders", "3000", "3", "key_range", "order_id", orders[5]]
    assert lines[header + 1].endswith(f"-> {out}/orders")
    assert lines[header + 2].split()[:4] == ["it.public.customers_job", "50", "1", "single"]
    assert "== it.public.orders (first 2 rows)" in captured.out
    written = spark.read.parquet(str(out / "orders"))
    assert sorted(tuple(r) for r in written.collect()) == sorted(
        job_tables.rows("SELECT order_id, customer_id, total, note FROM orders")
    )
    assert spark.read.parquet(str(out / "customers_job")).count() == 50
    assert PASSWORD not in captured.out + captured.err


def test_sql_over_views_to_json_and_csv(
    spark: Any, job_tables: ReadDb, tmp_path: Path, capsys: Any
) -> None:
    settings = job_tables.settings_file()
    query = (
        "SELECT c.name, count(*) AS n FROM orders o JOIN customers_job c "
        "ON o.customer_id = c.customer_id GROUP BY c.name"
    )
    for fmt in ("json", "csv"):
        out = tmp_path / fmt
        code = run(
            [
                "--settings",
                str(settings),
                "--table",
                "it.orders",
                "--table",
                "it.customers_job",
                "--sql",
                query,
                "--output",
                str(out),
                "--format",
                fmt,
                "--snapshot",
            ]
        )
        captured = capsys.readouterr()
        assert code == EXIT_OK, captured.err
        assert "--sql result" in captured.out and " 50 " in captured.out
        files = list(out.glob(f"part-*.{fmt}"))
        assert files, list(out.iterdir())
        if fmt == "json":
            rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
            assert sorted((r["name"], r["n"]) for r in rows) == sorted(
                (f"c{i}", 60) for i in range(50)
            )
        else:
            text = "".join(f.read_text() for f in files)
            assert text.count("name,n") == len(files) and "c7,60" in text


def test_existing_output_exits_7_then_overwrite_works(
    spark: Any, job_tables: ReadDb, tmp_path: Path, capsys: Any
) -> None:
    settings = job_tables.settings_file()
    argv = ["--settings", str(settings), "--table", "it.customers_job", "--output", str(tmp_path)]
    assert run(argv) == EXIT_OK
    assert run(argv) == EXIT_OUTPUT
    assert "already exists" in capsys.readouterr().err
    assert run([*argv, "--mode", "overwrite"]) == EXIT_OK


def test_failures_exit_non_zero_with_a_clear_message(
    spark: Any, job_tables: ReadDb, tmp_path: Path, capsys: Any
) -> None:
    settings = job_tables.settings_file()
    assert run(["--settings", str(settings), "--table", "it.ordrs"]) == EXIT_DATABASE
    err = capsys.readouterr().err
    assert err.startswith(
        "sparkpg: error: table it.public.ordrs not found; did you mean: it.public.orders"
    )
    assert "Traceback" not in err
    assert run(["--settings", str(tmp_path / "nope.json"), "--table", "it.orders"]) == EXIT_SETTINGS
    assert "settings file not found" in capsys.readouterr().err
    assert run(["--settings", str(settings), "--table", "other.orders"]) == EXIT_SETTINGS
    assert "no connection named 'other'" in capsys.readouterr().err
    code = run(
        [
            "--settings",
            str(settings),
            "--table",
            "it.orders",
            "--strategy",
            "page_range",
            "--key-column",
            "order_id",
        ]
    )
    assert code == EXIT_SETTINGS
    assert "takes no key column" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        run(["--settings", str(settings)])
    assert usage.value.code == 2


def test_sparkpg_run_is_the_same_job(spark: Any, job_tables: ReadDb, capsys: Any) -> None:
    settings = job_tables.settings_file()
    assert cli_main(["run", "--settings", str(settings), "--table", "it.customers_job"]) == EXIT_OK
    assert "it.public.customers_job" in capsys.readouterr().out


@pytest.mark.slow
def test_spark_submit_reads_a_table_larger_than_the_driver_heap(
    job_tables: ReadDb, jdbc_jar: Path, tmp_path: Path
) -> None:
    """1.4 GiB through one partition of a driver with a 512 MiB heap (executors run in the driver
    JVM in local mode): fetchsize keeps memory bounded, and spark-submit finds the package."""
    job_tables.execute("DROP TABLE IF EXISTS wide")
    job_tables.execute(
        "CREATE UNLOGGED TABLE wide AS SELECT g::bigint AS id, repeat(md5(g::text), 28) AS t "
        "FROM generate_series(1, 1500000) g"
    )
    size = job_tables.rows("SELECT pg_relation_size('wide')")[0][0]
    assert size > 2.5 * 512 * 1024 * 1024
    settings = job_tables.settings_file()
    python = sys.executable
    env = {**os.environ, "PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    spark_submit = Path(python).with_name("spark-submit")
    try:
        result = subprocess.run(
            [
                str(spark_submit),
                "--master",
                "local[2]",
                "--driver-memory",
                "512m",
                "--conf",
                "spark.ui.enabled=false",
                "--conf",
                "spark.driver.extraJavaOptions=-Duser.timezone=UTC",
                "--jars",
                f"{jdbc_jar},{ENGINE_JAR}",  # as on EMR: both JARs through --jars
                str(REPO / "entrypoints" / "read_tables.py"),
                "--settings",
                str(settings),
                "--table",
                "it.wide",
                "--strategy",
                "single",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        job_tables.execute("DROP TABLE IF EXISTS wide")
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(li for li in result.stdout.splitlines() if li.startswith("it.public.wide"))
    assert line.split()[1:4] == ["1500000", "1", "single"]
    assert PASSWORD not in result.stdout + result.stderr


def test_credentials_fail_before_spark_starts(
    job_tables: ReadDb, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spark_jobs.engine import session

    def no_spark(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a Spark session was started before the credentials were checked")

    monkeypatch.setattr(session, "get_session", no_spark)
    monkeypatch.setattr(session, "local_session", no_spark)
    missing = tmp_path / "rotated-away.json"
    settings = job_tables.settings_file(credentials_file=str(missing))
    assert run(["--settings", str(settings), "--table", "it.orders"]) == EXIT_CREDENTIALS
    err = capsys.readouterr().err
    assert "rotated-away.json" in err and "Traceback" not in err
