"""Integration fixtures: one local Spark session for the whole run."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest


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
    from spark_jobs.session import local_session

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
