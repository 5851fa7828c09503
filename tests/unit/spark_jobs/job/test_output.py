"""Output naming, planning and the S3 publication protocol (against the moto server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from connectors.errors import OutputError, SettingsError
from spark_jobs.job.output import (
    MANIFEST,
    OutputRun,
    S3Store,
    check_output_base,
    output_folder,
    staging_path,
    table_targets,
)


def test_folder_names_are_injective_and_safe() -> None:
    names = [
        "orders",
        "a b",
        "a_b",
        "売上",
        "顧客",
        "../x",
        ".hidden",
        "Daily Totals",
        "a/b",
        "a_b-",
        "_tmp",
        "tmp",
        "__",
        "_",
    ]
    folders = [output_folder(name) for name in names]
    assert len(set(folders)) == len(names), folders
    assert output_folder("orders") == "orders" and output_folder("a_b") == "a_b"
    for folder in folders:
        # visible to Hadoop, Spark, Hive and Athena (they skip names starting with _ or .)
        assert "/" not in folder and folder[0] not in "_." and folder.isprintable()
    # Letters of any script are kept as they are: the folder names the table.
    assert output_folder("売上") == "売上" and output_folder("顧客") == "顧客"
    assert output_folder("a b").startswith("a_b-") and output_folder("_tmp").startswith("tmp-")
    assert output_folder(".hidden").startswith("hidden-") and output_folder("__") != "__"
    assert output_folder("a b") == output_folder("a b")  # stable across runs


def test_table_targets_refuse_collisions_naming_both_refs() -> None:
    assert table_targets("/o", [("c.public.売上", "売上"), ("c.public.顧客", "顧客")]) == [
        ("c.public.売上", f"/o/{output_folder('売上')}"),
        ("c.public.顧客", f"/o/{output_folder('顧客')}"),
    ]
    with pytest.raises(SettingsError, match=r"tables c\.s\.t and c\.u\.t would both write to 't'"):
        table_targets("/o", [("c.s.t", "t"), ("c.u.t", "t")])


def test_staging_is_a_hidden_sibling_unique_per_run() -> None:
    assert staging_path("s3://b/out/orders", "R1") == "s3://b/out/.orders.sparkpg-staging-R1"
    assert staging_path("out", "R1") == ".out.sparkpg-staging-R1"


@pytest.fixture
def s3(moto_env: str) -> Any:
    from connectors.aws import aws_client

    client = aws_client("s3", "us-east-1")
    client.create_bucket(Bucket="out")
    return client


def _put(s3: Any, files: Dict[str, str]) -> None:
    for key, body in files.items():
        s3.put_object(Bucket="out", Key=key, Body=body.encode())


def _tree(s3: Any, prefix: str = "") -> Dict[str, str]:
    listed = s3.list_objects_v2(Bucket="out", Prefix=prefix).get("Contents", [])
    return {
        o["Key"]: s3.get_object(Bucket="out", Key=o["Key"])["Body"].read().decode() for o in listed
    }


def _stage(s3: Any, run: OutputRun, label: str, parts: List[str]) -> None:
    """What Spark's write leaves in the staging prefix (part files, then _SUCCESS)."""
    prefix = run.write_path(label)[len("s3://out/") :]
    _put(s3, {f"{prefix}/{part}": f"new {label} {part}" for part in parts})
    _put(s3, {f"{prefix}/_SUCCESS": ""})


def test_s3_overwrite_publishes_all_tables_then_deletes_the_previous_files(s3: Any) -> None:
    _put(s3, {"o/a/part-old.parquet": "old a", "o/a/_SUCCESS": "", "keep/x": "other"})
    store = S3Store(s3)
    run = OutputRun(store, [("A", "s3://out/o/a"), ("B", "s3://out/o/b")], "overwrite", "R1")
    assert run.existing == {"s3://out/o/a"}
    _stage(s3, run, "A", ["part-1.parquet", "part-2.parquet"])
    _stage(s3, run, "B", ["part-1.parquet"])
    run.publish(["A", "B"])
    tree = _tree(s3)
    assert tree == {
        "keep/x": "other",
        "o/a/part-1.parquet": "new A part-1.parquet",
        "o/a/part-2.parquet": "new A part-2.parquet",
        "o/a/_SUCCESS": "",
        f"o/a/{MANIFEST}": tree[f"o/a/{MANIFEST}"],
        "o/b/part-1.parquet": "new B part-1.parquet",
        "o/b/_SUCCESS": "",
        f"o/b/{MANIFEST}": tree[f"o/b/{MANIFEST}"],
    }
    manifest = json.loads(tree[f"o/a/{MANIFEST}"])
    assert manifest["files"] == ["_SUCCESS", "part-1.parquet", "part-2.parquet"]


def test_s3_failed_copy_leaves_every_previous_output_untouched(s3: Any) -> None:
    previous = {"o/a/part-old.parquet": "old a", "o/b/part-old.parquet": "old b"}
    _put(s3, previous)
    store = S3Store(s3)
    run = OutputRun(store, [("A", "s3://out/o/a"), ("B", "s3://out/o/b")], "overwrite", "R2")
    _stage(s3, run, "A", ["part-1.parquet"])
    _stage(s3, run, "B", ["part-1.parquet", "part-2.parquet"])
    real_copy = s3.copy
    calls: List[str] = []

    def failing_copy(source: Dict[str, str], bucket: str, key: str) -> None:
        calls.append(key)
        if key == "o/b/part-2.parquet":
            raise OutputError("copy failed (injected)")
        real_copy(source, bucket, key)

    store.client = _Wrapped(s3, copy=failing_copy)
    with pytest.raises(OutputError, match="injected"):
        run.publish(["A", "B"])
    run.abort()
    assert _tree(s3) == previous
    assert "o/a/part-1.parquet" in calls  # A had been copied in, then removed again


def test_s3_errorifexists_is_refused_before_any_work_and_abort_cleans_staging(s3: Any) -> None:
    _put(s3, {"o/a/part-old.parquet": "old a"})
    store = S3Store(s3)
    with pytest.raises(OutputError, match="s3://out/o/a already exists: use --mode overwrite"):
        OutputRun(store, [("A", "s3://out/o/a")], "errorifexists", "R3")
    run = OutputRun(store, [("B", "s3://out/o/b")], "errorifexists", "R3")
    _stage(s3, run, "B", ["part-1.parquet"])
    run.abort()
    assert _tree(s3) == {"o/a/part-old.parquet": "old a"}


class _Wrapped:
    """A boto3 client with some methods replaced (fault injection into the real client)."""

    def __init__(self, client: Any, **replaced: Any) -> None:
        self._client = client
        self._replaced = replaced

    def __getattr__(self, name: str) -> Any:
        return self._replaced.get(name) or getattr(self._client, name)


def test_a_relative_local_output_is_made_absolute_from_this_process_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spark's JVM resolves a relative path from its own working folder, which may not be the
    caller's any more (a notebook or a test that changed folder after the session started)."""
    monkeypatch.chdir(tmp_path)
    assert check_output_base("out/") == str(tmp_path / "out")
    assert check_output_base("s3://bucket/out/") == "s3://bucket/out"
    assert check_output_base("/data/out") == "/data/out"
