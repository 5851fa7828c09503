"""Where a connection points: host, port and database, from the settings and the secret (what
kind of host that is: :mod:`connectors.hosts`). Pure (no AWS, no JVM).

>>> from connectors.settings import ConnectionSettings
>>> resolve_endpoint(ConnectionSettings(name="db", host="::1", credentials_env="DB")).port
5432
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from connectors.errors import SettingsError
from connectors.hosts import host_kind, is_cluster_endpoint, is_reader_endpoint

if TYPE_CHECKING:
    from connectors.secrets import Credentials
    from connectors.settings import ConnectionSettings

DEFAULT_PORT = 5432
DEFAULT_DATABASE = "postgres"


@dataclass(frozen=True)
class Endpoint:
    """Where a connection points once settings and the secret are combined (settings win)."""

    host: str
    port: int
    database: str

    @property
    def kind(self) -> str:
        """:func:`host_kind` of the host."""
        return host_kind(self.host)

    @property
    def is_reader(self) -> bool:
        """True for an Aurora ``cluster-ro`` reader endpoint."""
        return is_reader_endpoint(self.host)

    @property
    def is_cluster_writer(self) -> bool:
        """True for an Aurora cluster (writer) endpoint."""
        return is_cluster_endpoint(self.host)


def resolve_endpoint(
    connection: ConnectionSettings, credentials: Optional[Credentials] = None
) -> Endpoint:
    """Host, port and database: from the settings, else from an RDS-format secret, else defaults."""
    secret_host = credentials.host if credentials else None
    host = connection.host or secret_host
    if not host:
        raise SettingsError(
            f"connection {connection.name!r} has no host: set postgres.connections[].host in the "
            "settings or use a secret in AWS's RDS format (with host, port, dbname)"
        )
    port = connection.port or (credentials.port if credentials else None) or DEFAULT_PORT
    database = (
        connection.database or (credentials.database if credentials else None) or DEFAULT_DATABASE
    )
    return Endpoint(host=host, port=port, database=database)
