"""Shared fixtures: a real PostgreSQL server per session, and no way to reach AWS."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, List

import psycopg
import pytest

from devtools.postgres_server import PostgresServer, PostgresServerError, postgres_server

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
