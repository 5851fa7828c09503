"""Shared fixtures: a real PostgreSQL server and one moto server per session, no way to reach AWS."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator, List

import psycopg
import pytest

from devtools.moto_server import moto_server
from devtools.postgres_server import PostgresServer, PostgresServerError, postgres_server
from tests.moto_support import reset_moto

_INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """Mark tests under tests/integration/ and tests using the server as ``integration``."""
    for item in items:
        in_dir = _INTEGRATION_DIR in Path(str(item.path)).parents
        uses_server = {"postgres", "pg_admin"} & set(getattr(item, "fixturenames", ()))
        if (in_dir or uses_server) and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fake credentials and region, no profile, no endpoint override, no config files."""
    for name in list(os.environ):
        if name == "AWS_PROFILE" or name.startswith(("AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE")):
            monkeypatch.delenv(name)
    no_file = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(no_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(no_file))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server with TLS for the whole session (see devtools/postgres_server.py).

    Never skips: when no server can be started the tests that need one fail (in CI and locally).
    """
    try:
        with postgres_server(tls=True) as server:
            yield server
    except PostgresServerError as exc:
        where = "in CI" if os.environ.get("CI") else "locally"
        pytest.fail(f"cannot start the test PostgreSQL server ({where}):\n{exc}", pytrace=False)


@pytest.fixture(scope="session")
def pg_admin(postgres: PostgresServer) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection (autocommit) for setting up test data."""
    with psycopg.connect(postgres.conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def jdbc_jar() -> Path:
    """The PostgreSQL JDBC JAR the tests use: ``SPARKPG_JDBC_JAR`` or the newest in ``~/.m2``."""
    from_env = os.environ.get("SPARKPG_JDBC_JAR")
    if from_env:
        return Path(from_env)
    jars = sorted(
        (Path.home() / ".m2/repository/org/postgresql/postgresql").glob("*/postgresql-*.jar"),
        key=lambda p: tuple(int(x) for x in p.parent.name.split(".") if x.isdigit()),
    )
    if not jars:
        pytest.fail("no PostgreSQL JDBC JAR: set SPARKPG_JDBC_JAR or populate ~/.m2", pytrace=False)
    return jars[-1]


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """The one patched moto server of the session (devtools/moto_server.py), started on first use.

    Tests that need an empty account use :func:`moto_env` (or reset with
    :func:`tests.moto_support.reset_moto`). Without its default AMIs moto's EC2 backend resets in a
    fraction of a second; the variable is set for the server's start only.
    """
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
            url = stack.enter_context(moto_server())
        yield url


@pytest.fixture()
def moto_env(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty moto account; sparkpg's clients and the test's boto3 clients talk to it.

    ``AWS_ENDPOINT_URL`` points at the server for the test (the autouse ``_fake_aws`` removes any
    other); sparkpg's client and credential caches are cleared before and after.
    """
    from connectors.aws import aws_client
    from connectors.secrets import clear_credentials_cache

    reset_moto(moto_server_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server_url)
    aws_client.cache_clear()
    clear_credentials_cache()
    yield moto_server_url
    aws_client.cache_clear()
    clear_credentials_cache()
