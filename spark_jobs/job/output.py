"""Where the main job writes and how it replaces what was there (docs/output.md).

- :func:`output_folder`: a table's folder name, injective (the name itself when it is a safe path
  segment, else the sanitized name plus a hash of the original).
- :func:`plan_output`: the run's targets, refused before any work when two tables would land in
  the same folder or (``errorifexists``) a target already exists.
- :class:`OutputRun`: every mode but ``append`` writes each table to a staging location beside
  its target (unique per run) and publishes all of them only when every write has succeeded;
  on a failure the staging data is removed and the previous output is untouched.
- Stores: :class:`HadoopStore` (any Hadoop file system with an atomic directory rename: file://,
  hdfs://; renames through the JVM) and :class:`S3Store` (S3 has no rename: copy the staged
  objects in, write a manifest naming the new files, then delete the old ones; boto3).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set, Tuple

from connectors.errors import OutputError, SettingsError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

S3_SCHEMES = ("s3://", "s3a://", "s3n://")
MANIFEST = "_sparkpg_manifest.json"
"""The object :class:`S3Store` writes last into a published S3 target: the files of the
current output (readers that need one complete version list the target through it)."""
HASH_LENGTH = 10
_HIDDEN = "_."
"""Hadoop, Spark, Hive and Athena skip files and folders whose name starts with these."""


def _safe_char(char: str) -> bool:
    """Letters and digits of any script, ``_``, ``-`` and ``.``: valid in a local path segment
    and an S3 key, and not special to Hadoop's paths or Spark's globs."""
    return char.isalnum() or char in "_-."


def output_folder(name: str) -> str:
    """The folder of table ``name`` below ``--output``: ``name`` itself when it is a safe path
    segment (letters and digits of any script, ``_ - .``, not starting with ``_`` or ``.``, which
    readers treat as hidden), else the sanitized name (other characters as ``_``, no leading ``_``
    or ``.``), ``-`` and the first 10 hex digits of the name's SHA-256, so that different names
    get different folders and every folder is visible.

    >>> output_folder("orders"), output_folder("売上")
    ('orders', '売上')
    >>> output_folder("a b"), output_folder("a_b"), output_folder("_tmp")
    ('a_b-c8687a08aa', 'a_b', 'tmp-ca86e3ce54')
    """
    if name and name[0] not in _HIDDEN and all(_safe_char(c) for c in name):
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    readable = "".join(c if _safe_char(c) else "_" for c in name).lstrip(_HIDDEN)
    return f"{readable or 'table'}-{digest}"


def new_run_id() -> str:
    """A run id unique per run, sortable by time: ``20261201T235959Z-1a2b3c4d``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def check_output_base(output: str) -> str:
    """``output`` stripped of trailing slashes, a relative local path made absolute (from this
    process's folder: the JVM would resolve it from its own, which a caller may have left);
    refuses an empty one and a bare bucket/root (staging needs a parent folder beside the
    target)."""
    base = output.strip()
    if not base:
        raise SettingsError(
            f"--output {output!r} is empty: give a folder or s3://bucket/prefix, or leave "
            "--output out to only read (Spark's noop sink)"
        )
    trimmed = base.rstrip("/")
    scheme, _, rest = trimmed.rpartition("://")
    if not rest or (scheme and "/" not in rest) or trimmed in ("", "file:"):
        raise SettingsError(
            f"--output {output!r} is a bucket or file-system root: give a folder inside it "
            "(s3://bucket/out): the job stages its output in a folder beside the target"
        )
    if not scheme and not trimmed.startswith("/"):
        return os.path.abspath(trimmed)
    return trimmed


@dataclass(frozen=True)
class OutputTarget:
    """One folder the run writes: ``label`` (the table, or ``--sql result``), its final
    ``path``, and ``staging`` (where Spark writes it; the same as ``path`` for ``append``)."""

    label: str
    path: str
    staging: str


def staging_path(path: str, run_id: str) -> str:
    """The run's staging folder beside ``path``: ``<parent>/.<name>.sparkpg-staging-<run_id>``
    (a leading ``.``: Spark, Hive and Athena skip it when listing the parent)."""
    parent, sep, name = path.rpartition("/")
    return f"{parent}{sep}.{name}.sparkpg-staging-{run_id}"


def table_targets(base: str, labels_and_names: Sequence[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """``(label, base/folder)`` per table; refuses two tables whose folders are the same (or
    differ only in case: macOS and Windows file systems do not tell them apart), naming both."""
    seen: Dict[str, str] = {}
    targets = []
    for label, name in labels_and_names:
        folder = output_folder(name)
        other = seen.get(folder.lower())
        if other is not None:
            why = "are the same table" if other == label else f"would both write to {folder!r}"
            raise SettingsError(
                f"tables {other} and {label} {why} below --output {base}: give each table once "
                "(and read tables with the same name one job at a time, or use --sql)"
            )
        seen[folder.lower()] = label
        targets.append((label, f"{base}/{folder}"))
    return targets


class Store:
    """The file-system operations publishing needs (see :class:`HadoopStore`, :class:`S3Store`)."""

    def exists(self, path: str) -> bool:
        """Whether anything is stored at ``path`` (a folder with files, or a file)."""
        raise NotImplementedError

    def delete(self, path: str) -> None:
        """Delete ``path`` and everything below it (nothing there: no error)."""
        raise NotImplementedError

    def publish(self, pairs: Sequence[Tuple[str, str]], replace: bool) -> None:
        """Move each ``(staging, target)``: all or none. ``replace``: an existing target is
        replaced (else an existing target fails the publication)."""
        raise NotImplementedError


class HadoopStore(Store):
    """A Hadoop file system reached through the driver JVM (file://, hdfs://, ...): a directory
    rename is atomic, so publishing is two renames per target (target -> backup, staging ->
    target), rolled back on any failure; the backups are deleted at the end."""

    def __init__(self, spark: SparkSession) -> None:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        self._jvm = jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _fs(self, path: str) -> Tuple[Any, Any]:
        jpath = self._jvm.org.apache.hadoop.fs.Path(path)
        return jpath.getFileSystem(self._conf), jpath

    def exists(self, path: str) -> bool:
        fs, jpath = self._fs(path)
        return bool(fs.exists(jpath))

    def delete(self, path: str) -> None:
        fs, jpath = self._fs(path)
        if fs.exists(jpath):
            fs.delete(jpath, True)

    def _rename(self, source: str, target: str) -> None:
        from py4j.protocol import Py4JJavaError

        fs, jsource = self._fs(source)
        try:
            renamed = fs.rename(jsource, self._fs(target)[1])
        except Py4JJavaError as exc:
            cause = exc.java_exception.toString() if exc.java_exception is not None else exc
            raise OutputError(f"cannot rename {source} to {target}: {cause}") from None
        if not renamed:
            raise OutputError(f"cannot rename {source} to {target} (the file system refused)")

    def publish(self, pairs: Sequence[Tuple[str, str]], replace: bool) -> None:
        backups: List[Tuple[str, str]] = []  # (target, backup): previous outputs moved aside
        published: List[Tuple[str, str]] = []  # (staging, target): new outputs moved in
        try:
            for staging, target in pairs:
                if self.exists(target):
                    if not replace:
                        raise OutputError(f"{target} appeared while the job ran; nothing written")
                    backup = staging + "-previous"
                    self._rename(target, backup)
                    backups.append((target, backup))
                self._rename(staging, target)
                published.append((staging, target))
        except BaseException:
            self._roll_back(published, backups)
            raise
        for _, backup in backups:
            self.delete(backup)

    def _roll_back(self, published: List[Tuple[str, str]], backups: List[Tuple[str, str]]) -> None:
        """Undo a partial publication: new outputs back to staging, previous ones back."""
        for source, target in [
            *((t, s) for s, t in reversed(published)),
            *((b, t) for t, b in reversed(backups)),
        ]:
            try:
                self._rename(source, target)
            except Exception as exc:  # pragma: no cover - the file system failed twice
                logger.error("rolling back: moving %s to %s failed: %s", source, target, exc)


def parse_s3_path(path: str) -> Tuple[str, str]:
    """``(bucket, key prefix)`` of an ``s3://``, ``s3a://`` or ``s3n://`` path."""
    for scheme in S3_SCHEMES:
        if path.startswith(scheme):
            bucket, _, key = path[len(scheme) :].partition("/")
            return bucket, key.strip("/")
    raise ValueError(f"not an S3 path: {path!r}")


@dataclass
class S3Store(Store):
    """S3 through boto3. S3 has no rename, so a target is published in three steps, each table's
    step done for every target before the next step starts:

    1. copy every staged object into the target prefix (Spark's part files carry the write's
       UUID, so no old file is overwritten; ``_SUCCESS`` is copied last);
    2. write ``<target>/_sparkpg_manifest.json`` (one PUT: atomic) naming the new files;
    3. delete the target's previous objects.

    A failure in step 1 deletes the objects copied so far (every target keeps its previous
    output); in step 2 the previous manifests are restored. Readers listing the prefix see the
    previous files, then previous and new ones together while steps 1-3 run, then only the new
    ones; readers that follow the manifest switch from one complete version to the next at once.
    """

    client: Any = field(default=None)

    def __post_init__(self) -> None:
        if self.client is None:
            from connectors.aws import aws_client

            self.client = aws_client("s3")

    def _keys(self, path: str) -> List[str]:
        bucket, prefix = parse_s3_path(path)
        paginator = self.client.get_paginator("list_objects_v2")
        keys: List[str] = []
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/"):
            keys.extend(obj["Key"] for obj in page.get("Contents", ()))
        return keys

    def exists(self, path: str) -> bool:
        bucket, prefix = parse_s3_path(path)
        listed = self.client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/", MaxKeys=1)
        return bool(listed.get("KeyCount", 0))

    def delete(self, path: str) -> None:
        bucket, _ = parse_s3_path(path)
        self._delete_keys(bucket, self._keys(path))

    def _delete_keys(self, bucket: str, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": key} for key in keys[start : start + 1000]]
            reply = self.client.delete_objects(Bucket=bucket, Delete={"Objects": chunk})
            if reply.get("Errors"):
                first = reply["Errors"][0]
                raise OutputError(
                    f"cannot delete s3://{bucket}/{first.get('Key')}: {first.get('Message')}"
                )

    def publish(self, pairs: Sequence[Tuple[str, str]], replace: bool) -> None:
        steps = [_S3Swap.of(self, staging, target) for staging, target in pairs]
        for swap in steps:
            if swap.previous and not replace:
                raise OutputError(f"{swap.target} appeared while the job ran; nothing written")
        try:
            for swap in steps:
                swap.copy_in(self.client)
        except BaseException:
            for swap in steps:
                swap.remove_copies(self)
            raise
        written: List[_S3Swap] = []
        try:
            for swap in steps:
                swap.write_manifest(self.client)
                written.append(swap)
        except BaseException:
            for swap in written:
                swap.restore_manifest(self.client)
            for swap in steps:
                swap.remove_copies(self)
            raise
        for swap in steps:
            swap.delete_previous(self)
            self._delete_keys(swap.bucket, swap.staged)


@dataclass
class _S3Swap:
    """One target's publication on S3 (see :class:`S3Store`)."""

    target: str
    bucket: str
    prefix: str
    staged: List[str]
    staging_prefix: str
    previous: List[str]
    previous_manifest: Optional[bytes]
    copied: List[str] = field(default_factory=list)

    @classmethod
    def of(cls, store: S3Store, staging: str, target: str) -> _S3Swap:
        bucket, prefix = parse_s3_path(target)
        staged = store._keys(staging)
        if not staged:
            raise OutputError(f"nothing was staged at {staging}; {target} is unchanged")
        previous = store._keys(target)
        manifest: Optional[bytes] = None
        if f"{prefix}/{MANIFEST}" in previous:
            body = store.client.get_object(Bucket=bucket, Key=f"{prefix}/{MANIFEST}")["Body"]
            manifest = body.read()
        return cls(target, bucket, prefix, staged, parse_s3_path(staging)[1], previous, manifest)

    def _new_key(self, staged_key: str) -> str:
        return f"{self.prefix}/{staged_key[len(self.staging_prefix) + 1 :]}"

    def copy_in(self, client: Any) -> None:
        ordered = sorted(self.staged, key=lambda key: key.endswith("/_SUCCESS"))
        for key in ordered:
            new_key = self._new_key(key)
            client.copy({"Bucket": self.bucket, "Key": key}, self.bucket, new_key)
            self.copied.append(new_key)

    def remove_copies(self, store: S3Store) -> None:
        fresh = [key for key in self.copied if key not in self.previous]
        try:
            store._delete_keys(self.bucket, fresh)
            store._delete_keys(self.bucket, self.staged)
        except Exception as exc:  # pragma: no cover - S3 failed twice
            logger.error("cleaning up %s failed: %s", self.target, exc)

    def write_manifest(self, client: Any) -> None:
        files = sorted(key[len(self.prefix) + 1 :] for key in self.copied)
        body = json.dumps({"files": files, "format_version": 1}, indent=1).encode()
        client.put_object(Bucket=self.bucket, Key=f"{self.prefix}/{MANIFEST}", Body=body)

    def restore_manifest(self, client: Any) -> None:
        key = f"{self.prefix}/{MANIFEST}"
        try:
            if self.previous_manifest is None:
                client.delete_object(Bucket=self.bucket, Key=key)
            else:
                client.put_object(Bucket=self.bucket, Key=key, Body=self.previous_manifest)
        except Exception as exc:  # pragma: no cover - S3 failed twice
            logger.error("restoring %s failed: %s", key, exc)

    def delete_previous(self, store: S3Store) -> None:
        keep = set(self.copied) | {f"{self.prefix}/{MANIFEST}"}
        store._delete_keys(self.bucket, [key for key in self.previous if key not in keep])


def store_for(spark: SparkSession, path: str) -> Store:
    """The store of ``path``: :class:`S3Store` for s3://, s3a://, s3n://, else
    :class:`HadoopStore`."""
    if path.startswith(S3_SCHEMES):
        return S3Store()
    return HadoopStore(spark)


class OutputRun:
    """One run's output: where each target is written, and its publication or clean-up.

    ``mode`` is the job's save mode: ``errorifexists``/``error`` (refused before any work when a
    target exists), ``overwrite`` (replaced only when every write succeeded), ``ignore``
    (existing targets are kept and their tables skipped) go through staging; ``append`` writes
    into the targets directly (Spark's own commit per table: the tables appended before a
    failure stay appended) and on a failure removes the folder of an unfinished table if this
    run created it.
    """

    def __init__(
        self, store: Store, targets: Sequence[Tuple[str, str]], mode: str, run_id: str
    ) -> None:
        self.store = store
        self.mode = "errorifexists" if mode == "error" else mode
        self.run_id = run_id
        self.existing = {path for _, path in targets if store.exists(path)}
        if self.mode == "errorifexists" and self.existing:
            raise OutputError(
                f"{sorted(self.existing)[0]} already exists: use --mode overwrite to replace it "
                "(only once every table's write has succeeded) or --mode append"
            )
        self.finished: Set[str] = set()
        staged = self.mode != "append"
        self.targets = {
            label: OutputTarget(label, path, staging_path(path, run_id) if staged else path)
            for label, path in targets
        }

    def skips(self, label: str) -> bool:
        """Whether ``label``'s table is skipped (``ignore`` mode, its target exists)."""
        return self.mode == "ignore" and self.targets[label].path in self.existing

    def write_path(self, label: str) -> str:
        """Where Spark writes ``label``'s output (with Spark's ``errorifexists`` save mode when
        staged, else the job's mode)."""
        return self.targets[label].staging

    def mark_written(self, label: str) -> None:
        """Record that Spark's write of ``label`` has committed."""
        self.finished.add(label)

    def discard_unfinished(self, label: str) -> None:
        """Before writing ``label`` again after a failed attempt: remove what the attempt left
        (its staging folder; in append mode nothing, as Spark commits a write job or nothing)."""
        target = self.targets[label]
        if self.mode != "append" and self.store.exists(target.staging):
            self.store.delete(target.staging)

    @property
    def spark_mode(self) -> str:
        """The save mode Spark writes with."""
        return "append" if self.mode == "append" else "errorifexists"

    def publish(self, labels: Sequence[str]) -> None:
        """Move the staged outputs of ``labels`` to their targets, all or none."""
        if self.mode == "append":
            return
        pairs = [(self.targets[label].staging, self.targets[label].path) for label in labels]
        self.store.publish(pairs, replace=self.mode == "overwrite")

    def abort(self) -> None:
        """After a failure: remove the staging data (append: targets this run created)."""
        for target in self.targets.values():
            if self.mode == "append" and (
                target.path in self.existing or target.label in self.finished
            ):
                continue
            try:
                self.store.delete(target.staging)
            except Exception as exc:  # pragma: no cover - cleaning up after a failure
                logger.error("removing %s failed: %s", target.staging, exc)
