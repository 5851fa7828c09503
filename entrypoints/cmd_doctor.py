"""``sparkpg doctor``: check a deployment before a job runs (docs/doctor.md).

Thin: argv -> :func:`diagnostics.run.run_doctor` -> table or JSON -> exit code (0 when no check
failed, warnings included; :data:`EXIT_CHECKS_FAILED` otherwise).
"""

from __future__ import annotations

import argparse
from typing import Any

from diagnostics.aws_reader import AwsReader
from diagnostics.results import passed, render_json, render_table
from diagnostics.run import run_doctor
from entrypoints.errors import EXIT_CHECKS_FAILED, EXIT_OK


def register(subcommands: Any) -> None:
    """Add the ``doctor`` command."""
    parser = subcommands.add_parser(
        "doctor",
        help="check settings, JAR, secrets, IAM, EMR applications and network before a job runs",
        description=(
            "Check a deployment against the deployment checklist and the common failures of "
            "docs/troubleshooting.md. "
            "Exit code 0 when nothing failed (warnings are fine)."
        ),
    )
    parser.add_argument("--settings", required=True, help="settings.json path or s3://bucket/key")
    parser.add_argument(
        "--role-arn",
        help="the EMR Serverless execution role (default: spark.emr_execution_role_arn)",
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="also submit a tiny job that connects to each enabled connection, and wait for it",
    )
    parser.add_argument(
        "--bundle",
        help="deployed manifest checked against the applications and used by --probe "
        "(s3:// or path; default spark.emr_bundle_uri)",
    )
    parser.add_argument(
        "--probe-timeout",
        type=float,
        default=20.0,
        metavar="MINUTES",
        help="cancel the probe job after this many minutes (default 20)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for CI)")
    parser.add_argument("--region", help="AWS region (default: boto3's resolution)")
    parser.add_argument("--profile", help="AWS profile (default: boto3's resolution)")
    parser.set_defaults(handler=doctor)


def doctor(args: argparse.Namespace) -> int:
    """Run the checks and print the report."""
    reader = AwsReader(region=args.region, profile=args.profile)
    probe = None
    if args.probe:
        from diagnostics.probe_run import probe_runner

        probe = probe_runner(
            reader, bundle_location=args.bundle, timeout_minutes=args.probe_timeout
        )
    results = run_doctor(
        args.settings,
        role_arn=args.role_arn,
        reader=reader,
        probe=probe,
        bundle_location=args.bundle,
    )
    print(render_json(results) if args.json else render_table(results))
    return EXIT_OK if passed(results) else EXIT_CHECKS_FAILED
