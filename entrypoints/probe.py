"""The ``sparkpg doctor --probe`` job: connect to each enabled connection and report, on EMR.

Runs under EMR's Python 3.9 with the bundle's code on ``--py-files`` and the JDBC JAR on
``--jars``; prints one ``SPARKPG-PROBE {json}`` line per connection to the driver's stdout
(see :mod:`spark_jobs.job.connection_probe`) and exits 1 when any connection failed, so the run ends FAILED.

    spark-submit --jars postgresql.jar entrypoints/probe.py --settings settings.json
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    """Probe the connections; the exit code is 0 only when every one connected."""
    parser = argparse.ArgumentParser(prog="sparkpg-probe", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--settings", help="settings.json path or s3:// URI")
    source.add_argument("--settings-b64", help="settings as base64 JSON (sparkpg doctor --probe)")
    parser.add_argument(
        "--connection", action="append", default=[], help="only these connections (repeatable)"
    )
    args = parser.parse_args(argv)

    from connectors.settings import load_settings
    from spark_jobs.engine.session import get_session
    from spark_jobs.job.connection_probe import decode_settings, probe_connections, spark_connector

    settings = (
        decode_settings(args.settings_b64) if args.settings_b64 else load_settings(args.settings)
    )
    spark = get_session(settings, app_name="sparkpg-doctor-probe")
    try:
        results = probe_connections(settings, spark_connector(spark), args.connection)
    finally:
        spark.stop()
    for result in results:
        print(result.to_line(), flush=True)
    if not results:
        print("sparkpg-probe: no enabled connection to probe", file=sys.stderr)
        return 1
    failed = [r for r in results if not r.ok]
    for result in failed:
        print(
            f"sparkpg-probe: {result.connection}: {result.stage} failed: {result.detail}",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
