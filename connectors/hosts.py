"""What kind of host a connection's name is: the one place for host classification. Pure.

A host is one of:

- ``local``: loopback (``localhost``, ``127.0.0.0/8``, ``::1``), where TLS may be optional;
- ``aurora-reader``: an Aurora reader endpoint, ``<cluster>.cluster-ro-<id>.<region>.rds.amazonaws.com``;
- ``aurora-writer``: an Aurora cluster (writer) endpoint, ``<cluster>.cluster-<id>.<region>.rds...``;
- ``rds``: any other RDS/Aurora name (an instance or a custom endpoint), ``*.rds.amazonaws.com``;
- ``other``: anything else (a self-managed server, a proxy, a tunnel).

>>> host_kind("pg.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com")
'aurora-reader'
>>> region_of_host("pg.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com")
'us-east-1'
"""

from __future__ import annotations

import ipaddress
import re
from typing import Optional

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


_RDS_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.rds\.amazonaws\.com(?:\.cn)?\.?$", re.I)


def region_of_host(host: str) -> Optional[str]:
    """The AWS region in an RDS/Aurora endpoint name (``...c8lo.us-east-1.rds.amazonaws.com``)."""
    match = _RDS_REGION.search(host)
    return match.group(1).lower() if match else None
