"""Exit codes: the one place that turns sparkpg's exceptions into process exit statuses.

| code | meaning |
|------|---------|
| 0 | success |
| 1 | unexpected error (a bug: the traceback is printed) |
| 2 | bad command line (argparse) |
| 3 | invalid settings, unknown or disabled connection, bad identifier, impossible partitioning override |
| 4 | credentials could not be obtained (Secrets Manager, file, environment) |
| 5 | the database or the JDBC driver failed (connection, permission, missing table) |
| 6 | a submitted job run ended FAILED (`sparkpg submit --wait`, `sparkpg status`) |
| 7 | the job's output could not be written |
| 8 | a submitted job run ended CANCELLED (by the deadline, Ctrl-C or someone else) |
| 9 | stopped waiting (deadline or Ctrl-C) and left the job run running, as asked |
| 10 | an AWS API refused a request (EMR Serverless, S3, CloudWatch Logs) |
| 11 | the deployment bundle is missing or invalid (build/upload it with ./build.sh) |
| 12 | `sparkpg doctor` found at least one failing check |
| 130 | interrupted (Ctrl-C) outside a job wait; the main job cancels its Spark jobs and database sessions first |
"""

from __future__ import annotations

import logging
import sys
from typing import Callable, Dict, Type

from connectors.errors import (
    AwsRequestError,
    BundleError,
    CredentialsError,
    DatabaseError,
    IdentifierError,
    JobRunCancelledError,
    JobRunDetachedError,
    JobRunFailedError,
    OutputError,
    PartitioningError,
    SettingsError,
    SparkPgError,
)

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_SETTINGS = 3
EXIT_CREDENTIALS = 4
EXIT_DATABASE = 5
EXIT_JOB_FAILED = 6
EXIT_OUTPUT = 7
EXIT_JOB_CANCELLED = 8
EXIT_JOB_DETACHED = 9
EXIT_AWS = 10
EXIT_BUNDLE = 11
EXIT_CHECKS_FAILED = 12

_EXIT_CODES: Dict[Type[BaseException], int] = {
    SettingsError: EXIT_SETTINGS,
    IdentifierError: EXIT_SETTINGS,
    PartitioningError: EXIT_SETTINGS,
    CredentialsError: EXIT_CREDENTIALS,
    DatabaseError: EXIT_DATABASE,
    OutputError: EXIT_OUTPUT,
    JobRunFailedError: EXIT_JOB_FAILED,
    JobRunCancelledError: EXIT_JOB_CANCELLED,
    JobRunDetachedError: EXIT_JOB_DETACHED,
    AwsRequestError: EXIT_AWS,
    BundleError: EXIT_BUNDLE,
}


def register_exit_code(error: Type[BaseException], code: int) -> None:
    """Map an exception class (and its subclasses) to an exit code."""
    _EXIT_CODES[error] = code


def exit_code_for(error: BaseException) -> int:
    """The exit code for ``error``: the most specific registered class wins."""
    for cls in type(error).__mro__:
        if cls in _EXIT_CODES:
            return _EXIT_CODES[cls]
    return EXIT_UNEXPECTED


def run_main(main: Callable[[], int]) -> int:
    """Run ``main``; print a one-line error (no traceback) for sparkpg's own errors."""
    try:
        return main()
    except SparkPgError as error:
        print(f"sparkpg: error: {error}", file=sys.stderr)
        return exit_code_for(error)
    except KeyboardInterrupt:
        print("sparkpg: interrupted", file=sys.stderr)
        return 130
    except Exception:
        logging.getLogger("sparkpg").exception("unexpected error")
        return EXIT_UNEXPECTED
