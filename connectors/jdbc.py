"""Pure functions that turn a connection's settings into a pgjdbc URL, its connection properties
and Spark JDBC options.

Credentials go in the properties (``user``/``password``), never in the URL. Identifiers are quoted
for PostgreSQL or rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional
from urllib.parse import quote

from connectors.endpoints import (  # noqa: F401  (re-exported: the old import path)
    DEFAULT_DATABASE,
    DEFAULT_PORT,
    Endpoint,
    resolve_endpoint,
)
from connectors.errors import IdentifierError
from connectors.hosts import is_local_host
from connectors.iam import iam_signing
from connectors.settings import ConnectionSettings

if TYPE_CHECKING:  # no AWS code at import time: the model lives beside the Secrets Manager client
    from connectors.secrets import Credentials

#: The pgjdbc driver class (the one definition; the doctor's JAR check uses it too).
DRIVER_CLASS = "org.postgresql.Driver"
#: Spark's JDBC source's driver for an IAM connection: pgjdbc's, with the engine JAR's retry of a
#: refused cached token (the JAR is on the class path for IAM anyway: it holds the plugin).
IAM_DRIVER_CLASS = "io.sparkpg.engine.auth.IamRetryingDriver"
DEFAULT_SCHEMA = "public"
_MAX_IDENTIFIER_BYTES = 63

BINARY_TRANSFER_PROPERTY = "prepareThreshold"
"""pgjdbc property: ``-1`` makes every statement use binary transfer from its first execution."""


def effective_ssl_mode(connection: ConnectionSettings, host: str) -> str:
    """The sslmode to use: the configured one, else ``verify-full`` with a root certificate,
    ``require`` for any non-local host or an IAM connection, ``prefer`` only for loopback."""
    if connection.ssl_mode is not None:
        return connection.ssl_mode
    if connection.ssl_root_cert:
        return "verify-full"
    return "prefer" if is_local_host(host) and connection.auth_method != "iam" else "require"


def jdbc_url_parameters(connection: ConnectionSettings, endpoint: Endpoint) -> Dict[str, str]:
    """The pgjdbc parameters of the URL (never credentials), in a stable order."""
    params: Dict[str, str] = {"sslmode": effective_ssl_mode(connection, endpoint.host)}
    if connection.ssl_root_cert:
        params["sslrootcert"] = connection.ssl_root_cert
    params.update(
        connectTimeout=str(connection.connect_timeout_seconds),
        loginTimeout=str(connection.login_timeout_seconds),
        socketTimeout=str(connection.socket_timeout_seconds),
        tcpKeepAlive="true",
        ApplicationName=connection.application_name,
        # Every supported server is newer: pgjdbc then sends the application name with the
        # login instead of a SET after it (a round trip per connection, one per partition).
        assumeMinServerVersion="9.0",
    )
    if connection.read_only:
        params["readOnly"] = "true"
    # Aurora: a reader endpoint may resolve to the writer on a one-instance cluster, so prefer
    # (not require) a secondary; a cluster (writer) endpoint must reach the primary even right
    # after a failover, while DNS still points at the old writer.
    if endpoint.is_reader:
        params["targetServerType"] = "preferSecondary"
    elif endpoint.is_cluster_writer:
        params["targetServerType"] = "primary"
    params.update(connection.jdbc_properties)
    return params


def jdbc_url(
    connection: ConnectionSettings,
    credentials: Optional[Credentials] = None,
    *,
    endpoint: Optional[Endpoint] = None,
) -> str:
    """``jdbc:postgresql://host:port/database?params`` with IPv6 hosts bracketed and values encoded.

    ``endpoint`` is :func:`resolve_endpoint`'s result when the caller has it already.

    >>> from connectors.settings import ConnectionSettings
    >>> c = ConnectionSettings(name="db", host="::1", port=5433, database="my db", credentials_env="DB")
    >>> jdbc_url(c)
    'jdbc:postgresql://[::1]:5433/my%20db?sslmode=prefer&connectTimeout=10&loginTimeout=30&socketTimeout=300&tcpKeepAlive=true&ApplicationName=sparkpg&assumeMinServerVersion=9.0&readOnly=true'
    """
    endpoint = endpoint or resolve_endpoint(connection, credentials)
    host = endpoint.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    query = "&".join(
        f"{quote(key, safe='')}={quote(value, safe='')}"
        for key, value in jdbc_url_parameters(connection, endpoint).items()
    )
    return f"jdbc:postgresql://{host}:{endpoint.port}/{quote(endpoint.database, safe='')}?{query}"


def pgjdbc_properties(
    connection: ConnectionSettings, credentials: Credentials, *, binary_transfer: bool = True
) -> Dict[str, str]:
    """THE pgjdbc connection properties of ``connection`` (``user``, ``password`` and
    ``prepareThreshold``; everything else is in :func:`jdbc_url`): every connection sparkpg opens
    (driver-side planning, the COPY engine's reads and writes, Spark's JDBC source, the probe, the
    tests) is built from these. PASSWORD INCLUDED: never log them.

    An IAM connection (``auth_method: "iam"``) has no password here: pgjdbc asks the engine
    JAR's plugin (``authenticationPluginClassName``) for one at each login, and the plugin signs
    a token on that JVM for what :func:`connectors.iam.iam_signing` names.

    ``binary_transfer`` sets ``prepareThreshold=-1`` (binary protocol from the first execution,
    faster for wide numeric and timestamp columns) unless the connection's ``jdbc_properties``
    choose a ``prepareThreshold`` of their own (the URL carries it and wins).
    """
    properties = {"user": credentials.username}
    if connection.auth_method == "iam":
        endpoint = resolve_endpoint(connection, credentials)
        properties.update(iam_signing(connection, endpoint).plugin_properties())
    else:
        properties["password"] = credentials.password.get_secret_value()
    if binary_transfer and BINARY_TRANSFER_PROPERTY not in connection.jdbc_properties:
        properties[BINARY_TRANSFER_PROPERTY] = "-1"
    return properties


def jdbc_options(
    connection: ConnectionSettings,
    credentials: Credentials,
    *,
    endpoint: Optional[Endpoint] = None,
    binary_transfer: bool = True,
    fetch_size: Optional[int] = None,
) -> Dict[str, str]:
    """The options of Spark's JDBC source for ``connection``: :func:`pgjdbc_properties` plus the
    Spark-only ``url``, ``driver`` (:data:`IAM_DRIVER_CLASS` for an IAM connection) and
    ``fetchsize`` (``fetch_size`` overrides the connection's rows per round trip). PASSWORD
    INCLUDED: never log them. Spark redacts option values whose key matches
    ``spark.redaction.regex`` (``password`` does) in plans and the UI.
    """
    return {
        "url": jdbc_url(connection, credentials, endpoint=endpoint),
        "driver": IAM_DRIVER_CLASS if connection.auth_method == "iam" else DRIVER_CLASS,
        "fetchsize": str(fetch_size or connection.fetch_size),
        **pgjdbc_properties(connection, credentials, binary_transfer=binary_transfer),
    }


CLIENT_CHECK_MIN_VERSION = 140000
"""``client_connection_check_interval`` exists from PostgreSQL 14 (``server_version_num``)."""


def session_settings(
    connection: ConnectionSettings, *, server_version_num: int, planning: bool
) -> Dict[str, str]:
    """The PostgreSQL settings sparkpg's sessions run with, by name: ``lock_timeout`` (planning
    and partition reads), ``statement_timeout`` (planning only: a partition streams as long as
    its table takes) and, from PostgreSQL 14, ``client_connection_check_interval``. A setting of
    0 is left out (the server's or role's own value applies).

    >>> from connectors.settings import ConnectionSettings
    >>> c = ConnectionSettings(name="db", host="h", credentials_env="DB")
    >>> session_settings(c, server_version_num=150004, planning=True)
    {'lock_timeout': '10s', 'statement_timeout': '60s', 'client_connection_check_interval': '10s'}
    >>> session_settings(c, server_version_num=130011, planning=False)
    {'lock_timeout': '10s'}
    """
    wanted = [("lock_timeout", connection.lock_timeout_seconds)]
    if planning:
        wanted.append(("statement_timeout", connection.statement_timeout_seconds))
    if server_version_num >= CLIENT_CHECK_MIN_VERSION:
        wanted.append(
            (
                "client_connection_check_interval",
                connection.client_connection_check_interval_seconds,
            )
        )
    return {name: f"{seconds}s" for name, seconds in wanted if seconds > 0}


def set_statements(settings: Dict[str, str], *, local: bool) -> List[str]:
    """``SET [LOCAL] name = 'value'`` for each of ``settings`` (names are ours, values quoted)."""
    scope = "SET LOCAL" if local else "SET"
    return [f"{scope} {name} = {quote_literal(value)}" for name, value in settings.items()]


def quote_ident(name: str) -> str:
    """Quote a PostgreSQL identifier: ``MixedCase Table`` -> ``"MixedCase Table"``, ``a"b`` -> ``"a""b"``.

    Rejects what PostgreSQL cannot store: empty names, NUL, more than 63 bytes.
    """
    if not name:
        raise IdentifierError("empty identifier: give a schema, table or column name")
    if "\x00" in name:
        raise IdentifierError(f"identifier {name!r} contains a NUL character")
    if len(name.encode("utf-8")) > _MAX_IDENTIFIER_BYTES:
        raise IdentifierError(
            f"identifier {name!r} is longer than PostgreSQL's {_MAX_IDENTIFIER_BYTES} bytes"
        )
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a SQL string literal (standard_conforming_strings, PostgreSQL's default since 9.1)."""
    if "\x00" in value:
        raise IdentifierError("a string literal may not contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class TableRef:
    """``connection.schema.table`` as the user wrote it; parts may be double-quoted."""

    connection: str
    schema: str
    table: str

    @classmethod
    def parse(cls, ref: str, *, default_schema: str = DEFAULT_SCHEMA) -> TableRef:
        """Parse ``conn.schema.table`` or ``conn.table``; ``"My.Schema"`` and ``"a""b"`` are allowed.

        Unquoted parts keep their case (they name the table exactly as stored, like ``pg_class``).

        >>> TableRef.parse('aurora."Sales Data"."Orders"')
        TableRef(connection='aurora', schema='Sales Data', table='Orders')
        >>> TableRef.parse("aurora.orders").schema
        'public'
        """
        parts = _split_dotted(ref)
        if len(parts) == 2:
            parts.insert(1, default_schema)
        if len(parts) != 3:
            raise IdentifierError(
                f"table reference {ref!r} must be connection.schema.table or connection.table "
                '(quote parts that contain dots: aurora."my.schema".orders)'
            )
        return cls(*parts)

    @property
    def qualified_name(self) -> str:
        """``"schema"."table"``, safe to interpolate into SQL."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.table)}"

    @property
    def view_name(self) -> str:
        """The table name alone, for temp views and summaries."""
        return self.table

    def __str__(self) -> str:
        return ".".join(_display_part(part) for part in (self.connection, self.schema, self.table))


_PLAIN_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_$-]*")


def _display_part(part: str) -> str:
    return part if _PLAIN_PART.fullmatch(part) else quote_ident(part)


def _split_dotted(ref: str) -> List[str]:
    parts: List[str] = []
    i = 0
    while True:
        if i < len(ref) and ref[i] == '"':
            j, buf = i + 1, []
            while True:
                end = ref.find('"', j)
                if end < 0:
                    raise IdentifierError(f"unterminated quote in table reference {ref!r}")
                buf.append(ref[j:end])
                if ref.startswith('""', end):
                    buf.append('"')
                    j = end + 2
                    continue
                i = end + 1
                break
            part = "".join(buf)
        else:
            end = ref.find(".", i)
            end = len(ref) if end < 0 else end
            part = ref[i:end].strip()
            if '"' in part:
                raise IdentifierError(f"misplaced quote in table reference {ref!r}")
            i = end
        if not part:
            raise IdentifierError(f"empty part in table reference {ref!r}")
        quote_ident(part)  # validates length and characters
        parts.append(part)
        if i == len(ref):
            return parts
        if ref[i] != ".":
            raise IdentifierError(f"expected '.' after {part!r} in table reference {ref!r}")
        i += 1
