"""What a database failure means for the user: one :class:`~connectors.errors.DatabaseError`
subclass and one message (the connection, the table, the cause and the fix) per kind of failure.

The kinds are a table (:data:`~spark_jobs.db.failure_kinds.RULES`), looked up in order by the SQLSTATE of the first
``java.sql.SQLException`` in the Java chain and by the classes of the chain's exceptions. A few
kinds that pgjdbc reports under one SQLSTATE (``08001`` for a refused, timed-out or unverified
connection; ``57014`` for a cancel and a statement timeout) are told apart by the server's or
pgjdbc's wording, which the rule names in ``says``. The first rule that matches and builds an
error wins; the password never appears in a message (:meth:`DbTarget.redact`).

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import logging
from typing import Optional

from connectors.errors import DatabaseError
from spark_jobs.db.failure_kinds import NETWORK_EXCEPTIONS, RULES, Failure
from spark_jobs.db.target import DbTarget
from spark_jobs.engine.java import JavaFailure, failure_of

logger = logging.getLogger(__name__)


def classify_failure(
    failure: JavaFailure,
    target: DbTarget,
    *,
    what: str,
    table: Optional[str] = None,
    sql: Optional[str] = None,
) -> DatabaseError:
    """The :class:`DatabaseError` subclass and message for ``failure``: the first of
    :data:`RULES` that matches and builds, else a plain :class:`DatabaseError` with the SQLSTATE."""
    subject = Failure(failure, target, what, table, sql)
    for rule in RULES:
        if rule.matches(subject):
            error = rule.build(subject)
            if error is not None:
                return error
    state = f" (SQLSTATE {subject.sqlstate})" if subject.sqlstate else ""
    return DatabaseError(
        f"{subject.subject} failed on {subject.where}{state}: {subject.message}",
        sqlstate=subject.sqlstate,
    )


def translate_error(
    exc: BaseException,
    target: DbTarget,
    *,
    what: str,
    table: Optional[str] = None,
    sql: Optional[str] = None,
) -> DatabaseError:
    """A sparkpg :class:`DatabaseError` for a failed py4j call into pgjdbc, naming the
    connection, the table (when known) and the cause, with the fix; never the password nor a Java
    stack trace (that goes to the DEBUG log). ``sql``: the statement that failed, shown on a
    statement timeout."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("pgjdbc failure while %s: %s", what, target.redact(str(exc)))
    return classify_failure(failure_of(exc), target, what=what, table=table, sql=sql)


def is_database_failure(failure: JavaFailure) -> bool:
    """True when ``failure`` came from pgjdbc or the connection to the server (not Spark)."""
    return failure.sqlstate is not None or failure.has(*NETWORK_EXCEPTIONS)


def database_error_of(
    exc: BaseException, target: DbTarget, *, what: str, table: Optional[str] = None
) -> Optional[DatabaseError]:
    """A :class:`DatabaseError` when a Spark action failed in pgjdbc or on its connection, else
    None.

    For callers that run actions: executor-side failures (a lock timeout, a frozen or killed
    server, a rotated password, a released snapshot) reach the driver as a Py4JJavaError (a
    SparkException) with the pgjdbc error in its cause chain; they are classified like a
    driver-side one.
    """
    failure = failure_of(exc)
    if not is_database_failure(failure):
        return None
    return classify_failure(failure, target, what=what, table=table)
