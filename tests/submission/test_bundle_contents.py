"""Open what build.sh builds and check what is inside; two builds give the same bytes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

from devtools import build_bundle
from devtools.artifacts import REPO_ROOT
from devtools.build_bundle import BuildError, build, fetch_jdbc_jar

pytestmark = pytest.mark.slow


def _manifest(dist: Path) -> Dict[str, object]:
    data: Dict[str, object] = json.loads((dist / "manifest.json").read_text())
    return data


def _wheel_tags(archive: Path) -> Dict[str, List[str]]:
    tags: Dict[str, List[str]] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.name.endswith(".dist-info/WHEEL"):
                handle = tar.extractfile(member)
                assert handle is not None
                lines = handle.read().decode().splitlines()
                tags[member.name.split("/")[-2]] = [
                    ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Tag:")
                ]
    return tags


#: What the job imports, and nothing else (devtools/build_bundle.py JOB_MODULES and packages).
SHIPPED_CONNECTORS = [
    "connectors/__init__.py",
    "connectors/aws.py",
    "connectors/endpoints.py",
    "connectors/errors.py",
    "connectors/hosts.py",
    "connectors/iam.py",
    "connectors/jdbc.py",
    "connectors/lazy.py",
    "connectors/secrets.py",
    "connectors/settings.py",
    "connectors/settings_sources.py",
]
SHIPPED_ENTRYPOINTS = [
    "entrypoints/__init__.py",
    "entrypoints/errors.py",
    "entrypoints/probe.py",
    "entrypoints/read_tables.py",
]


def test_code_zip_is_what_the_job_imports(built_dist: Path) -> None:
    (code,) = built_dist.glob("sparkpg-*-code.zip")
    with zipfile.ZipFile(code) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    # spark_jobs/ ships whole: every module of the package in the source tree.
    spark_jobs = sorted(
        p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "spark_jobs").rglob("*.py")
    )
    assert (
        "spark_jobs/job/connection_probe.py" in spark_jobs
        and "spark_jobs/read/api.py" in spark_jobs
    )
    assert names == sorted(SHIPPED_CONNECTORS + SHIPPED_ENTRYPOINTS + spark_jobs)
    # Operator-side code stays on the operator's machine.
    assert not any(
        n.startswith(("submission/", "diagnostics/", "devtools/", "tests")) for n in names
    )
    assert "entrypoints/cli.py" not in names and not any("/cmd_" in n for n in names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_environment_archive_is_a_venv_for_the_emr_interpreter(built_dist: Path) -> None:
    (env,) = built_dist.glob("sparkpg-*-env-py3.9-x86_64.tar.gz")
    with tarfile.open(env) as tar:
        members = {m.name: m for m in tar.getmembers()}
        cfg = tar.extractfile(members["pyvenv.cfg"])
        assert cfg is not None
        pyvenv = cfg.read().decode()
    python = members["bin/python"]
    assert python.issym() and python.linkname == "/usr/bin/python3.9"  # not the build machine's
    assert "home = /usr/bin" in pyvenv and "include-system-site-packages = false" in pyvenv
    site = "lib/python3.9/site-packages/"
    for package in ("pydantic/", "pydantic_core/", "boto3/", "botocore/"):
        assert any(name.startswith(site + package) for name in members), package
    assert not any("__pycache__" in n or n.endswith((".pyc", ".pyo")) for n in members)
    assert not any(n.startswith(site + "bin/") for n in members)  # no console scripts
    assert not any(n.startswith(site + p) for n in members for p in ("connectors", "tests/"))
    assert {(m.mtime, m.uid, m.gid, m.uname) for m in members.values()} == {
        (build_bundle.FIXED_EPOCH, 0, 0, "")
    }
    assert list(members) == sorted(members)


def test_wheels_match_the_target_platform(built_dist: Path) -> None:
    (env,) = built_dist.glob("*-env-py3.9-x86_64.tar.gz")
    tags = _wheel_tags(env)
    assert any(name.startswith("pydantic_core-") for name in tags)
    for dist, dist_tags in tags.items():
        for tag in dist_tags:
            _python, abi, platform = tag.split("-")
            assert platform == "any" or (
                abi == "cp39" and platform.endswith("_x86_64") and "linux" in platform
            ), f"{dist}: {tag}"
    manifest = _manifest(built_dist)
    assert manifest["runtime"] == {
        "architecture": "X86_64",
        "interpreter": "/usr/bin/python3.9",
        "platform": "manylinux2014_x86_64",
        "python": "3.9",
        "release_label": "emr-7.0.0",
        "spark": "3.5",  # the Spark the code targets: submit and doctor compare it
    }
    lock = (REPO_ROOT / "devtools" / "locks" / "emr-py3.9.txt").read_text().split()
    assert set(manifest["requirements"]) <= set(lock)  # type: ignore[arg-type]


def test_manifest_lists_every_artifact_with_its_checksum(built_dist: Path) -> None:
    manifest = _manifest(built_dist)
    files = {p.name for p in built_dist.iterdir()} - {"manifest.json", "deployment.json"}
    listed = {}
    for key in ("code", "environment", "jdbc_driver", "engine"):
        listed[manifest[key]["file"]] = manifest[key]  # type: ignore[index]
    for item in manifest["entrypoints"].values():  # type: ignore[attr-defined]
        listed[item["file"]] = item
    assert set(listed) == files
    for name, item in listed.items():
        assert hashlib.sha256((built_dist / name).read_bytes()).hexdigest() == item["sha256"]
    assert manifest["jdbc_driver"]["version"] == "42.7.13"  # type: ignore[index]
    params = str(manifest["sparkSubmitParameters"])
    assert "--conf spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python" in params
    assert "tar.gz#environment" in params
    assert "postgresql-42.7.13.jar," in params and "sparkpg-engine.jar" in params  # both on --jars


def test_two_builds_give_the_same_bytes(built_dist: Path, tmp_path: Path) -> None:
    """The second build goes through ./build.sh itself, with the same entry-point scripts."""
    entrypoint_args = []
    for script in sorted(built_dist.glob("*.py")):
        copy = tmp_path / script.name
        copy.write_bytes(script.read_bytes())
        entrypoint_args += ["--entrypoint", str(copy)]
    out = tmp_path / "again"
    result = subprocess.run(
        [str(REPO_ROOT / "build.sh"), "--out", str(out), *entrypoint_args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "built " in result.stdout and "sha256" in result.stdout
    for path in built_dist.iterdir():
        if path.name != "deployment.json":
            assert (out / path.name).read_bytes() == path.read_bytes(), path.name


def test_arm64_build_has_aarch64_wheels(tmp_path: Path, built_dist: Path) -> None:
    out = tmp_path / "arm"
    manifest = build(out, arch="arm64", entrypoints=[built_dist / "read_tables.py"], log=False)
    assert manifest.runtime.architecture == "ARM64"
    tags = _wheel_tags(out / manifest.environment.file)
    (core,) = [t for name, t in tags.items() if name.startswith("pydantic_core-")]
    assert all(tag.endswith("_aarch64") for tag in core), core
    assert not any("x86_64" in t for ts in tags.values() for t in ts)


def test_build_sh_fails_fast_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(REPO_ROOT / "build.sh"), "--out", str(tmp_path / "x"), "--entrypoint", "nope.py"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "entry point nope.py does not exist" in result.stderr


def test_jdbc_jar_is_checked_and_missing_sources_are_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bogus = tmp_path / "postgresql-42.7.13.jar"
    bogus.write_bytes(b"not a jar")
    with pytest.raises(BuildError, match="is not the pinned"):
        fetch_jdbc_jar(tmp_path / "out.jar", jar=bogus, version="42.7.13", sha256="0" * 64)
    monkeypatch.setenv("MAVEN_REPO", str(tmp_path / "empty-m2"))
    monkeypatch.setattr(build_bundle, "JDBC_MAVEN_URL", "http://127.0.0.1:9/{v}.jar")
    with pytest.raises(BuildError, match="Maven Central is not reachable") as error:
        fetch_jdbc_jar(tmp_path / "out.jar", jar=None, version="42.7.13", sha256="0" * 64)
    assert "--jar PATH" in str(error.value)
    assert os.path.exists(build_bundle.maven_cache_jar("42.7.13")) is False
