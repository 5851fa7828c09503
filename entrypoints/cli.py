"""The operator CLI, ``sparkpg``. Each sub-command lives in its own module with ``register()``."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from connectors import __version__
from entrypoints import cmd_deploy, cmd_doctor, cmd_run, cmd_settings, cmd_submit
from entrypoints.errors import run_main

COMMANDS = [cmd_settings, cmd_run, cmd_deploy, cmd_submit, cmd_doctor]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="sparkpg",
        description="Read Aurora/RDS PostgreSQL into Spark, locally and on EMR Serverless.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    parser.add_argument("--version", action="version", version=f"sparkpg {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subcommands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``sparkpg`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run_main(lambda: int(args.handler(args)))


if __name__ == "__main__":
    sys.exit(main())
