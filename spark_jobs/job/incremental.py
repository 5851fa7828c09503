"""The main job's ``--incremental`` (docs/incremental.md): each table's changed rows since the
last successful run into that output, the state stored with the rows, never apart from them.

- ``--output``: each run adds one batch folder per table, ``<output>/<table>/batch=<seq>-<run>``,
  staged and published like any output (docs/output.md: one rename, or S3's copies and
  manifest), with the state file :data:`STATE_FILE` inside it. The state is the newest
  published batch's: a run that fails or is killed before its publication leaves the previous
  state and no batch. A run that finds no change publishes nothing.
- ``--write``: :mod:`spark_jobs.job.incremental_write`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, List, Optional, Union

from connectors.errors import IncrementalStateError, OutputError
from spark_jobs.job.actions import materialize
from spark_jobs.job.output import MANIFEST, S3_SCHEMES, HadoopStore, S3Store, parse_s3_path
from spark_jobs.job.summary import JobResult, TableOutcome, change_outcome
from spark_jobs.read.incremental_state import IncrementalState

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from connectors.settings import Settings
    from spark_jobs.job.options import JobOptions

logger = logging.getLogger(__name__)

BATCH_PREFIX = "batch="
"""Batch folders are ``batch=<sequence>-<run id>``: Spark reads ``<output>/<table>`` with a
``batch`` column that sorts in run order."""
STATE_FILE = "_sparkpg_incremental.json"
"""The state of a batch, inside it (a leading ``_``: Spark and Athena skip it as data)."""


def run_incremental(
    spark: SparkSession, settings: Settings, options: JobOptions, run_id: str
) -> JobResult:
    """Read each table's changes and store them with their state (see the module)."""
    if options.write:
        from spark_jobs.job.incremental_write import run_write

        return run_write(spark, settings, options)
    return _run_output(spark, settings, options, run_id)


def _run_output(
    spark: SparkSession, settings: Settings, options: JobOptions, run_id: str
) -> JobResult:
    from spark_jobs.job.output import OutputRun, store_for, table_targets
    from spark_jobs.read.incremental import read_changes

    assert options.output is not None
    files = state_files(spark, options.output)
    folders = table_targets(options.output, [(str(ref), ref.table) for ref in options.tables])
    newest = {label: newest_batch(files, folder) for label, folder in folders}
    previous = {
        label: None
        if options.incremental_reset or newest[label] is None
        else output_state(files, f"{folder}/{newest[label]}")
        for label, folder in folders
    }
    output = OutputRun(
        store_for(spark, options.output),
        [
            (label, f"{folder}/{next_batch(folder, newest[label], run_id)}")
            for label, folder in folders
        ],
        "errorifexists",
        run_id,
    )
    outcomes: List[TableOutcome] = []
    changed: List[str] = []
    try:
        for ref, (label, _) in zip(options.tables, folders):
            started = time.monotonic()
            with read_changes(
                spark, settings, ref, previous[label], options.read, cursor=options.cursor
            ) as changes:
                rows = materialize(changes.dataframe, options, output, label, [changes.loaded])
            seconds = time.monotonic() - started
            target = output.targets[label]
            if rows or changes.full:
                files.write_text(f"{target.staging}/{STATE_FILE}", changes.state.to_json())
                changed.append(label)
                outcomes.append(change_outcome(changes, rows, seconds, target.path))
            else:
                output.discard_unfinished(label)
                kept = "no change: no batch, state kept"
                outcomes.append(change_outcome(changes, rows, seconds, "", kept))
        for label, folder in folders:  # another run published meanwhile: its state is newer
            now = newest_batch(files, folder)
            if label in changed and now != newest[label]:
                raise OutputError(
                    f"another run published {folder}/{now} while this one ran: nothing of this "
                    "run is published (one incremental run at a time per output); run again"
                )
        output.publish(changed)
    except BaseException:
        output.abort()
        raise
    return JobResult(tuple(outcomes))


def newest_batch(files: StateStore, folder: str) -> Optional[str]:
    """The newest published batch in ``folder`` (None: none yet, a first run). Hidden names
    (a killed run's staging) are ignored; anything else than batches is refused."""
    if not files.exists(folder):
        return None
    names = [n for n in files.list_names(folder) if not n.startswith(("_", "."))]
    others = [n for n in names if not n.startswith(BATCH_PREFIX)]
    if others:
        raise OutputError(
            f"{folder} holds {others[0]}, not an incremental batch ({BATCH_PREFIX}...): it is "
            "not an incremental output; give --incremental another --output"
        )
    published = sorted(n for n in names if files.published(f"{folder}/{n}"))
    return published[-1] if published else None


def next_batch(folder: str, newest: Optional[str], run_id: str) -> str:
    """The name of this run's batch: ``batch=<sequence>-<run id>``, the sequence one more than
    the newest batch's (so batches sort in run order whatever the clocks)."""
    if newest is None:
        return f"{BATCH_PREFIX}{1:08d}-{run_id}"
    number = newest[len(BATCH_PREFIX) :].split("-", 1)[0]
    if not number.isdigit():
        raise OutputError(
            f"{folder}/{newest} is not a batch of sparkpg's (batch=<sequence>-<run id>): give "
            "--incremental another --output"
        )
    return f"{BATCH_PREFIX}{int(number) + 1:08d}-{run_id}"


def output_state(files: StateStore, batch: str) -> IncrementalState:
    """The state stored in published ``batch``."""
    where = f"{batch}/{STATE_FILE}"
    text = files.read_text(where)
    if text is None:
        raise IncrementalStateError(
            f"{where} is missing: the batch has no state; read the table in full again with "
            "--incremental-reset into a new --output (docs/incremental.md)"
        )
    return IncrementalState.from_json(text, where)


class StateFiles(HadoopStore):
    """The state's file operations on a Hadoop file system (file://, hdfs://; the JVM's)."""

    def list_names(self, path: str) -> List[str]:
        """The names directly below folder ``path``."""
        fs, jpath = self._fs(path)
        return [str(status.getPath().getName()) for status in fs.listStatus(jpath)]

    def published(self, path: str) -> bool:
        """Whether batch ``path`` is complete (a renamed folder appears whole: always)."""
        return True

    def read_text(self, path: str) -> Optional[str]:
        """The text of file ``path``, None when it does not exist."""
        from py4j.protocol import Py4JJavaError

        fs, jpath = self._fs(path)
        if not fs.exists(jpath):
            return None
        stream = fs.open(jpath)
        try:
            return str(self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
        except Py4JJavaError as exc:
            cause = exc.java_exception.toString() if exc.java_exception is not None else exc
            raise IncrementalStateError(
                f"cannot read the incremental state {path}: {cause}: restore it, or read the "
                "table in full with --incremental-reset into a new --output"
            ) from None
        finally:
            stream.close()

    def write_text(self, path: str, text: str) -> None:
        """Create file ``path`` holding ``text`` (refused when it exists)."""
        fs, jpath = self._fs(path)
        stream = fs.create(jpath, False)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()


class S3StateFiles(S3Store):
    """The same on S3 (boto3): a batch counts once its manifest is written (docs/output.md)."""

    def list_names(self, path: str) -> List[str]:
        """The names directly below prefix ``path``."""
        bucket, prefix = parse_s3_path(path)
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix + "/", Delimiter="/"
        )
        names: List[str] = []
        for page in pages:  # sub-prefixes ("folders") and the objects right below
            names += [
                p["Prefix"][len(prefix) + 1 :].rstrip("/") for p in page.get("CommonPrefixes", ())
            ]
            names += [o["Key"][len(prefix) + 1 :] for o in page.get("Contents", ())]
        return names

    def published(self, path: str) -> bool:
        """Whether batch ``path`` has its manifest (written last by the publication)."""
        return self.read_text(f"{path}/{MANIFEST}") is not None

    def read_text(self, path: str) -> Optional[str]:
        """The text of object ``path``, None when it does not exist."""
        bucket, key = parse_s3_path(path)
        try:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        except self.client.exceptions.NoSuchKey:
            return None
        return str(body.read().decode("utf-8"))

    def write_text(self, path: str, text: str) -> None:
        """Write object ``path`` holding ``text``."""
        bucket, key = parse_s3_path(path)
        self.client.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))


StateStore = Union[StateFiles, S3StateFiles]


def state_files(spark: SparkSession, path: str) -> StateStore:
    """The state's file operations for ``path`` (S3 or a Hadoop file system)."""
    return S3StateFiles() if path.startswith(S3_SCHEMES) else StateFiles(spark)
