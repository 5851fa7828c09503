"""Integration fixtures: one local Spark session for the whole run."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from connectors.settings import Settings, settings_from_dict
from devtools.postgres_server import PostgresServer


@pytest.fixture(scope="session")
def utc_process() -> Iterator[None]:
    """The process's zone is UTC for the session (Python-side datetimes of ``collect()`` use
    it); ``TZ`` and ``PYSPARK_PYTHON`` are restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "UTC")
        patch.setenv("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", sys.executable))
        time.tzset()
        try:
            yield
        finally:
            patch.undo()
            time.tzset()


@pytest.fixture(scope="session")
def spark(jdbc_jar: Path, utc_process: None) -> Iterator[Any]:
    """One ``local[2]`` SparkSession (the product's :func:`local_session`): JDBC JAR, UTC."""
    from spark_jobs.engine.session import local_session

    session = local_session(
        master="local[2]",
        jar=jdbc_jar,
        app_name="sparkpg-tests",
        conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.ui.enabled": "false",
            "spark.default.parallelism": "2",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def server_settings(
    postgres: PostgresServer, directory: Path, *, name: str, database: str
) -> Settings:
    """Settings with one connection ``name`` to ``database`` on the test server, as its superuser
    (credentials in a file under ``directory``), TLS verified when the server has a CA."""
    creds = directory / f"{name}-credentials.json"
    creds.write_text(json.dumps({"username": postgres.user, "password": postgres.password}))
    connection: Dict[str, Any] = {
        "name": name,
        "host": postgres.host,
        "port": postgres.port,
        "database": database,
        "credentials_file": str(creds),
        "fetch_size": 1000,
    }
    if postgres.ca_cert_path:
        connection.update(ssl_mode="verify-full", ssl_root_cert=str(postgres.ca_cert_path))
    else:
        connection.update(ssl_mode="disable")
    return settings_from_dict({"postgres": {"connections": [connection]}}, source="test")


@pytest.fixture(scope="module")
def types_settings(postgres: PostgresServer, tmp_path_factory: Any) -> Settings:
    """Settings with one connection ``types`` to the server's database, as the admin user."""
    return server_settings(
        postgres, tmp_path_factory.mktemp("types"), name="types", database=postgres.database
    )
