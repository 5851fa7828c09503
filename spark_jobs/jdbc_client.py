"""The resolved connection (:class:`JdbcTarget`) and driver-side SQL through the JVM's pgjdbc.

A read resolves its connection once (:func:`resolve_target`: settings entry, credentials,
endpoint, URL) and passes that one value down to planning and loading. Catalog lookups, bounds
and snapshots run on the Spark driver through py4j with exactly the options of the Spark read
(:func:`connectors.jdbc.jdbc_options`), so TLS settings and timeouts match and no Python database
driver ships to EMR. Connecting happens before any Spark job, so bad credentials, a missing table
or a closed security group fail early, with an error that names the table and the cause.

>>> source = connect(spark, resolve_target(settings.connection("aurora")))  # doctest: +SKIP
>>> source.query("SELECT relname FROM pg_class WHERE relname = ?", ["orders"])  # doctest: +SKIP
[('orders',)]
"""

from __future__ import annotations

import decimal
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

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
from connectors.jdbc import (
    DRIVER_CLASS,
    Endpoint,
    TableRef,
    driver_properties,
    effective_ssl_mode,
    jdbc_options,
    jdbc_url,
    resolve_endpoint,
    session_settings,
    set_statements,
)
from connectors.settings import ConnectionSettings, Settings
from spark_jobs.session import DRIVER_NOT_FOUND_ADVICE

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from connectors.secrets import Credentials

logger = logging.getLogger(__name__)

Row = Tuple[Any, ...]

_AUTH_STATES = {"28P01", "28000"}
_CANCEL_WAIT_SECONDS = 5.0
_CONNECTION_STATES_PREFIX = "08"
_SG_ADVICE = (
    "Check that the host and port are right, that the database's security group allows inbound "
    "TCP {port} from the job's security group (on EMR Serverless: the application's "
    "network_configuration security group) and that the subnets can route to it "
    "(docs/troubleshooting.md#postgresql-connection-timeout)"
)


class ResultColumn(NamedTuple):
    """A column of a query's result as pgjdbc describes it."""

    name: str
    type_name: str
    typmod: int


@dataclass(frozen=True)
class JdbcTarget:
    """A resolved connection: its settings, credentials and endpoint, looked up once per read.

    The password stays inside ``credentials`` (a ``SecretStr``) until :meth:`options` is called;
    the repr shows the connection's name and endpoint only.
    """

    connection: ConnectionSettings = field(repr=False)
    credentials: Credentials = field(repr=False)
    endpoint: Endpoint

    @property
    def name(self) -> str:
        """The connection's name in the settings."""
        return self.connection.name

    @property
    def url(self) -> str:
        """The pgjdbc URL (no credentials in it)."""
        return jdbc_url(self.connection, self.credentials, endpoint=self.endpoint)

    @property
    def host_port(self) -> str:
        """``host:port`` of the endpoint, for messages."""
        return f"{self.endpoint.host}:{self.endpoint.port}"

    def options(
        self, *, binary_transfer: bool = True, fetch_size: Optional[int] = None
    ) -> Dict[str, str]:
        """:func:`connectors.jdbc.jdbc_options` of this connection, PASSWORD INCLUDED: pass them
        on, never log them."""
        return jdbc_options(
            self.connection,
            self.credentials,
            endpoint=self.endpoint,
            binary_transfer=binary_transfer,
            fetch_size=fetch_size,
        )

    def redact(self, text: str) -> str:
        """``text`` with the password replaced, for messages built from driver errors."""
        secret = self.credentials.password.get_secret_value()
        return text.replace(secret, "***") if secret else text


def resolve_target(connection: ConnectionSettings, *, refresh: bool = False) -> JdbcTarget:
    """Resolve credentials (cached unless ``refresh``) and the endpoint of ``connection``."""
    from connectors.secrets import resolve_credentials

    credentials = resolve_credentials(connection, refresh=refresh)
    return JdbcTarget(connection, credentials, resolve_endpoint(connection, credentials))


def resolve_all_targets(
    settings: Settings, connections: Iterable[Union[str, TableRef]]
) -> Dict[str, JdbcTarget]:
    """Resolve every connection named in ``connections`` (names or table references) once,
    BEFORE Spark starts: unknown or disabled connections, unreadable secrets and settings
    without a host fail here, in a second instead of after the JVM's start. The credentials
    are cached for the process, so the reads that follow do not fetch them again.

    >>> targets = resolve_all_targets(settings, options.tables)  # doctest: +SKIP
    >>> spark = get_session(...)  # doctest: +SKIP

    Returns the targets by connection name (as the settings spell it).
    """
    targets: Dict[str, JdbcTarget] = {}
    for item in connections:
        connection = settings.connection(item.connection if isinstance(item, TableRef) else item)
        if connection.name not in targets:
            target = resolve_target(connection)
            target.url  # noqa: B018  (builds the URL: validates host, port, TLS settings)
            targets[connection.name] = target
    return targets


class JdbcSource:
    """An open pgjdbc connection in the driver JVM, for small metadata queries.

    Call it (``source(sql, params)``) or use :meth:`query`: a parameterised query (``?``
    placeholders) returning rows as tuples of Python values (text, int, float, bool, Decimal;
    other Java objects as their ``toString()``). Not for bulk data: every value is one py4j call.
    """

    def __init__(self, spark: SparkSession, target: JdbcTarget, jconn: Any) -> None:
        self._spark = spark
        self.target = target
        self._conn = jconn
        self._server_version: Optional[int] = None
        self._activity = "a metadata query"
        self._running: Any = None

    def __repr__(self) -> str:
        return f"JdbcSource({self.target.name!r}, {self.target.host_port})"

    def __call__(self, sql: str, params: Sequence[Any] = ()) -> List[Row]:
        return self.query(sql, params)

    @contextmanager
    def activity(self, what: str) -> Iterator[None]:
        """Name what the queries inside the block do (``planning table aurora.public.t``): their
        errors say so, unless a query names its own ``what``."""
        saved, self._activity = self._activity, what
        try:
            yield
        finally:
            self._activity = saved

    def query(self, sql: str, params: Sequence[Any] = (), *, what: str = "") -> List[Row]:
        """Run ``sql`` with ``params`` and return all rows. Ctrl-C cancels the query on the
        server before the interrupt propagates."""
        from py4j.protocol import Py4JJavaError

        try:
            statement = self._conn.prepareStatement(sql)
            try:
                for index, value in enumerate(params, start=1):
                    _bind(statement, index, value)
                self._running = statement
                try:
                    has_rows = statement.execute()
                except KeyboardInterrupt:
                    self._interrupted()
                    raise
                finally:
                    self._running = None
                if not has_rows:
                    return []
                result = statement.getResultSet()
                width = result.getMetaData().getColumnCount()
                rows: List[Row] = []
                while result.next():
                    rows.append(tuple(_value(result.getObject(i)) for i in range(1, width + 1)))
                return rows
            finally:
                statement.close()
        except Py4JJavaError as exc:
            raise translate_error(exc, self.target, what=what or self._activity, sql=sql) from None

    def _interrupted(self) -> None:
        """Ctrl-C while the JVM runs our statement: this thread's py4j connection still waits
        for the statement's answer, so cancel from another thread (a fresh py4j connection),
        then drop this thread's connection so that its next call gets a fresh one too."""
        canceller = threading.Thread(target=self.cancel, name="sparkpg-cancel", daemon=True)
        canceller.start()
        canceller.join(_CANCEL_WAIT_SECONDS)
        client = getattr(self._spark.sparkContext._gateway, "_gateway_client", None)
        thread_connection = getattr(client, "get_thread_connection", None)
        connection = thread_connection() if thread_connection is not None else None
        if connection is not None:
            connection.close()

    def cancel(self) -> None:
        """Ask the server to cancel the running query, if any (pgjdbc sends a cancel request on a
        separate connection); errors are logged, not raised."""
        statement = self._running
        if statement is None:
            return
        try:
            statement.cancel()
            logger.info("%r: cancelled the running query", self)
        except Exception as exc:  # a broken py4j or JDBC connection: nothing left to cancel
            logger.debug("cancelling on %r failed: %s", self, type(exc).__name__)

    def execute(self, sql: str, *, what: str = "") -> None:
        """Run a statement that returns no rows."""
        self.query(sql, (), what=what)

    def result_columns(self, sql: str, *, what: str = "") -> List[ResultColumn]:
        """Name, PostgreSQL type name and ``numeric`` type modifier of each column of ``sql``'s
        result, from pgjdbc's result metadata (the statement is prepared, not run).

        pgjdbc reports a numeric column's precision (0 when unconstrained) and the raw scale bits
        of its type modifier; PostgreSQL's modifier is ``((precision << 16) | scale_bits) + 4``.
        Other and unconstrained columns get ``-1``.
        """
        from py4j.protocol import Py4JJavaError

        try:
            statement = self._conn.prepareStatement(sql)
            try:
                meta = statement.getMetaData()
                if meta is None:
                    return []
                columns = []
                for i in range(1, meta.getColumnCount() + 1):
                    type_name = str(meta.getColumnTypeName(i))
                    precision = int(meta.getPrecision(i))
                    typmod = -1
                    if type_name == "numeric" and precision > 0:
                        typmod = ((precision << 16) | int(meta.getScale(i))) + 4
                    columns.append(ResultColumn(str(meta.getColumnLabel(i)), type_name, typmod))
                return columns
            finally:
                statement.close()
        except Py4JJavaError as exc:
            raise translate_error(exc, self.target, what=what or self._activity, sql=sql) from None

    @property
    def server_version_num(self) -> int:
        """``server_version_num`` of the server (e.g. 150004)."""
        if self._server_version is None:
            rows = self.query("SELECT current_setting('server_version_num')::int")
            self._server_version = int(rows[0][0])
        return self._server_version

    def set_autocommit(self, enabled: bool) -> None:
        """Switch autocommit (off to hold a transaction open, e.g. for a snapshot)."""
        self._conn.setAutoCommit(enabled)

    def rollback(self) -> None:
        """End the current transaction."""
        self._conn.rollback()

    def close(self) -> None:
        """Close the connection (errors while closing are logged, not raised)."""
        try:
            self._conn.close()
        except Exception as exc:  # pragma: no cover - closing a broken connection
            logger.debug("closing %r failed: %s", self, type(exc).__name__)


def connect(spark: SparkSession, target: JdbcTarget, *, binary_transfer: bool = True) -> JdbcSource:
    """Open a :class:`JdbcSource` to ``target``; the caller closes it. On a password failure
    (SQLSTATE 28P01) the secret is re-read once, in case it rotated, and the connection retried:
    the source's ``target`` is then the refreshed one (pass that on)."""
    try:
        return _connect_once(spark, target, binary_transfer)
    except DatabaseAuthenticationError:
        logger.info(
            "connection %r: authentication failed; re-reading %s once in case it rotated",
            target.name,
            target.connection.credential_source,
        )
    target = resolve_target(target.connection, refresh=True)
    try:
        return _connect_once(spark, target, binary_transfer)
    except DatabaseAuthenticationError as exc:
        raise DatabaseAuthenticationError(
            f"{exc} The credentials were re-read once from "
            f"{target.connection.credential_source} in case the secret had rotated; check the "
            "user name and password stored there",
            sqlstate=exc.sqlstate,
        ) from None


def _connect_once(spark: SparkSession, target: JdbcTarget, binary_transfer: bool) -> JdbcSource:
    from py4j.protocol import Py4JError, Py4JJavaError

    jvm = spark.sparkContext._jvm
    assert jvm is not None
    try:
        driver = jvm.org.postgresql.Driver()
    except (Py4JError, TypeError):  # TypeError: py4j's JavaPackage is not callable
        raise JdbcDriverNotFoundError(
            f"the PostgreSQL JDBC driver ({DRIVER_CLASS}) is not on the Spark driver's classpath. "
            f"{DRIVER_NOT_FOUND_ADVICE}"
        ) from None
    try:
        with py4j_quiet():
            props = jvm.java.util.Properties()
            options = target.options(binary_transfer=binary_transfer)
            for key, value in driver_properties(options).items():
                props.setProperty(key, value)
            jconn = driver.connect(options["url"], props)
            props.clear()
    except Py4JJavaError as exc:
        raise translate_error(exc, target, what="connecting") from None
    if jconn is None:  # pragma: no cover - the driver refuses URLs it does not handle
        raise DatabaseError(f"pgjdbc did not accept the URL of connection {target.name!r}")
    source = JdbcSource(spark, target, jconn)
    try:
        version = int(jconn.getMetaData().getDatabaseMajorVersion()) * 10000
        settings = session_settings(target.connection, server_version_num=version, planning=True)
        if settings:
            source.execute("; ".join(set_statements(settings, local=False)), what="connecting")
    except BaseException:
        source.close()
        raise
    return source


_PY4J_LOGGERS = ("py4j", "py4j.clientserver", "py4j.java_gateway", "py4j.protocol")


@contextmanager
def py4j_quiet() -> Iterator[None]:
    """Silence py4j's DEBUG logging (it logs every command sent to the JVM, arguments included)
    while a password crosses the bridge; levels are restored afterwards."""
    saved = []
    for name in _PY4J_LOGGERS:
        log = logging.getLogger(name)
        saved.append((log, log.level))
        if log.getEffectiveLevel() < logging.INFO:
            log.setLevel(logging.INFO)
    try:
        yield
    finally:
        for log, level in saved:
            log.setLevel(level)


# --- errors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JavaFailure:
    """What a py4j error says, read from its Java cause chain (never its stack trace): the
    first ``java.sql.SQLException``'s SQLSTATE and message, and ``(class name, message)`` of
    every exception in the chain (``java.net.SocketTimeoutException``, SSL errors, ...)."""

    sqlstate: Optional[str]
    message: str
    chain: Tuple[Tuple[str, str], ...] = ()

    def has(self, *class_names: str) -> bool:
        """True when an exception in the chain is one of ``class_names`` (simple names)."""
        return any(name.rsplit(".", 1)[-1] in class_names for name, _ in self.chain)

    def says(self, *needles: str) -> bool:
        """True when a message in the chain contains one of ``needles`` (case-insensitive)."""
        text = " ".join([self.message, *(m for _, m in self.chain)]).lower()
        return any(needle.lower() in text for needle in needles)

    def message_of(self, *class_names: str) -> str:
        """The message of the first exception in the chain that is one of ``class_names``."""
        for name, message in self.chain:
            if name.rsplit(".", 1)[-1] in class_names:
                return message
        return ""


def failure_of(exc: BaseException) -> JavaFailure:
    """The :class:`JavaFailure` of a py4j error (Py4JJavaError, or a SparkException from an
    executor with the pgjdbc error as a cause); a Python exception gives its first line."""
    java = getattr(exc, "java_exception", None)
    chain: List[Tuple[str, str]] = []
    sql: Optional[Tuple[Optional[str], str]] = None
    while java is not None and len(chain) < 20:
        try:
            name = str(java.getClass().getName())
            message = " ".join(str(java.getMessage() or "").split())
            if sql is None and _is_sql_exception(java):
                state = java.getSQLState()
                sql = (str(state) if state else None), message
            java = java.getCause()
        except Exception:  # pragma: no cover - a broken py4j object
            break
        chain.append((name, message))
    if sql is not None:
        return JavaFailure(sql[0], sql[1], tuple(chain))
    if chain:
        name, message = chain[0]
        return JavaFailure(None, f"{name}: {message}", tuple(chain))
    lines = str(exc).strip().splitlines()
    return JavaFailure(None, lines[0] if lines else type(exc).__name__)


def sql_exception_of(exc: BaseException) -> Tuple[Optional[str], str]:
    """(SQLSTATE, message) of the first ``java.sql.SQLException`` in a py4j error's cause chain;
    (None, the Java exception's text) when there is none."""
    failure = failure_of(exc)
    return failure.sqlstate, failure.message


def _is_sql_exception(java: Any) -> bool:
    cls = java.getClass()
    while cls is not None:
        if str(cls.getName()) == "java.sql.SQLException":
            return True
        cls = cls.getSuperclass()
    return False


def is_database_failure(failure: JavaFailure) -> bool:
    """True when ``failure`` came from pgjdbc or the connection to the server (not Spark)."""
    return failure.sqlstate is not None or failure.has(*_NETWORK_EXCEPTIONS)


_NETWORK_EXCEPTIONS = (
    "SocketTimeoutException",
    "ConnectException",
    "UnknownHostException",
    "EOFException",
    "SocketException",
    "SSLException",
    "SSLHandshakeException",
)
_TLS_EXCEPTIONS = ("SSLException", "SSLHandshakeException", "CertificateException")
_TERMINATED_STATES = {
    "57P01": "the server terminated the session (administrator command, a shutdown or restart, "
    "an Aurora failover, or pg_terminate_backend)",
    "57P02": "the server crashed and restarted (crash shutdown)",
    "57P03": "the server is starting up or shutting down and does not accept connections yet",
}


def translate_error(
    exc: BaseException,
    target: JdbcTarget,
    *,
    what: str,
    table: Optional[str] = None,
    sql: Optional[str] = None,
) -> DatabaseError:
    """A sparkpg :class:`DatabaseError` for a pgjdbc failure, naming the connection, the table
    (when known) and the cause, with the fix; never the password nor a Java stack trace (that
    goes to the DEBUG log). ``sql``: the statement that failed, shown on a statement timeout."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("pgjdbc failure while %s: %s", what, target.redact(str(exc)))
    return classify_failure(failure_of(exc), target, what=what, table=table, sql=sql)


def classify_failure(
    failure: JavaFailure,
    target: JdbcTarget,
    *,
    what: str,
    table: Optional[str] = None,
    sql: Optional[str] = None,
) -> DatabaseError:
    """The :class:`DatabaseError` subclass and message for ``failure`` (see :func:`translate_error`)."""
    sqlstate = failure.sqlstate
    message = " ".join(target.redact(failure.message).split()).rstrip(".")
    conn = target.connection
    where = f"connection {target.name!r} ({target.host_port})"
    subject = f"{what} {table}" if table else what
    if sqlstate in _AUTH_STATES:
        return DatabaseAuthenticationError(
            f"{where} rejected user {target.credentials.username!r} while {subject}: {message}.",
            sqlstate=sqlstate,
        )
    if sqlstate == "55P03":
        locked = table or _planned_subject(what)
        return LockTimeoutError(
            f"{locked} is locked by another session: {where} waited "
            f"lock_timeout_seconds={conn.lock_timeout_seconds} for its lock while {subject} "
            f"({message}). A session holds (or waits for) a conflicting lock, typically ACCESS "
            "EXCLUSIVE from ALTER TABLE, TRUNCATE, DROP, VACUUM FULL, REFRESH MATERIALIZED VIEW "
            "or LOCK TABLE; find it with SELECT pid, state, query FROM pg_stat_activity WHERE pid "
            "IN (SELECT pid FROM pg_locks WHERE relation = '<schema>.<table>'::regclass AND "
            "granted), let it finish, or raise postgres.connections[].lock_timeout_seconds",
            sqlstate=sqlstate,
            setting="lock_timeout_seconds",
        )
    if sqlstate == "57014":
        if failure.says("statement timeout"):
            statement = f" (the query: {_shorten(sql)})" if sql else ""
            return StatementTimeoutError(
                f"a query ran longer than statement_timeout_seconds="
                f"{conn.statement_timeout_seconds} on {where} while {subject}{statement}. "
                "Planning queries are catalog lookups and one min/max of the key (fast with an "
                "index on it); give partitioning bounds or a key with an index, or raise "
                "postgres.connections[].statement_timeout_seconds",
                sqlstate=sqlstate,
                setting="statement_timeout_seconds",
            )
        return DatabaseError(
            f"{subject} was cancelled on {where}: {message} (a cancel request: Ctrl-C, or "
            "pg_cancel_backend by an administrator)",
            sqlstate=sqlstate,
        )
    if sqlstate in _TERMINATED_STATES:
        return DatabaseConnectionLostError(
            f"{where} ended the connection while {subject}: {_TERMINATED_STATES[sqlstate]} "
            f"({message}). Retry the job once the server is back (an Aurora failover takes "
            "about 30 seconds)",
            sqlstate=sqlstate,
        )
    if failure.has(*_TLS_EXCEPTIONS) or failure.says(
        "could not be verified", "does not support ssl", "pkix", "certificate"
    ):
        return DatabaseConnectionError(
            _tls_message(failure, target, where, subject), sqlstate=sqlstate
        )
    if failure.has("SocketTimeoutException"):
        if "connect" in failure.message_of("SocketTimeoutException").lower():
            return DatabaseConnectionError(
                f"cannot reach {where} while {subject}: the TCP connection timed out after "
                f"connect_timeout_seconds={conn.connect_timeout_seconds}. "
                f"{_SG_ADVICE.format(port=target.endpoint.port)}",
                sqlstate=sqlstate,
            )
        return DatabaseUnresponsiveError(
            f"{target.host_port} stopped answering: no data from the server for "
            f"socket_timeout_seconds={conn.socket_timeout_seconds} while {subject} ({where}). "
            "The server is frozen or overloaded, or the network to it is cut (a failover in "
            "progress?); check the server, then retry. If a query legitimately takes longer "
            "than that to return its first row (a large sort or aggregate), raise "
            "postgres.connections[].socket_timeout_seconds",
            sqlstate=sqlstate,
            setting="socket_timeout_seconds",
        )
    if failure.says("connection attempt timed out"):
        return DatabaseUnresponsiveError(
            f"{target.host_port} accepted the TCP connection but did not complete the PostgreSQL "
            f"handshake within login_timeout_seconds={conn.login_timeout_seconds} ({where}, "
            f"while {subject}): something other than PostgreSQL listens there (a proxy or load "
            "balancer without a healthy backend, a wrong port) or the server is overloaded. "
            "Check the host and port, or raise postgres.connections[].login_timeout_seconds",
            sqlstate=sqlstate,
            setting="login_timeout_seconds",
        )
    if failure.has("NoRouteToHostException") or failure.says("network is unreachable"):
        return DatabaseConnectionError(
            f"no network route to {where} while {subject}: "
            f"{failure.message_of('ConnectException', 'NoRouteToHostException') or message}. "
            f"{_SG_ADVICE.format(port=target.endpoint.port)}",
            sqlstate=sqlstate,
        )
    if failure.says("connection refused"):
        return DatabaseConnectionError(
            f"{where} refused the connection while {subject}: nothing accepts connections on "
            f"port {target.endpoint.port} of {target.endpoint.host} (the server is down, or "
            "the host or port is wrong). Check postgres.connections[].host and port (or the "
            "secret's host and port) and that the server is running",
            sqlstate=sqlstate,
        )
    if failure.has("UnknownHostException"):
        return DatabaseConnectionError(
            f"host {target.endpoint.host!r} of connection {target.name!r} does not resolve "
            f"(DNS) while {subject}. Check the host name; inside a VPC check that DNS "
            "resolution is on (enableDnsSupport) and that the subnets reach a resolver",
            sqlstate=sqlstate,
        )
    if sqlstate in ("08006", "08003", "08007") or failure.has("EOFException", "SocketException"):
        return DatabaseConnectionLostError(
            f"{where} was lost while {subject}: {message}. The server closed "
            "it or the network dropped it (a restart, failover, crash, or a proxy's idle "
            "timeout); retry the job once the server answers again",
            sqlstate=sqlstate,
        )
    if sqlstate is not None and sqlstate.startswith(_CONNECTION_STATES_PREFIX):
        return DatabaseConnectionError(
            f"cannot reach {where} while {subject}: {message}. Check the host, port and TLS "
            "settings of the connection (docs/troubleshooting.md#postgresql-connection-timeout)",
            sqlstate=sqlstate,
        )
    if sqlstate == "42501":
        return DatabasePermissionError(
            f"permission denied on {where} while {subject}: {message}. Grant the user USAGE on "
            "the schema and SELECT on the table (GRANT SELECT ON <table> TO <user>)",
            sqlstate=sqlstate,
        )
    if sqlstate in ("42P01", "3F000"):
        return TableNotFoundError(f"{subject} on {where}: {message}", sqlstate=sqlstate)
    if sqlstate == "3D000":
        return DatabaseConnectionError(
            f"{where}: {message}; check postgres.connections[].database (or dbname in the secret)",
            sqlstate=sqlstate,
        )
    if sqlstate == "53300":
        return DatabaseConnectionError(
            f"{where} has no free connection slots while {subject}: {message}. Lower the "
            "connection's max_connections (every Spark partition is a connection)",
            sqlstate=sqlstate,
        )
    if sqlstate == "55000" and failure.says("has not been populated"):
        return MaterializedViewNotPopulatedError(
            f"{subject} on {where}: {message}. Run REFRESH MATERIALIZED VIEW on it first",
            sqlstate=sqlstate,
        )
    if sqlstate in ("22023", "0A000") and "snapshot" in message.lower():
        return SnapshotError(
            f"{where} cannot use the exported snapshot while {subject}: {message}. Run every "
            "action on a snapshot read inside its `with consistent_snapshot(...)` block, against "
            "the primary (writer) endpoint",
            sqlstate=sqlstate,
        )
    if sqlstate is not None and sqlstate[:2] in ("42", "22"):
        return QueryError(f"{subject} failed on {where}: {message}", sqlstate=sqlstate)
    if sqlstate is None and "ClassNotFoundException" in message and "postgresql" in message:
        return JdbcDriverNotFoundError(f"{message}. {DRIVER_NOT_FOUND_ADVICE}")
    state = f" (SQLSTATE {sqlstate})" if sqlstate else ""
    return DatabaseError(f"{subject} failed on {where}{state}: {message}", sqlstate=sqlstate)


def _tls_message(failure: JavaFailure, target: JdbcTarget, where: str, subject: str) -> str:
    conn = target.connection
    mode = effective_ssl_mode(conn, target.endpoint.host)
    detail = target.redact(
        failure.message_of(*_TLS_EXCEPTIONS)
        or failure.message_of("PSQLException")
        or failure.message
    ).rstrip(".")
    if failure.says("could not be verified"):
        fix = (
            f"the server's certificate does not name host {target.endpoint.host!r}: connect with "
            "a host name the certificate carries (the RDS/Aurora endpoint name, not an IP "
            "address or a CNAME of it)"
        )
    elif failure.says("does not support ssl"):
        fix = "the server does not offer TLS; enable ssl on it (RDS/Aurora always offer it)"
    else:
        fix = (
            f"ssl_root_cert ({conn.ssl_root_cert or 'not set: the JVM default trust store'}) "
            "must be the CA bundle that signed the server's certificate (RDS/Aurora: "
            "global-bundle.pem) and must exist on the driver and on every executor"
        )
    return (
        f"TLS with {where} failed while {subject} (sslmode={mode}"
        f"{', sslrootcert=' + conn.ssl_root_cert if conn.ssl_root_cert else ''}): {detail}. "
        f"Check that {fix}"
    )


def _planned_subject(what: str) -> str:
    """``aurora.public.t`` from ``planning aurora.public.t``: the table being planned."""
    planned = what[len("planning ") :] if what.startswith("planning ") else ""
    return "a table the query reads" if not planned or planned.startswith("query ") else planned


def _shorten(sql: Optional[str], limit: int = 200) -> str:
    text = " ".join((sql or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- values -------------------------------------------------------------------------------------


def _bind(statement: Any, index: int, value: Any) -> None:
    if value is None:
        statement.setNull(index, 0)  # java.sql.Types.NULL: the server infers the type
    elif isinstance(value, bool):
        statement.setBoolean(index, value)
    elif isinstance(value, int):
        statement.setLong(index, value)
    elif isinstance(value, float):
        statement.setDouble(index, value)
    else:
        statement.setString(index, str(value))


def _value(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, decimal.Decimal)):
        return value
    return str(value.toString())
