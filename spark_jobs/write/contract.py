"""The contract between :func:`~spark_jobs.write.api.write_table` and the JVM write engine
(``io.sparkpg.engine.write.WriteSource``, ``jvm/README.md``): the options of one write, and
reading the engine's failure.

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Dict, Sequence

from connectors.errors import WriteFailedError, WriteRefusedError
from connectors.jdbc import TableRef, quote_literal
from spark_jobs.engine.java import engine_missing
from spark_jobs.engine.options import connection_options
from spark_jobs.write.columns import ColumnPair
from spark_jobs.write.staging import (
    FAILURE_TAG,
    STREAMING_MODES,
    TAG_COLUMN,
    Staging,
    commit_statements,
    move_sql,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from spark_jobs.db.target import DbTarget

WRITE_SOURCE = "io.sparkpg.engine.write.WriteSource"


#: What the engine says when the COMMIT itself failed (StagedWrite.COMMIT_OUTCOME_UNKNOWN).
COMMIT_OUTCOME_UNKNOWN = (
    "the connection was lost during the commit: whether the rows were committed is unknown"
)
#: Spark conf: COPY bytes per chunk (default 4 MiB, jvm/README.md): smaller chunks start the
#: moves sooner and leave less to move after the last task, at one commit per chunk.
CHUNK_BYTES_CONF = "spark.sparkpg.write.chunkBytes"


def save(df: DataFrame, options: Dict[str, str], ref: TableRef) -> None:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors.exceptions.captured import CapturedException

    try:
        df.write.format(WRITE_SOURCE).options(**options).mode("append").save()
    except (Py4JJavaError, CapturedException) as exc:
        missing = engine_missing(exc, f"the write engine ({WRITE_SOURCE})", "docs/writing.md")
        if missing:
            raise WriteFailedError(missing) from None
        java = getattr(exc, "java_exception", None)
        text = str(java if java is not None else exc)
        found = re.search(r"SQLSTATE (\w{5})", text)
        sqlstate = found.group(1) if found else None
        cause = _cause(text, str(ref))
        if cause.startswith(COMMIT_OUTCOME_UNKNOWN):
            raise WriteFailedError(
                f"writing {ref}: {cause}. Check the target before retrying (docs/writing.md, "
                '"When the server crashes mid-write")',
                sqlstate=sqlstate,
            ) from None
        hint = ""
        if sqlstate is not None and sqlstate.startswith("08"):
            hint = " (the connection to the server was lost: retry once it answers again)"
        raise WriteFailedError(
            f"writing {ref} failed, the target is unchanged: {cause}{hint}", sqlstate=sqlstate
        ) from None


_TRACEBACK = "Traceback (most recent call last):"


def _cause(text: str, label: str) -> str:
    """The engine's own message (it starts with the label), else the exception a Python
    function raised in a task (pyspark's text of it starts with an empty line), else the first
    line that is not empty."""
    lines = text.splitlines()
    for line in lines:
        at = line.find(label + ":")
        if at >= 0:
            return line[at + len(label) + 1 :].strip()
    for line in lines:
        at = line.find(label + " (task attempt")
        if at >= 0:
            return line[at:].strip()
    tracebacks = [i for i, line in enumerate(lines) if line.rstrip().endswith(_TRACEBACK)]
    if tracebacks:  # the exception is the traceback's first line that is not indented
        for line in lines[tracebacks[-1] + 1 :]:
            if line.strip() and not line[0].isspace():
                return f"a Python function raised {line.strip()}"
    return next((line.strip() for line in lines if line.strip()), text)


def chunk_option(spark: SparkSession) -> Dict[str, str]:
    """``chunkBytes`` from :data:`CHUNK_BYTES_CONF` when it is set (a positive integer)."""
    value = spark.conf.get(CHUNK_BYTES_CONF, None)
    if value is None:
        return {}
    if not value.strip().isdigit() or int(value) <= 0:
        raise WriteRefusedError(
            f"{CHUNK_BYTES_CONF}={value!r}: expected a positive number of bytes (e.g. 4194304)"
        )
    return {"chunkBytes": str(int(value))}


def engine_options(
    target: DbTarget,
    ref: TableRef,
    staging: Staging,
    pairs: Sequence[ColumnPair],
    mode: str,
    keys: Sequence[str],
) -> Dict[str, str]:
    """The write engine's options (jvm/README.md, "Writing"). PASSWORD INCLUDED."""
    staged = ", ".join(p.staging_name for p in pairs)
    options = connection_options(target.url, target.properties())
    options.update(
        {
            "copySql": f"COPY {staging.rows} ({staged}, {TAG_COLUMN}) FROM STDIN (FORMAT binary)",
            "tagged": "true",
            "commitSql": json.dumps(commit_statements(ref, mode)),
            "moveSql": move_sql(ref, staging, pairs, mode, keys),
            "dropSql": staging.drop_sql(),
            "label": str(ref),
        }
    )
    if mode in STREAMING_MODES:
        options.update(
            createSql=staging.chunk_create_sql(),
            copySql=f"COPY {staging.chunk} ({staged}) FROM STDIN (FORMAT binary, FREEZE)",
            tagged="false",
            chunkSql=f"INSERT INTO {staging.registry} (tag, partition_id) VALUES (?, ?)",
            pollSql=f"SELECT seq, tag, partition_id FROM {staging.registry} WHERE seq > ? "
            "ORDER BY seq",
            exactCount="true",
            failSql=f"INSERT INTO {staging.registry} (tag, partition_id, failure) "
            f"VALUES ({FAILURE_TAG}, -1, ?)",
            failedSql=f"SELECT failure FROM {staging.registry} WHERE tag = {FAILURE_TAG}",
            progressSql=f"SELECT setval({quote_literal(staging.progress)}, ?)",
            backlogSql=f"SELECT (SELECT max(seq) FROM {staging.registry}) - last_value "
            f"FROM {staging.progress}",
        )
    return options
