"""Fixtures of the deployment tests: one build of dist/ per session, AWS setup on the session's moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import boto3
import pytest

from devtools.artifacts import REPO_ROOT
from devtools.build_bundle import build

ACCOUNT = "123456789012"  # moto's account: the execution role must be in it
ROLE = f"arn:aws:iam::{ACCOUNT}:role/EMRServerlessExecutionRole"
ARTIFACT_BUCKET = "sparkpg-artifacts"
LOG_BUCKET = "sparkpg-logs"


@pytest.fixture(scope="session")
def built_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``./build.sh`` output for the default runtime (Python 3.9, x86_64), built once."""
    out = tmp_path_factory.mktemp("dist-x86_64")
    build(out, log=False)
    return out


@pytest.fixture(scope="session")
def moto_endpoint(moto_server_url: str) -> str:
    """The session's moto server (tests/conftest.py); the name the deployment tests use."""
    return moto_server_url


@pytest.fixture()
def aws_env(moto_env: str) -> str:
    """An empty moto account that sparkpg's and the test's clients talk to (``moto_env``)."""
    return moto_env


def client(service: str) -> Any:
    """A test-side boto3 client (reads AWS_ENDPOINT_URL like sparkpg's)."""
    return boto3.client(service, region_name="us-east-1")


@pytest.fixture()
def emr_setup(aws_env: str) -> Dict[str, str]:
    """Two EMR Serverless applications (plain and PostgreSQL) and the buckets, in an empty account."""
    emr = client("emr-serverless")
    s3 = client("s3")
    for bucket in (ARTIFACT_BUCKET, LOG_BUCKET):
        s3.create_bucket(Bucket=bucket)
    ids = {}
    for key, name in (("plain", "spark-app"), ("postgres", "spark-postgres-interpreter-app")):
        ids[key] = emr.create_application(
            name=name, releaseLabel="emr-7.0.0", type="Spark", clientToken=f"{name}-token"
        )["applicationId"]
    return ids


@pytest.fixture()
def deployed(built_dist: Path, emr_setup: Dict[str, str]) -> str:
    """``sparkpg deploy`` of the session's build; returns the deployed manifest's S3 URI."""
    from entrypoints.cmd_deploy import deploy

    _, manifest_uri = deploy(built_dist, f"s3://{ARTIFACT_BUCKET}/sparkpg", s3=client("s3"))
    return manifest_uri


def write_settings(
    path: Path,
    apps: Dict[str, str],
    bundle_uri: str,
    *,
    jdbc_driver_path: Any = None,
    **spark: Any,
) -> Path:
    """A settings file like examples/settings.json, pointing at the moto resources.

    ``jdbc_driver_path`` replaces the example's (pgjdbc 42.7.8, which submit refuses without
    ``--allow-old-jdbc``); None lets the job use the bundle's JAR.
    """
    data = json.loads((REPO_ROOT / "examples" / "settings.json").read_text())
    data["postgres"]["jdbc_driver_path"] = jdbc_driver_path
    data["spark"].update(
        {
            "emr_application_id": apps["plain"],
            "emr_postgres_application_id": apps["postgres"],
            "emr_execution_role_arn": ROLE,
            "emr_log_uri": f"s3://{LOG_BUCKET}/emr-logs",
            "emr_bundle_uri": bundle_uri,
            **spark,
        }
    )
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture()
def settings_file(tmp_path: Path, emr_setup: Dict[str, str], deployed: str) -> Path:
    """``write_settings`` of the moto resources and the deployed bundle."""
    return write_settings(tmp_path / "settings.json", emr_setup, deployed)
