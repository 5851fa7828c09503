"""The ``--incremental`` state on S3 (the moto server): published with the batch through the
manifest, an unpublished batch ignored, batch names in run order, a foreign folder refused."""

from __future__ import annotations

import pytest

from connectors.errors import OutputError
from spark_jobs.job.incremental import S3StateFiles, newest_batch, next_batch, output_state
from spark_jobs.job.output import OutputRun
from spark_jobs.read.incremental_state import IncrementalState, XidSnapshot

STATE = IncrementalState("it.public.t", "snapshot", XidSnapshot(5, 9, (6,)), (("id", "integer"),))


@pytest.fixture
def files(moto_env: str) -> S3StateFiles:
    from connectors.aws import aws_client

    client = aws_client("s3", "us-east-1")
    client.create_bucket(Bucket="out")
    return S3StateFiles(client)


def test_the_state_is_published_with_its_batch(files: S3StateFiles) -> None:
    folder = "s3://out/o/t"
    assert newest_batch(files, folder) is None
    batch = next_batch(folder, None, "R1")
    assert batch == "batch=00000001-R1"
    run = OutputRun(files, [("t", f"{folder}/{batch}")], "errorifexists", "R1")
    staging = run.targets["t"].staging
    files.write_text(f"{staging}/part-1.parquet", "rows")
    files.write_text(f"{staging}/_sparkpg_incremental.json", STATE.to_json())
    assert newest_batch(files, folder) is None  # staged only: hidden, not published
    run.publish(["t"])
    assert newest_batch(files, folder) == batch
    assert output_state(files, f"{folder}/{batch}") == STATE

    # Objects of a batch without its manifest (a publication killed mid-copy) do not count.
    files.write_text(f"{folder}/batch=00000002-R2/_sparkpg_incremental.json", "{}")
    assert newest_batch(files, folder) == batch
    assert next_batch(folder, batch, "R3") == "batch=00000002-R3"


def test_a_folder_of_something_else_is_refused(files: S3StateFiles) -> None:
    files.write_text("s3://out/o/t/part-1.parquet", "rows")
    with pytest.raises(OutputError, match=r"holds part-1\.parquet, not an incremental batch"):
        newest_batch(files, "s3://out/o/t")
    with pytest.raises(OutputError, match="is not a batch of sparkpg's"):
        next_batch("s3://out/o/t", "batch=manual", "R1")
