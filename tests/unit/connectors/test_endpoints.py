"""Host classification (connectors/hosts.py) and endpoint resolution (connectors/endpoints.py)."""

from __future__ import annotations

import pytest

from connectors.endpoints import Endpoint, resolve_endpoint
from connectors.errors import SettingsError
from connectors.hosts import host_kind, is_rds_host
from connectors.secrets import Credentials
from connectors.settings import ConnectionSettings

READER = "pg.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com"
WRITER = "pg.cluster-c8lobwtocefp.us-east-1.rds.amazonaws.com"
INSTANCE = "pg-1.c8lobwtocefp.us-east-1.rds.amazonaws.com"


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("localhost", "local"),
        ("127.0.0.1", "local"),
        ("::1", "local"),
        ("[::1]", "local"),
        (READER, "aurora-reader"),
        (READER.upper(), "aurora-reader"),
        (WRITER, "aurora-writer"),
        (INSTANCE, "rds"),
        ("pg.example.cn-north-1.rds.amazonaws.com.cn", "rds"),
        ("db.example.com", "other"),
        ("10.0.0.5", "other"),
    ],
)
def test_host_kind(host: str, kind: str) -> None:
    assert host_kind(host) == kind
    assert is_rds_host(host) == kind.startswith(("aurora", "rds"))


def test_endpoint_properties() -> None:
    assert Endpoint(READER, 5432, "postgres").is_reader
    assert not Endpoint(READER, 5432, "postgres").is_cluster_writer
    assert Endpoint(WRITER, 5432, "postgres").is_cluster_writer
    assert Endpoint(INSTANCE, 5432, "postgres").kind == "rds"


def test_resolve_endpoint_settings_win_then_secret_then_defaults() -> None:
    secret = Credentials(
        username="u", password="p", host=WRITER, port=6432, database="sales", source="test"
    )
    bare = ConnectionSettings(name="db", credentials_env="DB")
    assert resolve_endpoint(bare, secret) == Endpoint(WRITER, 6432, "sales")
    explicit = ConnectionSettings(name="db", host=READER, port=5433, credentials_env="DB")
    assert resolve_endpoint(explicit, secret) == Endpoint(READER, 5433, "sales")
    assert resolve_endpoint(explicit) == Endpoint(READER, 5433, "postgres")
    with pytest.raises(SettingsError, match="connection 'db' has no host"):
        resolve_endpoint(bare)


def test_old_import_path_still_works() -> None:
    from connectors import jdbc

    assert jdbc.Endpoint is Endpoint and jdbc.resolve_endpoint is resolve_endpoint
