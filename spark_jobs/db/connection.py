"""The driver-side connection, :class:`DriverConnection`: SQL on the Spark driver through the
JVM's pgjdbc, for planning, snapshots and a write's preparation.

It connects with exactly the URL and properties the engines use (:class:`DbTarget`), so TLS
settings and timeouts match and no Python database driver ships to EMR. Connecting happens
before any Spark job, so bad credentials, a missing table or a closed security group fail early,
with an error that names the table and the cause (:mod:`spark_jobs.db.failures`).

>>> connection = connect(spark, resolve_target(settings.connection("aurora")))  # doctest: +SKIP
>>> connection.query("SELECT relname FROM pg_class WHERE relname = ?", ["orders"])  # doctest: +SKIP
[('orders',)]
"""

from __future__ import annotations

import decimal
import logging
import struct
import threading
from contextlib import contextmanager
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
)

from connectors.errors import (
    DatabaseAuthenticationError,
    DatabaseError,
    EngineError,
    JdbcDriverNotFoundError,
)
from connectors.iam import PLUGIN_CLASS
from connectors.jdbc import DRIVER_CLASS, session_settings, set_statements
from spark_jobs.db.failures import translate_error
from spark_jobs.db.target import DbTarget, resolve_target
from spark_jobs.engine.java import encode_pairs, jvm_class, jvm_static, py4j_quiet, tagged
from spark_jobs.engine.session import DRIVER_NOT_FOUND_ADVICE

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

Row = Tuple[Any, ...]
#: The engine JAR's class that opens the planning connection, reads the server's version and
#: runs a query, each in one py4j call (results packed as :func:`decode_rows` reads them).
DRIVER_QUERIES_CLASS = "io.sparkpg.engine.DriverQueries"
_NULL = ord("n")
_CANCEL_WAIT_SECONDS = 5.0


class ResultColumn(NamedTuple):
    """A column of a query's result as pgjdbc describes it."""

    name: str
    type_name: str
    typmod: int


class DriverConnection:
    """An open pgjdbc connection in the driver JVM, for small metadata queries.

    Call it (``source(sql, params)``) or use :meth:`query`: a parameterised query (``?``
    placeholders) returning rows as tuples of Python values (text, int, float, bool, Decimal;
    other Java objects as their ``toString()``). Not for bulk data: a result crosses py4j whole.
    ``queries`` are the engine JAR's :data:`DRIVER_QUERIES_CLASS` calls (a query is one py4j
    call), or None without the JAR (one call per parameter, statement step and value).
    """

    def __init__(
        self, spark: SparkSession, target: DbTarget, jconn: Any, queries: Any = None
    ) -> None:
        self._spark = spark
        self.target = target
        self._conn = jconn
        self._queries = queries
        self._server_version: Optional[int] = None
        self._activity = "a metadata query"
        self._running = False

    def __repr__(self) -> str:
        return f"DriverConnection({self.target.name!r}, {self.target.host_port})"

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
            self._running = True
            try:
                if self._queries is not None:
                    encoded = self._queries.query(self._conn, sql, encode_parameters(params))
                    return decode_rows(encoded)
                return self._query_per_value(sql, params)
            except KeyboardInterrupt:
                self._interrupted()
                raise
            finally:
                self._running = False
        except Py4JJavaError as exc:
            raise translate_error(exc, self.target, what=what or self._activity, sql=sql) from None

    def _query_per_value(self, sql: str, params: Sequence[Any]) -> List[Row]:
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
        if not self._running:
            return
        try:
            self._conn.cancelQuery()
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
            if self._queries is not None:  # as pgjdbc read it when connecting: no query
                self._server_version = int(self._queries.server_version_num(self._conn))
            else:
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


def connect(
    spark: SparkSession, target: DbTarget, *, binary_transfer: bool = True
) -> DriverConnection:
    """Open a :class:`DriverConnection` to ``target``; the caller closes it. On a password failure
    (SQLSTATE 28P01) the secret is re-read once, in case it rotated, and the connection retried:
    the source's ``target`` is then the refreshed one (pass that on). An IAM connection is
    retried on the JVM instead, with a freshly signed token (``IamAuthPlugin.connectRetrying``)."""
    try:
        return _connect_once(spark, target, binary_transfer)
    except DatabaseAuthenticationError:
        if target.connection.auth_method == "iam":
            raise
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


def _connect_once(spark: SparkSession, target: DbTarget, binary_transfer: bool) -> DriverConnection:
    from py4j.protocol import Py4JJavaError

    jvm = spark.sparkContext._jvm
    assert jvm is not None
    if jvm_class(jvm, DRIVER_CLASS) is None:
        raise JdbcDriverNotFoundError(
            f"the PostgreSQL JDBC driver ({DRIVER_CLASS}) is not on the Spark driver's classpath. "
            f"{DRIVER_NOT_FOUND_ADVICE}"
        )
    queries = _driver_queries(jvm)
    properties = target.properties(binary_transfer=binary_transfer)
    try:
        with py4j_quiet():  # the properties carry the password
            if queries is not None:
                jconn = queries.connect(target.url, encode_pairs(properties))
            else:
                jconn = _connect_per_property(jvm, target, properties)
    except Py4JJavaError as exc:
        raise translate_error(exc, target, what="connecting") from None
    if jconn is None:  # pragma: no cover - the driver refuses URLs it does not handle
        raise DatabaseError(f"pgjdbc did not accept the URL of connection {target.name!r}")
    source = DriverConnection(spark, target, jconn, queries)
    try:
        settings = session_settings(
            target.connection, server_version_num=source.server_version_num, planning=True
        )
        if settings:
            source.execute("; ".join(set_statements(settings, local=False)), what="connecting")
    except BaseException:
        source.close()
        raise
    return source


def _connect_per_property(jvm: Any, target: DbTarget, properties: Dict[str, str]) -> Any:
    """The connection opened without the engine JAR: a py4j call per property."""
    if target.connection.auth_method == "iam":
        _iam_plugin(jvm)  # the token plugin is in the engine JAR: says how to add it
    props = jvm.java.util.Properties()
    for key, value in properties.items():
        props.setProperty(key, value)
    jconn = jvm_class(jvm, DRIVER_CLASS)().connect(target.url, props)
    for key in properties:  # not props.clear(): py4j's clear() pops one key per call
        del props[key]
    return jconn


class _DriverQueries(NamedTuple):
    """The static methods of :data:`DRIVER_QUERIES_CLASS` (naming one is a py4j call)."""

    connect: Any
    server_version_num: Any
    query: Any


#: The Java names of :class:`_DriverQueries`' fields, in their order.
_DRIVER_QUERIES_METHODS = ("connect", "serverVersionNum", "query")


def _driver_queries(jvm: Any) -> Optional[_DriverQueries]:
    """The engine JAR's driver-side calls (each looked up once per JVM); None without the JAR."""
    methods = [jvm_static(jvm, DRIVER_QUERIES_CLASS, m) for m in _DRIVER_QUERIES_METHODS]
    return None if any(m is None for m in methods) else _DriverQueries(*methods)


def _iam_plugin(jvm: Any) -> Any:
    """The engine JAR's IAM plugin class, or an :class:`EngineError` saying how to add the JAR."""
    plugin = jvm_class(jvm, PLUGIN_CLASS)
    if plugin is None:
        raise EngineError(
            f"connections with auth_method iam need {PLUGIN_CLASS} from the engine JAR on the "
            "classpath of every JVM that connects: run `make jvm` and add "
            "build/jvm/sparkpg-engine.jar to spark.jars (docs/auth.md)"
        )
    return plugin


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


def encode_parameters(values: Sequence[Any]) -> bytes:
    """``values`` as ``io.sparkpg.engine.DriverQueries`` reads a query's parameters (its Javadoc
    has the layout), typed as :func:`_bind` binds them."""
    items = [struct.pack(">i", len(values))]
    for value in values:
        if value is None:
            items.append(b"n")
        elif isinstance(value, bool):
            items.append(tagged(b"b", b"t" if value else b"f"))
        elif isinstance(value, int):
            items.append(tagged(b"i", str(value).encode("ascii")))
        elif isinstance(value, float):
            items.append(tagged(b"f", struct.pack(">d", value)))
        else:
            items.append(tagged(b"s", str(value).encode("utf-8")))
    return b"".join(items)


_DECODERS: Dict[int, Callable[[bytes], Any]] = {
    ord("s"): lambda raw: raw.decode("utf-8"),
    ord("i"): int,
    ord("f"): float,
    ord("d"): lambda raw: decimal.Decimal(raw.decode("ascii")),
    ord("b"): lambda raw: raw == b"t",
    ord("x"): bytes,
    ord("o"): lambda raw: raw.decode("utf-8"),
}


def decode_rows(data: bytes) -> List[Row]:
    """The rows ``io.sparkpg.engine.ResultRows`` packed into ``data`` (its Javadoc has the
    layout): the Python values :func:`_value` gives for the same pgjdbc values."""
    width, count = struct.unpack_from(">ii", data, 0)
    pos = 8
    rows: List[Row] = []
    for _ in range(count):
        row: List[Any] = []
        for _ in range(width):
            tag = data[pos]
            pos += 1
            if tag == _NULL:
                row.append(None)
                continue
            (length,) = struct.unpack_from(">i", data, pos)
            pos += 4
            row.append(_DECODERS[tag](data[pos : pos + length]))
            pos += length
        rows.append(tuple(row))
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} bytes after the last row of an encoded result")
    return rows


def _value(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, decimal.Decimal, bytes)):
        return value
    return str(value.toString())
