"""The ``doctor --probe`` job script under a real spark-submit, against the real PostgreSQL server:
one ``SPARKPG-PROBE`` line per enabled connection, success or the exact JDBC error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.postgres_server import PostgresServer, _free_port
from diagnostics.probe_run import fix_for_error, parse_probe_output
from tests import REPO


@pytest.mark.spark
@pytest.mark.slow
def test_probe_job_connects_and_reports_exact_errors(
    postgres: PostgresServer, jdbc_jar: Path, tmp_path: Path
) -> None:
    common = {
        "host": "localhost",
        "database": postgres.database,
        "ssl_mode": "verify-full",
        "ssl_root_cert": str(postgres.ca_cert_path),
        "connect_timeout_seconds": 5,
    }
    settings = {
        "spark": {"emr_application_id": "a", "emr_postgres_application_id": "b"},
        "postgres": {
            "jdbc_driver_path": str(jdbc_jar),
            "connections": [
                {"name": "good", "credentials_env": "PROBE_PG", "port": postgres.port, **common},
                {
                    "name": "closed",
                    "credentials_env": "PROBE_PG",
                    "port": _free_port(False),
                    **common,
                },
                {
                    "name": "nocreds",
                    "credentials_env": "PROBE_MISSING",
                    "port": postgres.port,
                    **common,
                },
            ],
        },
    }
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    spark_submit = Path(sys.executable).with_name("spark-submit")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PROBE_PG_USERNAME": postgres.user,
        "PROBE_PG_PASSWORD": postgres.password,
    }
    done = subprocess.run(
        [
            str(spark_submit),
            "--master",
            "local[1]",
            "--conf",
            "spark.ui.enabled=false",
            "--jars",
            str(jdbc_jar),
            str(REPO / "entrypoints" / "probe.py"),
            "--settings",
            str(path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    probes = parse_probe_output(done.stdout)
    assert done.returncode == 1, done.stderr[-3000:]
    assert probes["good"].ok, probes["good"]
    assert "returned 1 row(s)" in probes["good"].detail
    closed = probes["closed"]
    assert not closed.ok and closed.stage == "connect"
    assert "org.postgresql.util.PSQLException" in closed.detail, closed.detail
    assert "troubleshooting.md#postgresql-connection-timeout" in fix_for_error(closed.detail)
    assert probes["nocreds"].stage == "credentials"
    assert "PROBE_MISSING_USERNAME" in probes["nocreds"].detail
