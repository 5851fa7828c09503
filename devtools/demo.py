"""``make demo``: the main job on local defaults.

Starts a throwaway PostgreSQL (the test suite's harness, with TLS), loads
``examples/sample_schema.sql`` (mixed-case names, NULLs, unconstrained numerics, infinities, arrays,
JSON, money, bit strings), writes a settings file for it, and runs ``entrypoints.read_tables`` with
local Spark twice: every table to Parquet under ``.sparkpg/demo-output`` with a per-table summary
and a few rows shown, then a Spark SQL query over the loaded tables.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

import psycopg

from devtools.postgres_server import postgres_server

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "examples" / "sample_schema.sql"
OUTPUT = ROOT / ".sparkpg" / "demo-output"
TABLES = ["demo.public.customers", "demo.public.orders", 'demo."Sales"."Daily Totals"']
QUERY = (
    "SELECT c.name, count(*) AS orders, sum(CAST(o.amount AS DECIMAL(38, 2))) AS total "
    "FROM orders o JOIN customers c ON c.id = o.customer_id "
    "GROUP BY c.name ORDER BY orders DESC, c.name LIMIT 5"
)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the demo; returns the job's exit code."""
    from entrypoints import read_tables
    from spark_jobs.engine.session import local_session

    with postgres_server(tls=True) as server, tempfile.TemporaryDirectory() as tmp:
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute(SCHEMA.read_text(encoding="utf-8"))
        credentials = Path(tmp) / "credentials.json"
        credentials.write_text(json.dumps({"username": server.user, "password": server.password}))
        credentials.chmod(0o600)
        settings = Path(tmp) / "settings.json"
        settings.write_text(
            json.dumps(
                {
                    "postgres": {
                        "connections": [
                            {
                                "name": "demo",
                                "credentials_file": str(credentials),
                                "host": "localhost",
                                "port": server.port,
                                "database": server.database,
                                "ssl_mode": "verify-full",
                                "ssl_root_cert": str(server.ca_cert_path),
                                "max_connections": 4,
                            }
                        ]
                    }
                },
                indent=2,
            )
        )
        print(
            f"demo: PostgreSQL {server.server_version_num} on localhost:{server.port}, TLS verified"
        )
        spark = local_session(master="local[2]", app_name="sparkpg-demo")
        try:
            common = ["--settings", str(settings), *(f"--table={t}" for t in TABLES)]
            status = read_tables.main(
                [
                    *common,
                    "--output",
                    str(OUTPUT),
                    "--mode",
                    "overwrite",
                    "--show",
                    "3",
                    *(argv or []),
                ]
            )
            if status == 0:
                print(f"demo: Parquet written under {OUTPUT}")
                status = read_tables.main([*common, "--sql", QUERY, "--show", "5"])
        finally:
            spark.stop()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
