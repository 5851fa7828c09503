"""The resolved connection, :class:`DbTarget`: a connection's settings, credentials and
endpoint, looked up once and passed down to planning, loading and writing.

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Iterable, Optional, Union

from connectors.jdbc import (
    Endpoint,
    TableRef,
    jdbc_options,
    jdbc_url,
    pgjdbc_properties,
    resolve_endpoint,
)
from connectors.settings import ConnectionSettings, Settings

if TYPE_CHECKING:
    from connectors.secrets import Credentials


@dataclass(frozen=True)
class DbTarget:
    """A resolved connection: its settings, credentials and endpoint, looked up once per read.

    The password stays inside ``credentials`` (a ``SecretStr``) until :meth:`properties` is
    called;
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

    def properties(self, *, binary_transfer: bool = True) -> Dict[str, str]:
        """:func:`connectors.jdbc.pgjdbc_properties` of this connection, PASSWORD INCLUDED: pass
        them on, never log them."""
        return pgjdbc_properties(self.connection, self.credentials, binary_transfer=binary_transfer)

    def spark_jdbc_options(
        self, *, binary_transfer: bool = True, fetch_size: Optional[int] = None
    ) -> Dict[str, str]:
        """Spark's JDBC source options (:func:`connectors.jdbc.jdbc_options`), PASSWORD INCLUDED."""
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


def resolve_target(connection: ConnectionSettings, *, refresh: bool = False) -> DbTarget:
    """Resolve credentials (cached unless ``refresh``) and the endpoint of ``connection``."""
    from connectors.secrets import resolve_credentials

    credentials = resolve_credentials(connection, refresh=refresh)
    return DbTarget(connection, credentials, resolve_endpoint(connection, credentials))


def resolve_all_targets(
    settings: Settings, connections: Iterable[Union[str, TableRef]]
) -> Dict[str, DbTarget]:
    """Resolve every connection named in ``connections`` (names or table references) once,
    BEFORE Spark starts: unknown or disabled connections, unreadable secrets and settings
    without a host fail here, in a second instead of after the JVM's start. The credentials
    are cached for the process, so the reads that follow do not fetch them again.

    >>> targets = resolve_all_targets(settings, options.tables)  # doctest: +SKIP
    >>> spark = get_session(...)  # doctest: +SKIP

    Returns the targets by connection name (as the settings spell it).
    """
    targets: Dict[str, DbTarget] = {}
    for item in connections:
        connection = settings.connection(item.connection if isinstance(item, TableRef) else item)
        if connection.name not in targets:
            target = resolve_target(connection)
            target.url  # noqa: B018  (builds the URL: validates host, port, TLS settings)
            targets[connection.name] = target
    return targets
