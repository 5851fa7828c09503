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
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from connectors.errors import (
    DatabaseAuthenticationError,
    DatabaseConnectionError,
    DatabaseError,
    DatabasePermissionError,
    JdbcDriverNotFoundError,
    QueryError,
    SnapshotError,
    TableNotFoundError,
)
from connectors.jdbc import (
    DRIVER_CLASS,
    Endpoint,
    driver_properties,
    jdbc_options,
    jdbc_url,
    resolve_endpoint,
)
from connectors.settings import ConnectionSettings
from spark_jobs.session import DRIVER_NOT_FOUND_ADVICE

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from connectors.secrets import Credentials

logger = logging.getLogger(__name__)

Row = Tuple[Any, ...]

_AUTH_STATES = {"28P01", "28000"}
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

    def __repr__(self) -> str:
        return f"JdbcSource({self.target.name!r}, {self.target.host_port})"

    def __call__(self, sql: str, params: Sequence[Any] = ()) -> List[Row]:
        return self.query(sql, params)

    def query(self, sql: str, params: Sequence[Any] = (), *, what: str = "") -> List[Row]:
        """Run ``sql`` with ``params`` and return all rows."""
        from py4j.protocol import Py4JJavaError

        try:
            statement = self._conn.prepareStatement(sql)
            try:
                for index, value in enumerate(params, start=1):
                    _bind(statement, index, value)
                if not statement.execute():
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
            raise translate_error(exc, self.target, what=what or "a metadata query") from None

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
            raise translate_error(exc, self.target, what=what or "a query") from None

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
    return JdbcSource(spark, target, jconn)


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


def sql_exception_of(exc: BaseException) -> Tuple[Optional[str], str]:
    """(SQLSTATE, message) of the first ``java.sql.SQLException`` in a py4j error's cause chain;
    (None, the Java exception's text) when there is none."""
    java = getattr(exc, "java_exception", None)
    first_message = ""
    seen = 0
    while java is not None and seen < 20:
        seen += 1
        try:
            name = str(java.getClass().getName())
            message = str(java.getMessage() or "")
        except Exception:  # pragma: no cover - a broken py4j object
            break
        first_message = first_message or f"{name}: {message}"
        if _is_sql_exception(java):
            return (str(java.getSQLState()) if java.getSQLState() else None), message
        java = java.getCause()
    return None, first_message or str(exc).splitlines()[0]


def _is_sql_exception(java: Any) -> bool:
    cls = java.getClass()
    while cls is not None:
        if str(cls.getName()) == "java.sql.SQLException":
            return True
        cls = cls.getSuperclass()
    return False


def translate_error(
    exc: BaseException,
    target: JdbcTarget,
    *,
    what: str,
    table: Optional[str] = None,
) -> DatabaseError:
    """A sparkpg :class:`DatabaseError` for a pgjdbc failure, naming the connection, the table
    (when known) and the cause, with the fix; never the password."""
    sqlstate, message = sql_exception_of(exc)
    message = " ".join(target.redact(message).split()).rstrip(".")
    where = f"connection {target.name!r} ({target.host_port})"
    subject = f"{what} {table}" if table else what
    port = target.host_port.rsplit(":", 1)[-1]
    if sqlstate in _AUTH_STATES:
        return DatabaseAuthenticationError(
            f"{where} rejected user {target.credentials.username!r} while {subject}: {message}.",
            sqlstate=sqlstate,
        )
    if sqlstate is not None and sqlstate.startswith(_CONNECTION_STATES_PREFIX):
        return DatabaseConnectionError(
            f"cannot reach {where} while {subject}: {message}. {_SG_ADVICE.format(port=port)}",
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
