"""Exit codes: the one place that turns sparkpg's exceptions into process exit statuses.

:data:`EXIT_CODES` is the table (code, meaning, the errors that exit with it); the README's
"Exit codes" table is rendered from it and checked against it by the tests.
"""

from __future__ import annotations

import logging
import sys
from typing import Callable, Dict, Tuple, Type

from connectors.errors import (
    AwsRequestError,
    BundleError,
    CredentialsError,
    DatabaseError,
    EngineError,
    IdentifierError,
    JobRunCancelledError,
    JobRunDetachedError,
    JobRunFailedError,
    OutputError,
    PartitioningError,
    SettingsError,
    SparkPgError,
    TypePolicyError,
    WriteRefusedError,
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
EXIT_ENGINE = 13
EXIT_INTERRUPTED = 130

EXIT_CODES: Tuple[Tuple[int, str, Tuple[Type[BaseException], ...]], ...] = (
    (EXIT_OK, "success", ()),
    (EXIT_UNEXPECTED, "unexpected error (a bug: the traceback is printed)", ()),
    (EXIT_USAGE, "bad command line", ()),
    (
        EXIT_SETTINGS,
        "invalid settings, unknown or disabled connection, bad identifier, impossible "
        "partitioning override, or a write refused before it started (read-only connection, "
        "columns or types that do not match the target)",
        (SettingsError, IdentifierError, PartitioningError, WriteRefusedError),
    ),
    (EXIT_CREDENTIALS, "credentials could not be obtained", (CredentialsError,)),
    (
        EXIT_DATABASE,
        "the database or the JDBC driver failed (connection, permission, missing table, a "
        "type that cannot be read, a failed write)",
        (DatabaseError, TypePolicyError),
    ),
    (EXIT_JOB_FAILED, "a submitted job run ended FAILED", (JobRunFailedError,)),
    (EXIT_OUTPUT, "the job's output could not be written", (OutputError,)),
    (
        EXIT_JOB_CANCELLED,
        "a submitted job run ended CANCELLED (deadline, Ctrl-C or SIGTERM with --yes, or "
        "someone else)",
        (JobRunCancelledError,),
    ),
    (
        EXIT_JOB_DETACHED,
        "stopped waiting (deadline, Ctrl-C or SIGTERM) and left the job run running, as asked",
        (JobRunDetachedError,),
    ),
    (
        EXIT_AWS,
        "an AWS API refused a request (EMR Serverless, S3, CloudWatch Logs)",
        (AwsRequestError,),
    ),
    (
        EXIT_BUNDLE,
        "the deployment bundle is missing, not uploaded, or changed since the build",
        (BundleError,),
    ),
    (EXIT_CHECKS_FAILED, "`sparkpg doctor` found at least one failing check", ()),
    (
        EXIT_ENGINE,
        "sparkpg's engine JAR is not on the Spark classpath, or it refused the plan",
        (EngineError,),
    ),
    (
        EXIT_INTERRUPTED,
        "interrupted (Ctrl-C, or SIGTERM before a job run exists); the main job first cancels its "
        "Spark jobs and database sessions",
        (),
    ),
)
"""Every exit code: (code, meaning, the error classes (and subclasses) that exit with it)."""

_BY_ERROR: Dict[Type[BaseException], int] = {
    error: code for code, _, errors in EXIT_CODES for error in errors
}


def exit_code_for(error: BaseException) -> int:
    """The exit code for ``error``: the most specific registered class wins."""
    for cls in type(error).__mro__:
        if cls in _BY_ERROR:
            return _BY_ERROR[cls]
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
        return EXIT_INTERRUPTED
    except Exception:
        logging.getLogger("sparkpg").exception("unexpected error")
        return EXIT_UNEXPECTED
