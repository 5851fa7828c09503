"""Writes whose tasks fail on their first attempt, in their own Spark (``local[2,4]``: up to four
attempts per task), with the UI and an event log on: one write per mode, each to the table
``<TABLE_PREFIX>_<mode>`` (``insert-missing`` as ``insert_missing``). Run by
test_write_attempts.py::

    python -m tests.integration.write.attempts_job SETTINGS_JSON TABLE_PREFIX JDBC_JAR EVENT_LOG_DIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pyspark import TaskContext
from pyspark.sql.functions import udf
from pyspark.sql.types import LongType

from connectors.settings import load_settings
from spark_jobs.engine.session import local_session
from spark_jobs.write.api import write_table
from spark_jobs.write.contract import CHUNK_BYTES_CONF

ROWS = 2000
MODES = ("append", "overwrite", "upsert", "insert-missing")


def table_of(prefix: str, mode: str) -> str:
    """The table the job writes in ``mode``."""
    return f"{prefix}_{mode.replace('-', '_')}"


@udf(LongType())
def fail_first_attempt(value: int) -> int:
    """The value, after the task's first attempt has failed (mid-stream: chunks already committed,
    and given the time to be moved)."""
    context = TaskContext.get()
    if context is not None and context.attemptNumber() == 0 and value % 500 == 499:
        time.sleep(1)
        raise RuntimeError(f"first attempt of partition {context.partitionId()} fails")
    return value


def main(settings_path: str, prefix: str, jar: str, event_log: str) -> int:
    spark = local_session(
        master="local[2,4]",
        jar=Path(jar),
        app_name="sparkpg-write-attempts",
        conf={
            "spark.ui.enabled": "true",
            "spark.ui.port": "0",
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": event_log,
            "spark.sql.execution.arrow.pyspark.enabled": "false",
            CHUNK_BYTES_CONF: "2048",  # about 80 rows a chunk: the moves start mid-task
        },
    )
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
        "io.sparkpg.engine.write", jvm.org.apache.logging.log4j.Level.INFO
    )
    try:
        df = spark.range(0, ROWS, 1, 4).select(
            fail_first_attempt("id").alias("id"), (fail_first_attempt("id") * 2).alias("v")
        )
        settings = load_settings(settings_path)
        for mode in MODES:
            key = ["id"] if mode in ("upsert", "insert-missing") else None
            write_table(df, settings, table_of(prefix, mode), mode=mode, key=key)
        df.explain("extended")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
