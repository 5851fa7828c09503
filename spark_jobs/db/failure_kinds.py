"""The kinds of database failure, as a table (:data:`RULES`): how each is recognised (its
SQLSTATE, SQLSTATE class, an exception class in the Java chain, or the wording pgjdbc gives a
kind that shares a SQLSTATE with others) and the error and message the user gets (the
connection, the table, the cause and the fix). :mod:`spark_jobs.db.failures` looks them up.

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Optional, Tuple, Type

from connectors.errors import (
    DatabaseAuthenticationError,
    DatabaseConnectionError,
    DatabaseConnectionLostError,
    DatabaseError,
    DatabasePermissionError,
    DatabaseUnresponsiveError,
    JdbcDriverNotFoundError,
    LockTimeoutError,
    MaterializedViewNotPopulatedError,
    QueryError,
    SnapshotError,
    StatementTimeoutError,
    TableNotFoundError,
)
from connectors.iam import iam_login_advice
from connectors.jdbc import effective_ssl_mode
from spark_jobs.db.target import DbTarget
from spark_jobs.engine.java import JavaFailure
from spark_jobs.engine.session import DRIVER_NOT_FOUND_ADVICE

logger = logging.getLogger(__name__)

NETWORK_EXCEPTIONS = (
    "SocketTimeoutException",
    "ConnectException",
    "UnknownHostException",
    "EOFException",
    "SocketException",
    "SSLException",
    "SSLHandshakeException",
)
"""Java exception classes that mean the connection to the server failed (not Spark)."""
_TLS_EXCEPTIONS = ("SSLException", "SSLHandshakeException", "CertificateException")
_SG_ADVICE = (
    "Check that the host and port are right, that the database's security group allows inbound "
    "TCP {port} from the job's security group (on EMR Serverless: the application's "
    "network_configuration security group) and that the subnets can route to it "
    "(docs/troubleshooting.md#postgresql-connection-timeout)"
)
_TERMINATED = {
    "57P01": "the server terminated the session (administrator command, a shutdown or restart, "
    "an Aurora failover, or pg_terminate_backend)",
    "57P02": "the server crashed and restarted (crash shutdown)",
    "57P03": "the server is starting up or shutting down and does not accept connections yet",
}


@dataclass(frozen=True)
class Failure:
    """One failure being classified: what pgjdbc said, on which target, while doing what."""

    java: JavaFailure
    target: DbTarget
    what: str
    table: Optional[str] = None
    sql: Optional[str] = None

    @property
    def sqlstate(self) -> Optional[str]:
        """The SQLSTATE, or None (a network or driver failure)."""
        return self.java.sqlstate

    @property
    def message(self) -> str:
        """pgjdbc's message, one line, password redacted."""
        return " ".join(self.target.redact(self.java.message).split()).rstrip(".")

    @property
    def where(self) -> str:
        """``connection 'aurora' (host:port)``."""
        return f"connection {self.target.name!r} ({self.target.host_port})"

    @property
    def subject(self) -> str:
        """``reading aurora.public.t`` or what was being done."""
        return f"{self.what} {self.table}" if self.table else self.what

    @property
    def fields(self) -> Dict[str, object]:
        """What a message template may name: ``{where}``, ``{subject}``, ``{message}``,
        ``{user}``, ``{host}``, ``{port}``, ``{name}``."""
        endpoint = self.target.endpoint
        return {
            "where": self.where,
            "subject": self.subject,
            "message": self.message,
            "user": self.target.credentials.username,
            "host": endpoint.host,
            "port": endpoint.port,
            "name": self.target.name,
        }


Build = Callable[[Failure], Optional[DatabaseError]]


def _message(error: Type[DatabaseError], template: str) -> Build:
    """A kind of failure whose error is ``error`` with ``template`` filled in from
    :attr:`Failure.fields`."""
    return lambda f: error(template.format(**f.fields), sqlstate=f.sqlstate)


@dataclass(frozen=True)
class Rule:
    """One kind of failure: it matches a SQLSTATE (``sqlstates``), a SQLSTATE class
    (``classes``: the first two characters), an exception class in the chain (``exceptions``,
    simple names) or pgjdbc's wording (``says``); ``build`` makes the error (None: not this kind
    after all, try the next rule)."""

    build: Build
    sqlstates: FrozenSet[str] = frozenset()
    classes: FrozenSet[str] = frozenset()
    exceptions: Tuple[str, ...] = ()
    says: Tuple[str, ...] = ()

    def matches(self, failure: Failure) -> bool:
        """True when one of the rule's keys is in ``failure``."""
        state = failure.sqlstate or ""
        return (
            state in self.sqlstates
            or state[:2] in self.classes
            or failure.java.has(*self.exceptions)
            or bool(self.says and failure.java.says(*self.says))
        )


def _authentication(f: Failure) -> DatabaseError:
    conn = f.target.connection
    signed = conn.auth_method == "iam" and not f.java.says("sparkpg IAM auth:")  # not signed
    iam = iam_login_advice(conn, f.target.endpoint) if signed else ""
    return DatabaseAuthenticationError(
        f"{f.where} rejected user {f.target.credentials.username!r} while {f.subject}: "
        f"{f.message}.{iam}",
        sqlstate=f.sqlstate,
    )


def _lock_timeout(f: Failure) -> DatabaseError:
    locked = f.table or _planned_subject(f.what)
    return LockTimeoutError(
        f"{locked} is locked by another session: {f.where} waited "
        f"lock_timeout_seconds={f.target.connection.lock_timeout_seconds} for its lock while "
        f"{f.subject} ({f.message}). A session holds (or waits for) a conflicting lock, typically "
        "ACCESS EXCLUSIVE from ALTER TABLE, TRUNCATE, DROP, VACUUM FULL, REFRESH MATERIALIZED "
        "VIEW or LOCK TABLE; find it with SELECT pid, state, query FROM pg_stat_activity WHERE "
        "pid IN (SELECT pid FROM pg_locks WHERE relation = '<schema>.<table>'::regclass AND "
        "granted), let it finish, or raise postgres.connections[].lock_timeout_seconds",
        sqlstate=f.sqlstate,
        setting="lock_timeout_seconds",
    )


def _cancelled(f: Failure) -> DatabaseError:
    if f.java.says("statement timeout"):
        statement = f" (the query: {_shorten(f.sql)})" if f.sql else ""
        return StatementTimeoutError(
            f"a query ran longer than statement_timeout_seconds="
            f"{f.target.connection.statement_timeout_seconds} on {f.where} while {f.subject}"
            f"{statement}. Planning queries are catalog lookups and one min/max of the key (fast "
            "with an index on it); give partitioning bounds or a key with an index, or raise "
            "postgres.connections[].statement_timeout_seconds",
            sqlstate=f.sqlstate,
            setting="statement_timeout_seconds",
        )
    return DatabaseError(
        f"{f.subject} was cancelled on {f.where}: {f.message} (a cancel request: Ctrl-C, or "
        "pg_cancel_backend by an administrator)",
        sqlstate=f.sqlstate,
    )


def _terminated(f: Failure) -> DatabaseError:
    return DatabaseConnectionLostError(
        f"{f.where} ended the connection while {f.subject}: {_TERMINATED[f.sqlstate or '']} "
        f"({f.message}). Retry the job once the server is back (an Aurora failover takes about "
        "30 seconds)",
        sqlstate=f.sqlstate,
    )


def _tls(f: Failure) -> DatabaseError:
    conn = f.target.connection
    host = f.target.endpoint.host
    mode = effective_ssl_mode(conn, host)
    detail = f.target.redact(
        f.java.message_of(*_TLS_EXCEPTIONS) or f.java.message_of("PSQLException") or f.java.message
    ).rstrip(".")
    if f.java.says("could not be verified"):
        fix = (
            f"the server's certificate does not name host {host!r}: connect with a host name the "
            "certificate carries (the RDS/Aurora endpoint name, not an IP address or a CNAME of "
            "it)"
        )
    elif f.java.says("does not support ssl"):
        fix = "the server does not offer TLS; enable ssl on it (RDS/Aurora always offer it)"
    else:
        fix = (
            f"ssl_root_cert ({conn.ssl_root_cert or 'not set: the JVM default trust store'}) "
            "must be the CA bundle that signed the server's certificate (RDS/Aurora: "
            "global-bundle.pem) and must exist on the driver and on every executor"
        )
    root = f", sslrootcert={conn.ssl_root_cert}" if conn.ssl_root_cert else ""
    return DatabaseConnectionError(
        f"TLS with {f.where} failed while {f.subject} (sslmode={mode}{root}): {detail}. "
        f"Check that {fix}",
        sqlstate=f.sqlstate,
    )


def _socket_timeout(f: Failure) -> DatabaseError:
    conn = f.target.connection
    if "connect" in f.java.message_of("SocketTimeoutException").lower():
        return DatabaseConnectionError(
            f"cannot reach {f.where} while {f.subject}: the TCP connection timed out after "
            f"connect_timeout_seconds={conn.connect_timeout_seconds}. "
            f"{_SG_ADVICE.format(port=f.target.endpoint.port)}",
            sqlstate=f.sqlstate,
        )
    return DatabaseUnresponsiveError(
        f"{f.target.host_port} stopped answering: no data from the server for "
        f"socket_timeout_seconds={conn.socket_timeout_seconds} while {f.subject} ({f.where}). "
        "The server is frozen or overloaded, or the network to it is cut (a failover in "
        "progress?); check the server, then retry. If a query legitimately takes longer than "
        "that to return its first row (a large sort or aggregate), raise "
        "postgres.connections[].socket_timeout_seconds",
        sqlstate=f.sqlstate,
        setting="socket_timeout_seconds",
    )


def _login_timeout(f: Failure) -> DatabaseError:
    return DatabaseUnresponsiveError(
        f"{f.target.host_port} accepted the TCP connection but did not complete the PostgreSQL "
        f"handshake within login_timeout_seconds={f.target.connection.login_timeout_seconds} "
        f"({f.where}, while {f.subject}): something other than PostgreSQL listens there (a proxy "
        "or load balancer without a healthy backend, a wrong port) or the server is overloaded. "
        "Check the host and port, or raise postgres.connections[].login_timeout_seconds",
        sqlstate=f.sqlstate,
        setting="login_timeout_seconds",
    )


def _no_route(f: Failure) -> DatabaseError:
    detail = f.java.message_of("ConnectException", "NoRouteToHostException") or f.message
    return DatabaseConnectionError(
        f"no network route to {f.where} while {f.subject}: {detail}. "
        f"{_SG_ADVICE.format(port=f.target.endpoint.port)}",
        sqlstate=f.sqlstate,
    )


def _not_populated(f: Failure) -> Optional[DatabaseError]:
    if not f.java.says("has not been populated"):
        return None
    return MaterializedViewNotPopulatedError(
        f"{f.subject} on {f.where}: {f.message}. Run REFRESH MATERIALIZED VIEW on it first",
        sqlstate=f.sqlstate,
    )


def _snapshot(f: Failure) -> Optional[DatabaseError]:
    if "snapshot" not in f.message.lower():
        return None
    return SnapshotError(
        f"{f.where} cannot use the exported snapshot while {f.subject}: {f.message}. Run every "
        "action on a snapshot read inside its `with consistent_snapshot(...)` block, against the "
        "primary (writer) endpoint",
        sqlstate=f.sqlstate,
    )


def _driver_missing(f: Failure) -> Optional[DatabaseError]:
    if f.sqlstate is not None or "postgresql" not in f.message:
        return None
    return JdbcDriverNotFoundError(f"{f.message}. {DRIVER_NOT_FOUND_ADVICE}")


RULES: Tuple[Rule, ...] = (
    Rule(_authentication, sqlstates=frozenset({"28P01", "28000"})),
    Rule(_lock_timeout, sqlstates=frozenset({"55P03"})),
    Rule(_cancelled, sqlstates=frozenset({"57014"})),
    Rule(_terminated, sqlstates=frozenset(_TERMINATED)),
    Rule(
        _tls,
        exceptions=_TLS_EXCEPTIONS,
        says=("could not be verified", "does not support ssl", "pkix", "certificate"),
    ),
    Rule(_socket_timeout, exceptions=("SocketTimeoutException",)),
    Rule(_login_timeout, says=("connection attempt timed out",)),
    Rule(_no_route, exceptions=("NoRouteToHostException",), says=("network is unreachable",)),
    Rule(
        _message(
            DatabaseConnectionError,
            "{where} refused the connection while {subject}: nothing accepts connections on port "
            "{port} of {host} (the server is down, or the host or port is wrong). Check "
            "postgres.connections[].host and port (or the secret's host and port) and that the "
            "server is running",
        ),
        says=("connection refused",),
    ),
    Rule(
        _message(
            DatabaseConnectionError,
            "host {host!r} of connection {name!r} does not resolve (DNS) while {subject}. Check "
            "the host name; inside a VPC check that DNS resolution is on (enableDnsSupport) and "
            "that the subnets reach a resolver",
        ),
        exceptions=("UnknownHostException",),
    ),
    Rule(
        _message(
            DatabaseConnectionLostError,
            "{where} was lost while {subject}: {message}. The server closed it or the network "
            "dropped it (a restart, failover, crash, or a proxy's idle timeout); retry the job "
            "once the server answers again",
        ),
        sqlstates=frozenset({"08006", "08003", "08007"}),
        exceptions=("EOFException", "SocketException"),
    ),
    Rule(
        _message(
            DatabaseConnectionError,
            "cannot reach {where} while {subject}: {message}. Check the host, port and TLS "
            "settings of the connection (docs/troubleshooting.md#postgresql-connection-timeout)",
        ),
        classes=frozenset({"08"}),
    ),
    Rule(
        _message(
            DatabasePermissionError,
            "permission denied on {where} while {subject}: {message}. Grant the user USAGE on the "
            "schema and SELECT on the table (GRANT SELECT ON <table> TO <user>)",
        ),
        sqlstates=frozenset({"42501"}),
    ),
    Rule(
        _message(
            TableNotFoundError,
            "{subject} on {where}: {message}",
        ),
        sqlstates=frozenset({"42P01", "3F000"}),
    ),
    Rule(
        _message(
            DatabaseConnectionError,
            "{where}: {message}; check postgres.connections[].database (or dbname in the secret)",
        ),
        sqlstates=frozenset({"3D000"}),
    ),
    Rule(
        _message(
            DatabaseConnectionError,
            "{where} has no free connection slots while {subject}: {message}. Lower the "
            "connection's max_connections (every Spark partition is a connection)",
        ),
        sqlstates=frozenset({"53300"}),
    ),
    Rule(_not_populated, sqlstates=frozenset({"55000"})),
    Rule(_snapshot, sqlstates=frozenset({"22023", "0A000"})),
    Rule(
        _message(
            QueryError,
            "{subject} failed on {where}: {message}",
        ),
        classes=frozenset({"42", "22"}),
    ),
    Rule(_driver_missing, exceptions=("ClassNotFoundException",), says=("ClassNotFoundException",)),
)
"""The kinds of failure, in the order they are tried."""


def _planned_subject(what: str) -> str:
    """``aurora.public.t`` from ``planning aurora.public.t``: the table being planned."""
    planned = what[len("planning ") :] if what.startswith("planning ") else ""
    return "a table the query reads" if not planned or planned.startswith("query ") else planned


def _shorten(sql: Optional[str], limit: int = 200) -> str:
    text = " ".join((sql or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
