"""The bundle is self-contained and EMR-compatible: the main job runs from dist/ ALONE.

``entrypoints.emr_local`` (the same path as ``sparkpg run --emr-like``) runs ``read_tables.py``
from the session's build with spark-submit in local mode under Python 3.9: the environment
archive built for 3.9/x86_64 unpacked as ``./environment`` in a fresh working directory (its
``bin/python`` link re-pointed at this machine's 3.9), ``PYSPARK_PYTHON`` pointing into it,
``--py-files`` the code zip, ``--jars`` the bundled JAR, no Python path or venv of ours. It reads
the real test PostgreSQL over verified TLS with the credentials from a secret on the moto server.

It runs twice: with this environment's pyspark (3.5.x), and with **pyspark 3.5.0**, the Spark of
emr-7.0.0, from ``.venv39-spark350`` (``make .venv39-spark350/.installed``; CI builds it), so no
API that changed within 3.5.x slips through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import psycopg
import pytest
from psycopg import sql

from devtools.artifacts import REPO_ROOT
from devtools.postgres_server import PostgresServer
from entrypoints.emr_local import find_interpreter, run_emr_like

from .conftest import client

pytestmark = [pytest.mark.spark, pytest.mark.slow]
ROLE = "sparkpg_bundle_reader"
PASSWORD = "bundle p@ss'\"é"
ROWS = [
    (1, "plain", "10.50"),
    (2, "quote ' and \" and é", "0.01"),
    (3, None, None),
]


SPARK_350_VENV = REPO_ROOT / ".venv39-spark350"


def _spark_home(which: str) -> Optional[Path]:
    """None: this environment's pyspark; "3.5.0": the one of ``.venv39-spark350``."""
    if which == "current":
        return None
    found = sorted(SPARK_350_VENV.glob("lib/python3.9/site-packages/pyspark"))
    assert found and (SPARK_350_VENV / ".installed").exists(), (
        f"no pyspark 3.5.0 in {SPARK_350_VENV}: run make .venv39-spark350/.installed"
    )
    version = (found[0] / "version.py").read_text()
    assert "'3.5.0'" in version or '"3.5.0"' in version, version
    return found[0]


@pytest.fixture(scope="module")
def orders_table(pg_admin: psycopg.Connection[Any]) -> str:
    pg_admin.execute("DROP SCHEMA IF EXISTS ship_bundle CASCADE")
    pg_admin.execute("CREATE SCHEMA ship_bundle")
    pg_admin.execute(
        "CREATE TABLE ship_bundle.orders (id integer PRIMARY KEY, note text, amount numeric(10,2))"
    )
    with pg_admin.cursor() as cur:
        cur.executemany("INSERT INTO ship_bundle.orders VALUES (%s, %s, %s)", ROWS)
    pg_admin.execute(f"DROP ROLE IF EXISTS {ROLE}")
    pg_admin.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(ROLE), sql.Literal(PASSWORD)
        )
    )
    pg_admin.execute(f"GRANT USAGE ON SCHEMA ship_bundle TO {ROLE}")
    pg_admin.execute(f"GRANT SELECT ON ship_bundle.orders TO {ROLE}")
    return "ship_bundle.orders"


@pytest.mark.parametrize("spark", ["current", "3.5.0"])
def test_main_job_runs_from_dist_alone_under_python39(
    spark: str,
    built_dist: Path,
    postgres: PostgresServer,
    orders_table: str,
    aws_env: str,
    tmp_path: Path,
) -> None:
    assert find_interpreter("3.9"), "this test needs a local CPython 3.9 (pyenv install 3.9)"
    spark_home = _spark_home(spark)
    secret = client("secretsmanager").create_secret(
        Name=f"spark/postgres/bundle-test-{spark}",
        SecretString=json.dumps({"username": ROLE, "password": PASSWORD}),
    )["ARN"]
    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps(
            {
                "spark": {},
                "postgres": {
                    "connections": [
                        {
                            "name": "it",
                            "secret_arn": secret,
                            "host": "localhost",
                            "port": postgres.port,
                            "database": postgres.database,
                            "ssl_mode": "verify-full",
                            "ssl_root_cert": str(postgres.ca_cert_path),
                        }
                    ]
                },
            }
        )
    )
    output = tmp_path / "out"
    result = run_emr_like(
        built_dist,
        "read_tables",
        [
            "--settings",
            str(settings),
            "--table",
            f"it.{orders_table}",
            "--output",
            str(output),
            "--format",
            "json",
        ],
        capture=True,
        timeout=600,
        spark_home=spark_home,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    rows: List[Dict[str, Any]] = []
    for part in sorted(output.rglob("*.json")):
        rows += [json.loads(line) for line in part.read_text().splitlines() if line]
    got = sorted((r["id"], r.get("note"), r.get("amount")) for r in rows)
    assert got == [(1, "plain", 10.5), (2, "quote ' and \" and é", 0.01), (3, None, None)]
    assert PASSWORD not in result.stdout + result.stderr
    if spark == "3.5.0":
        assert "Running Spark version 3.5.0" in result.stderr
