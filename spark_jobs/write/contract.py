"""The contract between :func:`~spark_jobs.write.api.write_table` and the JVM write engine
(``io.sparkpg.engine.write.WriteSource``, ``jvm/README.md``, "Writing"): one typed
:class:`WriteSpec` per write, which names its mode and renders exactly that mode's options, and
the reading of the engine's failure (``io.sparkpg.engine.write.WriteFailure``: fields read
through py4j, never message text) into the error users see. The sentences users read are all
here; the engine carries data.

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from connectors.errors import (
    DatabaseError,
    DatabaseTimeoutError,
    WriteFailedError,
    WriteRefusedError,
)
from connectors.jdbc import TableRef, quote_ident, quote_literal
from spark_jobs.db.failures import classify_failure
from spark_jobs.engine.java import JavaFailure, engine_missing, find_java, java_chain, py4j_quiet
from spark_jobs.engine.options import connection_options
from spark_jobs.write.columns import ColumnPair, staging_type
from spark_jobs.write.staging import (
    FAILURE_TAG,
    TAG_COLUMN,
    Staging,
    commit_statements,
    move_sql,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from spark_jobs.db.target import DbTarget

WRITE_SOURCE = "io.sparkpg.engine.write.WriteSource"
WRITE_FAILURE = "io.sparkpg.engine.write.WriteFailure"
PYTHON_EXCEPTION = "org.apache.spark.api.python.PythonException"

#: Each task COPYs into the target and commits on its own (``atomic=False``).
DIRECT = "direct"
#: Tasks stage tagged rows; the commit moves the committed attempts' rows in one statement
#: (upsert, insert-missing: a key twice in the DataFrame is an error, not "last one wins").
STAGED = "staged"
#: Tasks stage chunk tables that the driver moves while they run (append, overwrite).
STREAMED = "streamed"
ENGINE_MODES = (DIRECT, STAGED, STREAMED)

#: Spark conf: COPY bytes per chunk (default 4 MiB, jvm/README.md): smaller chunks start the
#: moves sooner and leave less to move after the last task, at one commit per chunk.
CHUNK_BYTES_CONF = "spark.sparkpg.write.chunkBytes"

_RECOVER = '(docs/writing.md, "When the server crashes mid-write")'
_REFUSALS = {
    "nul": "the string holds a NUL character (\\x00), which PostgreSQL text cannot hold: "
    "remove it in Spark, e.g. regexp_replace(col, '\\\\x00', '')",
    "not-utf8": "the string's bytes are not UTF-8 (a binary value cast to string?): fix the "
    "encoding in Spark, e.g. decode(binary_col, 'ISO-8859-1'), or write it as binary",
}


@dataclass(frozen=True)
class EngineColumn:
    """A DataFrame column as the engine sees it: its target column and, when rows are staged,
    its staging column and the type the move casts it to (empty: the cast cannot fail)."""

    frame: str
    target: str
    staged: str = ""
    cast: str = ""


@dataclass(frozen=True)
class Streaming:
    """The SQL of a streamed write's chunks: a chunk table's creation, the registry's
    statements, the back-pressure's look at the moves' progress (jvm/README.md)."""

    create_sql: str
    chunk_sql: str
    poll_sql: str
    fail_sql: str
    failed_sql: str
    progress_sql: str
    backlog_sql: str
    chunk_bytes: Optional[int] = None


@dataclass(frozen=True)
class WriteSpec:
    """One write as the engine runs it: its mode (:data:`DIRECT`, :data:`STAGED`,
    :data:`STREAMED`) and the SQL that mode needs, nothing else (:meth:`options`).

    >>> spec = WriteSpec(DIRECT, "it.s.t", "COPY t (a) FROM STDIN (FORMAT binary)",
    ...                  (EngineColumn("a", "a"),))
    >>> spec.options_of_mode()["mode"]
    'direct'
    """

    mode: str
    label: str
    copy_sql: str
    columns: Tuple[EngineColumn, ...]
    session_sql: Tuple[str, ...] = ()
    key: Tuple[str, ...] = ()
    commit_sql: Tuple[str, ...] = ()
    move_sql: str = ""
    rows_sql: str = ""
    streaming: Optional[Streaming] = None
    write_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.mode not in ENGINE_MODES:
            raise ValueError(f"mode={self.mode!r}: expected one of {', '.join(ENGINE_MODES)}")
        moves = self.mode != DIRECT
        if moves != bool(self.move_sql and self.rows_sql):
            raise ValueError(f"mode {self.mode!r}: move_sql and rows_sql go with staged rows only")
        if (self.mode == STREAMED) != (self.streaming is not None):
            raise ValueError(f"mode {self.mode!r}: streaming goes with mode 'streamed' only")

    def options_of_mode(self) -> Dict[str, str]:
        """The options of the mode, without the connection's."""
        options = {
            "mode": self.mode,
            "label": self.label,
            "writeId": self.write_id,
            "copySql": self.copy_sql,
            "columns": json.dumps(
                [
                    {"frame": c.frame, "target": c.target, "staged": c.staged, "cast": c.cast}
                    for c in self.columns
                ]
            ),
            "sessionSql": json.dumps(list(self.session_sql)),
        }
        if self.key:
            options["key"] = json.dumps(list(self.key))
        if self.mode != DIRECT:
            options.update(
                commitSql=json.dumps(list(self.commit_sql)),
                moveSql=self.move_sql,
                rowsSql=self.rows_sql,
            )
        if self.streaming is not None:
            s = self.streaming
            options.update(
                createSql=s.create_sql,
                chunkSql=s.chunk_sql,
                pollSql=s.poll_sql,
                failSql=s.fail_sql,
                failedSql=s.failed_sql,
                progressSql=s.progress_sql,
                backlogSql=s.backlog_sql,
            )
            if s.chunk_bytes is not None:
                options["chunkBytes"] = str(s.chunk_bytes)
        return options

    def options(self, target: DbTarget) -> Dict[str, str]:
        """The engine's options (jvm/README.md, "Writing"). PASSWORD INCLUDED."""
        options = connection_options(target.url, target.properties())
        options.update(self.options_of_mode())
        return options


def engine_columns(pairs: Sequence[ColumnPair], *, staged: bool) -> Tuple[EngineColumn, ...]:
    """The columns of a write; ``staged``: with staging names and the move's casts."""
    if not staged:
        return tuple(EngineColumn(p.spark_name, p.target.name) for p in pairs)
    return tuple(
        EngineColumn(
            p.spark_name,
            p.target.name,
            p.staging_name,
            ""
            if staging_type(p.spark_type, p.spark_name) == p.target.cast_sql
            else p.target.cast_sql,
        )
        for p in pairs
    )


def direct_spec(
    ref: TableRef, pairs: Sequence[ColumnPair], session_sql: Sequence[str]
) -> WriteSpec:
    """``atomic=False``: each task COPYs into the target."""
    names = ", ".join(quote_ident(p.target.name) for p in pairs)
    return WriteSpec(
        DIRECT,
        str(ref),
        f"COPY {ref.qualified_name} ({names}) FROM STDIN (FORMAT binary)",
        engine_columns(pairs, staged=False),
        tuple(session_sql),
    )


def atomic_spec(
    ref: TableRef,
    staging: Staging,
    pairs: Sequence[ColumnPair],
    mode: str,
    keys: Sequence[str],
    session_sql: Sequence[str],
    chunk_bytes: Optional[int] = None,
) -> WriteSpec:
    """An atomic write in ``mode`` (append, overwrite: :data:`STREAMED`; upsert, insert-missing:
    :data:`STAGED`) through ``staging``."""
    staged = ", ".join(p.staging_name for p in pairs)
    common = dict(
        label=str(ref),
        columns=engine_columns(pairs, staged=True),
        session_sql=tuple(session_sql),
        key=tuple(keys),
        commit_sql=tuple(commit_statements(ref, mode)),
        move_sql=move_sql(ref, staging, pairs, mode, keys),
    )
    if mode in ("upsert", "insert-missing"):
        return WriteSpec(
            STAGED,
            copy_sql=f"COPY {staging.rows} ({staged}, {TAG_COLUMN}) FROM STDIN (FORMAT binary)",
            rows_sql=f"{staging.rows} WHERE {TAG_COLUMN} = ANY ({{tags}})",
            **common,  # type: ignore[arg-type]
        )
    registry = staging.registry
    return WriteSpec(
        STREAMED,
        copy_sql=f"COPY {staging.chunk} ({staged}) FROM STDIN (FORMAT binary, FREEZE)",
        rows_sql=staging.chunk,
        streaming=Streaming(
            create_sql=staging.chunk_create_sql(),
            chunk_sql=f"INSERT INTO {registry} (tag, partition_id) VALUES (?, ?)",
            poll_sql=f"SELECT seq, tag, partition_id FROM {registry} WHERE seq > ? ORDER BY seq",
            fail_sql=f"INSERT INTO {registry} (tag, partition_id, failure) "
            f"VALUES ({FAILURE_TAG}, -1, ?)",
            failed_sql=f"SELECT failure FROM {registry} WHERE tag = {FAILURE_TAG}",
            progress_sql=f"SELECT setval({quote_literal(staging.progress)}, ?)",
            backlog_sql=f"SELECT (SELECT max(seq) FROM {registry}) - last_value "
            f"FROM {staging.progress}",
            chunk_bytes=chunk_bytes,
        ),
        **common,  # type: ignore[arg-type]
    )


def chunk_bytes(spark: SparkSession) -> Optional[int]:
    """:data:`CHUNK_BYTES_CONF` when it is set (a positive integer)."""
    value = spark.conf.get(CHUNK_BYTES_CONF, None)
    if value is None:
        return None
    if not value.strip().isdigit() or int(value) <= 0:
        raise WriteRefusedError(
            f"{CHUNK_BYTES_CONF}={value!r}: expected a positive number of bytes (e.g. 4194304)"
        )
    return int(value)


def save(df: DataFrame, spec: WriteSpec, target: DbTarget, ref: TableRef) -> None:
    """Run the write; a failure raises the error :func:`write_error` makes of it."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors.exceptions.captured import CapturedException

    try:
        with py4j_quiet():  # the options carry the password
            writer = df.write.format(WRITE_SOURCE).options(**spec.options(target))
        writer.mode("append").save()
    except (Py4JJavaError, CapturedException) as exc:
        outcome = _take_outcome(df.sparkSession, spec.write_id)
        raise write_error(exc, outcome, spec, target, ref) from None


def _take_outcome(spark: SparkSession, write_id: str) -> Any:
    jvm = spark.sparkContext._jvm
    try:
        return jvm.io.sparkpg.engine.write.WriteOutcomes.take(write_id)  # type: ignore[union-attr]
    except Exception:  # the engine is not loaded: nothing was recorded
        return None


def write_error(
    exc: BaseException, outcome: Any, spec: WriteSpec, target: DbTarget, ref: TableRef
) -> DatabaseError:
    """The error of a failed write: from the engine's :data:`WRITE_FAILURE` (the driver's move
    failure, recorded in ``outcome``, when the tasks only stopped because of it), a Python
    function that raised in a task, or the job's own failure (cancelled...)."""
    missing = engine_missing(exc, f"the write engine ({WRITE_SOURCE})", "docs/writing.md")
    if missing:
        return WriteFailedError(missing)
    failure = find_java(exc, WRITE_FAILURE)
    moved = outcome.getMoveFailure() if outcome is not None else None
    if moved is not None and (failure is None or str(failure.getPhase()) == "stopped"):
        failure = moved
    state = _text(failure.getSqlState()) if failure is not None else None
    if failure is not None and failure.outcomeUnknown():
        timeout = _timeout(failure, target, ref)
        why = _describe(failure) if timeout is None else str(timeout)
        return WriteFailedError(
            f"writing {ref}: the connection was lost during the commit: whether the rows were "
            f"committed is unknown: {why}. Check the target before retrying {_RECOVER}",
            sqlstate=state,
        )
    done = _direct_outcome(outcome) if spec.mode == DIRECT else "the target is unchanged"
    if failure is None:
        return WriteFailedError(f"writing {ref} failed, {done}: {_job_cause(exc)}")
    timeout = _timeout(failure, target, ref)
    if timeout is not None:
        return type(timeout)(
            f"{timeout}. The write failed, {done}", sqlstate=state, setting=timeout.setting
        )
    hint = ""
    if state is not None and state.startswith("08"):
        hint = " (the connection to the server was lost: retry once it answers again)"
    elif state == _TWICE_IN_ONE_COMMAND and spec.key:
        hint = (
            f": two DataFrame rows have the same key {list(spec.key)}: deduplicate the "
            'DataFrame on the key first (docs/writing.md, "Modes")'
        )
    return WriteFailedError(
        f"writing {ref} failed, {done}: {_phase(failure)}: {_describe(failure)}{hint}",
        sqlstate=state,
    )


_TWICE_IN_ONE_COMMAND = "21000"
"""``ON CONFLICT DO UPDATE command cannot affect row a second time``: a key twice in an upsert."""


def _text(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _direct_outcome(outcome: Any) -> str:
    """What a failed direct write may have left in the target, and how to recover."""
    partitions: List[int] = [] if outcome is None else list(outcome.getCommittedPartitions())
    how = (
        "remove this write's rows before writing again, or write with atomic=True (all rows or "
        "none; docs/writing.md)"
    )
    if not partitions:
        return (
            "atomic=False: no partition had committed its rows, but a task still running when "
            f"the job failed may have: check the target, and {how}"
        )
    rows = int(outcome.getCommittedRows())
    return (
        f"NOT atomic (atomic=False): the {rows} rows of partition(s) "
        f"{', '.join(str(p) for p in partitions)} were committed and stay in the target; {how}"
    )


def _phase(failure: Any) -> str:
    phase = str(failure.getPhase())
    if phase == "staging":
        return f"staging the rows of partition {int(failure.getPartitionId())} failed"
    if phase == "committing":
        return "the commit failed and was rolled back"
    return "a move into the target failed and was rolled back"


def _describe(failure: Any) -> str:
    """The failure's fields: the value's columns and row, the server's message, SQLSTATE,
    constraint and detail (the first offending key)."""
    parts = []
    frame, column = _text(failure.getDataFrameColumn()), _text(failure.getTargetColumn())
    if frame is not None:
        where = f"DataFrame column {frame!r} (target column {column!r})"
        key, value = _text(failure.getRowKey()), _text(failure.getValue())
        if key is not None:
            where += f" in the row {key}"
        if value is not None:
            where += f", value {value!r}"
        parts.append(where + ": ")
    elif column is not None:
        parts.append(f"target column {column!r}: ")
    refusal = _text(failure.getRefusal())
    parts.append(_REFUSALS[refusal] if refusal in _REFUSALS else str(failure.getServerMessage()))
    state, constraint = _text(failure.getSqlState()), _text(failure.getConstraint())
    if state is not None:
        parts.append(f" (SQLSTATE {state}" + (f", constraint {constraint})" if constraint else ")"))
    detail = _text(failure.getDetail())
    if detail is not None:
        parts.append(f": {detail}")
    return "".join(parts).rstrip(".")


def _timeout(failure: Any, target: DbTarget, ref: TableRef) -> Optional[DatabaseTimeoutError]:
    """A wait the connection's settings bound: the lock (``lock_timeout_seconds``) or the
    server's silence (``socket_timeout_seconds``: a task's socket timeout, or the engine's
    watchdog of the move and the COMMIT, which reports its abort as one)."""
    state, network = _text(failure.getSqlState()), _text(failure.getNetwork())
    if state != "55P03" and network != "SocketTimeoutException":
        return None
    message = str(failure.getServerMessage())
    chain = ((f"java.net.{network}", message),) if network else ()
    error = classify_failure(
        JavaFailure(state, message, chain), target, what="writing", table=str(ref)
    )
    return error if isinstance(error, DatabaseTimeoutError) else None


def _job_cause(exc: BaseException) -> str:
    """A Python function's exception (the last line of its traceback: its own text), else the
    first line of the job's failure (a cancelled job...)."""
    python = find_java(exc, PYTHON_EXCEPTION)
    text = str(python.getMessage()) if python is not None else None
    if text is None and type(exc).__name__ == "PythonException":  # pyspark's, from a UDF
        text = str(exc)
    if text is not None:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return f"a Python function raised {lines[-1] if lines else text}"
    chain = java_chain(exc)
    text = str(chain[0].getMessage()) if chain else str(exc)
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
