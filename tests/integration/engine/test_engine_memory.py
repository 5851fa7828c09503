"""A table several times the driver heap streams through one partition of a 512 MiB driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spark_jobs.engine.session import ENGINE_JAR
from tests import REPO

from .conftest import PASSWORD, EngineDb

JOB = """
import json, sys
from pyspark.sql import SparkSession
from spark_jobs.read.copy_columns import EngineColumn
from spark_jobs.read.copy_engine import copy_read
args = json.load(open(sys.argv[1]))
spark = SparkSession.builder.getOrCreate()
df, _ = copy_read(spark, url=args["url"], properties=args["properties"], source_sql='"public"."wide"',
                  columns=[EngineColumn("id", "int8", '"id"', "ordering"),
                           EngineColumn("t", "text", '"t"', "equality")], label="wide")
row = df.selectExpr("count(*) AS n", "sum(length(t)) AS chars").collect()[0]
print("RESULT", row["n"], row["chars"])
spark.stop()
"""


@pytest.mark.slow
def test_a_table_larger_than_the_driver_heap_streams(
    engine_db: EngineDb, jdbc_jar: Path, tmp_path: Path
) -> None:
    engine_db.execute("DROP TABLE IF EXISTS wide")
    engine_db.execute(
        "CREATE UNLOGGED TABLE wide AS SELECT g::bigint AS id, repeat(md5(g::text), 28) AS t "
        "FROM generate_series(1, 1500000) g"
    )
    size = engine_db.rows("SELECT pg_relation_size('wide')")[0][0]
    assert size > 2.5 * 512 * 1024 * 1024
    job = tmp_path / "job.py"
    job.write_text(JOB)
    args = tmp_path / "args.json"
    args.write_text(
        json.dumps({"url": engine_db.target.url, "properties": engine_db.target.properties()})
    )
    jars = f"{jdbc_jar}{os.pathsep}{ENGINE_JAR}"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    try:
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("spark-submit")),
                "--master",
                "local[2]",
                "--driver-memory",
                "512m",
                "--conf",
                "spark.ui.enabled=false",
                "--conf",
                "spark.driver.extraJavaOptions=-Duser.timezone=UTC",
                "--driver-class-path",
                jars,
                "--jars",
                jars.replace(os.pathsep, ","),
                str(job),
                str(args),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        args.unlink()
        engine_db.execute("DROP TABLE IF EXISTS wide")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RESULT 1500000 1344000000" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
