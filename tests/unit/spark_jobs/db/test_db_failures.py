"""Each database failure class gets its own message (issue 10, items 5 and 9): pure, no JVM.

The failures are written as pgjdbc 42.7 reports them (class names and messages of the Java
cause chain); tests/faults/ and tests/integration/read/ produce the real ones.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Type

import pytest
from pydantic import SecretStr

from connectors.errors import (
    DatabaseAuthenticationError,
    DatabaseConnectionError,
    DatabaseConnectionLostError,
    DatabaseError,
    DatabaseUnresponsiveError,
    LockTimeoutError,
    MaterializedViewNotPopulatedError,
    StatementTimeoutError,
)
from connectors.jdbc import resolve_endpoint, session_settings, set_statements
from connectors.secrets import Credentials
from connectors.settings import ConnectionSettings
from spark_jobs.db.failures import classify_failure
from spark_jobs.db.target import DbTarget
from spark_jobs.engine.java import JavaFailure

PASSWORD = "hunter2'; --"
PSQL = "org.postgresql.util.PSQLException"


def target(**fields: Any) -> DbTarget:
    connection = ConnectionSettings(
        name="aurora",
        host="db.cluster-abc.eu-west-1.rds.amazonaws.com",
        port=5432,
        database="sales",
        credentials_env="DB",
        **fields,
    )
    credentials = Credentials(username="spark", password=SecretStr(PASSWORD), source="env:DB")
    return DbTarget(connection, credentials, resolve_endpoint(connection, credentials))


def failure(sqlstate: Optional[str], message: str, *causes: Tuple[str, str]) -> JavaFailure:
    return JavaFailure(sqlstate, message, ((PSQL, message), *causes))


def classify(
    f: JavaFailure,
    *,
    what: str = "reading",
    table: Optional[str] = "aurora.public.orders",
    **kw: Any,
) -> DatabaseError:
    return classify_failure(f, target(**kw), what=what, table=table, sql="SELECT min(id) FROM t")


HOST = "db.cluster-abc.eu-west-1.rds.amazonaws.com:5432"

CASES = [
    (
        "lock",
        failure("55P03", "ERROR: canceling statement due to lock timeout"),
        LockTimeoutError,
        ["aurora.public.orders is locked by another session", "lock_timeout_seconds=10"],
    ),
    (
        "statement timeout",
        failure("57014", "ERROR: canceling statement due to statement timeout"),
        StatementTimeoutError,
        ["statement_timeout_seconds=60", "(the query: SELECT min(id) FROM t)"],
    ),
    (
        "socket timeout",
        failure(
            "08006",
            "An I/O error occurred while sending to the backend.",
            ("java.net.SocketTimeoutException", "Read timed out"),
        ),
        DatabaseUnresponsiveError,
        [f"{HOST} stopped answering", "socket_timeout_seconds=300"],
    ),
    (
        "connect timeout",
        failure(
            "08001",
            "The connection attempt failed.",
            ("java.net.SocketTimeoutException", "Connect timed out"),
        ),
        DatabaseConnectionError,
        ["connect_timeout_seconds=10", "security group", "#postgresql-connection-timeout"],
    ),
    (
        "login timeout",
        failure("08001", "Connection attempt timed out."),
        DatabaseUnresponsiveError,
        ["did not complete the PostgreSQL handshake", "login_timeout_seconds=30"],
    ),
    (
        "refused",
        failure(
            "08001",
            f"Connection to {HOST} refused. Check that the hostname and port are correct",
            ("java.net.ConnectException", "Connection refused"),
        ),
        DatabaseConnectionError,
        ["refused the connection", "nothing accepts connections on port 5432"],
    ),
    (
        "unknown host",
        failure(
            "08001",
            "The connection attempt failed.",
            ("java.net.UnknownHostException", "db.cluster-abc.eu-west-1.rds.amazonaws.com"),
        ),
        DatabaseConnectionError,
        ["does not resolve (DNS)"],
    ),
    (
        "tls: unknown CA",
        failure(
            "08006",
            "SSL error: PKIX path building failed",
            ("javax.net.ssl.SSLHandshakeException", "PKIX path building failed"),
        ),
        DatabaseConnectionError,
        ["TLS with connection 'aurora'", "sslmode=verify-full, sslrootcert=/certs/global.pem"],
    ),
    (
        "tls: host name",
        failure(
            "08006",
            "The hostname db.cluster-abc.eu-west-1.rds.amazonaws.com could not be verified by "
            "hostnameverifier PgjdbcHostnameVerifier.",
        ),
        DatabaseConnectionError,
        ["does not name host 'db.cluster-abc.eu-west-1.rds.amazonaws.com'"],
    ),
    (
        "terminated by the server",
        failure("57P01", "FATAL: terminating connection due to administrator command"),
        DatabaseConnectionLostError,
        ["ended the connection", "failover", "Retry the job"],
    ),
    (
        "lost mid-read",
        failure(
            "08006",
            "An I/O error occurred while sending to the backend.",
            ("java.io.EOFException", ""),
        ),
        DatabaseConnectionLostError,
        [f"connection 'aurora' ({HOST}) was lost while reading aurora.public.orders"],
    ),
    (
        "auth",
        failure("28P01", 'FATAL: password authentication failed for user "spark"'),
        DatabaseAuthenticationError,
        ["rejected user 'spark'"],
    ),
    (
        "unpopulated matview",
        failure("55000", 'ERROR: materialized view "mv" has not been populated'),
        MaterializedViewNotPopulatedError,
        ["REFRESH MATERIALIZED VIEW"],
    ),
]


@pytest.mark.parametrize(("case", "java", "kind", "phrases"), CASES, ids=[c[0] for c in CASES])
def test_each_failure_class_has_its_own_message(
    case: str, java: JavaFailure, kind: Type[DatabaseError], phrases: list[str]
) -> None:
    error = classify(java, ssl_root_cert="/certs/global.pem")
    assert type(error) is kind
    text = str(error)
    for phrase in phrases:
        assert phrase in text
    assert PASSWORD not in text and "\tat " not in text
    security_groups = case == "connect timeout"
    assert ("security group" in text) is security_groups


def test_lock_during_planning_names_the_planned_table() -> None:
    java = failure("55P03", "ERROR: canceling statement due to lock timeout")
    error = classify(java, what="planning aurora.public.orders", table=None, lock_timeout_seconds=3)
    assert str(error).startswith("aurora.public.orders is locked by another session")
    assert "lock_timeout_seconds=3" in str(error)
    on_query = classify(java, what="planning query on connection 'aurora'", table=None)
    assert str(on_query).startswith("a table the query reads is locked")


def test_user_cancel_is_not_a_statement_timeout() -> None:
    error = classify(failure("57014", "ERROR: canceling statement due to user request"))
    assert type(error) is DatabaseError and "cancelled" in str(error)


def test_session_settings_bound_every_wait() -> None:
    conn = target(lock_timeout_seconds=5, statement_timeout_seconds=0).connection
    assert session_settings(conn, server_version_num=160002, planning=True) == {
        "lock_timeout": "5s",
        "client_connection_check_interval": "10s",
    }
    assert set_statements({"lock_timeout": "5s"}, local=True) == ["SET LOCAL lock_timeout = '5s'"]
    defaults = target().connection
    assert (defaults.socket_timeout_seconds, defaults.lock_timeout_seconds) == (300, 10)
    assert session_settings(defaults, server_version_num=130000, planning=False) == {
        "lock_timeout": "10s"
    }
