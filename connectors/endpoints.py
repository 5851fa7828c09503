"""Where a connection points, and what kind of host that is: the one place for host classification.

Pure (no AWS, no JVM). A host is one of:

- ``local``: loopback (``localhost``, ``127.0.0.0/8``, ``::1``), where TLS may be optional;
- ``aurora-reader``: an Aurora reader endpoint, ``<cluster>.cluster-ro-<id>.<region>.rds.amazonaws.com``;
- ``aurora-writer``: an Aurora cluster (writer) endpoint, ``<cluster>.cluster-<id>.<region>.rds...``;
- ``rds``: any other RDS/Aurora name (an instance or a custom endpoint), ``*.rds.amazonaws.com``;
- ``other``: anything else (a self-managed server, a proxy, a tunnel).

>>> host_kind("pg.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com")
'aurora-reader'
>>> from connectors.settings import ConnectionSettings
>>> resolve_endpoint(ConnectionSettings(name="db", host="::1", credentials_env="DB")).port
5432
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from connectors.errors import SettingsError

if TYPE_CHECKING:
    from connectors.secrets import Credentials
    from connectors.settings import ConnectionSettings

DEFAULT_PORT = 5432
DEFAULT_DATABASE = "postgres"
_LOCAL_HOSTS = {"localhost", "localhost.localdomain"}
_RDS_HOST = re.compile(r"\.rds\.amazonaws\.com(\.cn)?\.?$", re.IGNORECASE)


def is_local_host(host: str) -> bool:
    """True for loopback hosts (``localhost``, ``127.0.0.0/8``, ``::1``), where TLS may be optional."""
    if host.lower() in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_reader_endpoint(host: str) -> bool:
    """True for an Aurora reader endpoint (``<cluster>.cluster-ro-<id>.<region>.rds.amazonaws.com``)."""
    return ".cluster-ro-" in host.lower()


def is_cluster_endpoint(host: str) -> bool:
    """True for an Aurora cluster (writer) endpoint: ``.cluster-`` but not ``.cluster-ro-``."""
    return ".cluster-" in host.lower() and not is_reader_endpoint(host)


def is_rds_host(host: str) -> bool:
    """True for an RDS/Aurora endpoint name (``*.rds.amazonaws.com``), whatever its kind."""
    return bool(_RDS_HOST.search(host))


def host_kind(host: str) -> str:
    """``local``, ``aurora-reader``, ``aurora-writer``, ``rds`` or ``other`` (see the module doc)."""
    if is_local_host(host):
        return "local"
    if is_reader_endpoint(host):
        return "aurora-reader"
    if is_cluster_endpoint(host):
        return "aurora-writer"
    return "rds" if is_rds_host(host) else "other"


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
