"""``entrypoints.emr_local.prepare``: the working directory looks like an EMR Serverless job's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.errors import BundleError
from entrypoints.emr_local import find_interpreter, prepare


def test_prepare_lays_out_the_job_like_emr(built_dist: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    environ = {
        "PATH": "/usr/bin",
        "AWS_REGION": "us-east-1",
        "PYTHONPATH": "/repo",
        "VIRTUAL_ENV": "/v",
    }
    run = prepare(built_dist, "read_tables", ["--x", "1"], workdir=work, environ=environ)
    link = work / "environment" / "bin" / "python"
    python39 = find_interpreter("3.9")
    expected = "/usr/bin/python3.9" if Path("/usr/bin/python3.9").exists() else python39
    assert os.readlink(link) == expected
    assert (work / "environment" / "pyvenv.cfg").is_file()
    command = run.command
    assert command[0].endswith("/bin/spark-submit")
    assert command[-3:] == [str(work / "read_tables.py"), "--x", "1"]
    assert command[command.index("--py-files") + 1] == str(work / "sparkpg-0.1.0-code.zip")
    assert command[command.index("--jars") + 1] == ",".join(
        [str(work / "postgresql-42.7.13.jar"), str(work / "sparkpg-engine.jar")]
    )
    assert f"spark.executorEnv.PYSPARK_PYTHON={work}/environment/bin/python" in command
    assert run.env["PYSPARK_PYTHON"] == run.env["PYSPARK_DRIVER_PYTHON"] == str(link)
    assert run.env["PYTHONPATH"] == str(work / "spark-python")  # pyspark + py4j only
    assert sorted(p.name for p in (work / "spark-python").iterdir()) == ["py4j", "pyspark"]
    assert "VIRTUAL_ENV" not in run.env and run.env["AWS_REGION"] == "us-east-1"


def test_prepare_refuses_a_changed_dist(built_dist: Path, tmp_path: Path) -> None:
    copy = tmp_path / "dist"
    copy.mkdir()
    for item in built_dist.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    (copy / "sparkpg-0.1.0-code.zip").write_bytes(b"x")
    with pytest.raises(BundleError, match="changed since the build"):
        prepare(copy, "read_tables", [], workdir=tmp_path / "w")
