"""End to end against a moto server: deploy, submit, wait, fail, cancel, re-attach, logs.

moto stands in for EMR Serverless, S3 and CloudWatch Logs; where it lacks the service's behaviour
(job states, idempotent tokens, driver logs) the server is patched in devtools/moto_server.py,
never our code. Tests script a run's states with the run tag ``moto:states``.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from botocore.exceptions import ClientError

from devtools.artifacts import REPO_ROOT
from entrypoints.cli import main
from entrypoints.errors import (
    EXIT_BUNDLE,
    EXIT_JOB_CANCELLED,
    EXIT_JOB_DETACHED,
    EXIT_JOB_FAILED,
    EXIT_OK,
)

from .conftest import ARTIFACT_BUCKET, LOG_BUCKET, ROLE, client, write_settings

pytestmark = pytest.mark.slow
FAST = ["--poll-interval", "0.01", "--max-poll-interval", "0.05"]
JOB = [
    "--job-settings",
    f"s3://{ARTIFACT_BUCKET}/settings.json",
    "--table",
    "aurora.public.orders",
    "--output",
    "s3://out/orders/",
]


def _submit(settings: Path, *extra: str) -> List[str]:
    return ["submit", "--settings", str(settings), *JOB, *extra]


def _runs(application_id: str) -> List[Dict[str, Any]]:
    return list(client("emr-serverless").list_job_runs(applicationId=application_id)["jobRuns"])


def _json_out(capsys: pytest.CaptureFixture[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_deploy_uploads_content_addressed_and_never_overwrites(
    built_dist: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root = f"s3://{ARTIFACT_BUCKET}/team-a"
    assert main(["deploy", "--dist", str(built_dist), "--to", root]) == EXIT_OK
    out = capsys.readouterr().out
    manifest = json.loads((built_dist / "deployment.json").read_text())
    jar, engine = manifest["jdbc_driver"], manifest["engine"]
    assert jar["uri"] == f"{root}/artifacts/{jar['sha256']}/postgresql-42.7.13.jar"
    assert engine["uri"] == f"{root}/artifacts/{engine['sha256']}/sparkpg-engine.jar"
    assert f'"jdbc_driver_path": "{jar["uri"]}"' in out
    s3 = client("s3")
    keys = {o["Key"]: o for o in s3.list_objects_v2(Bucket=ARTIFACT_BUCKET)["Contents"]}
    artifacts = [manifest["code"], manifest["environment"], jar, engine]
    for item in [*artifacts, *manifest["entrypoints"].values()]:
        key = item["uri"].split(f"s3://{ARTIFACT_BUCKET}/", 1)[1]
        assert key == f"team-a/artifacts/{item['sha256']}/{Path(item['file']).name}"
        body = s3.get_object(Bucket=ARTIFACT_BUCKET, Key=key)["Body"].read()
        assert len(body) == item["size"]
    assert manifest["sparkSubmitParameters"].startswith(
        f"--jars {jar['uri']},{engine['uri']} --py-files s3://"
    )
    first_modified = {k: v["LastModified"] for k, v in keys.items() if "/artifacts/" in k}
    time.sleep(1.1)
    assert main(["deploy", "--dist", str(built_dist), "--to", root]) == EXIT_OK
    again = {
        o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=ARTIFACT_BUCKET)["Contents"]
    }
    assert {k: again[k] for k in first_modified} == first_modified  # nothing re-uploaded


def test_deploy_refuses_a_tampered_dist(
    built_dist: Path, tmp_path: Path, emr_setup: Dict[str, str]
) -> None:
    copy = tmp_path / "dist"
    copy.mkdir()
    for item in built_dist.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    (copy / "read_tables.py").write_text("print('changed')\n")
    assert main(["deploy", "--dist", str(copy), "--to", f"s3://{ARTIFACT_BUCKET}/x"]) == EXIT_BUNDLE


def test_submit_waits_through_queued_to_success(
    settings_file: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        _submit(
            settings_file, "--wait", *FAST, "--tag", "moto:states=QUEUED/SCHEDULED/RUNNING/SUCCESS"
        )
    )
    captured = capsys.readouterr()
    out = captured.out
    assert code == EXIT_OK, captured.err
    assert (
        out.index("QUEUED") < out.index("SCHEDULED") < out.index("RUNNING") < out.index("SUCCESS")
    )
    (run,) = _runs(emr_setup["postgres"])  # the PostgreSQL application (seed 5.2)
    detail = client("emr-serverless").get_job_run(
        applicationId=emr_setup["postgres"], jobRunId=run["id"]
    )
    driver = detail["jobRun"]["jobDriver"]["sparkSubmit"]
    assert driver["entryPoint"].endswith("/read_tables.py")
    assert f"--jars s3://{ARTIFACT_BUCKET}/sparkpg/artifacts/" in driver["sparkSubmitParameters"]
    assert "postgresql-42.7.13.jar" in driver["sparkSubmitParameters"]  # the bundle's pinned JAR
    assert "the job uses JDBC JAR s3://" in out and "pgjdbc 42.7.13, the bundle's" in out
    assert detail["jobRun"]["executionRole"] == ROLE


def test_failed_run_prints_the_python_traceback_from_s3(
    settings_file: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        _submit(settings_file, "--wait", *FAST, "--tag", "moto:states=SUBMITTED/RUNNING/FAILED")
    )
    err = capsys.readouterr().err
    assert code == EXIT_JOB_FAILED
    assert f"s3://{LOG_BUCKET}/emr-logs/applications/{emr_setup['postgres']}/jobs/" in err
    assert "Traceback (most recent call last):" in err
    assert (
        "connectors.errors.SecretNotFoundError: secret spark/postgres/aurora does not exist" in err
    )


def test_failed_run_json_with_java_exception_from_cloudwatch(
    tmp_path: Path, emr_setup: Dict[str, str], deployed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = write_settings(
        tmp_path / "cw.json",
        emr_setup,
        deployed,
        emr_log_uri=None,
        emr_cloudwatch_log_group="/sparkpg/jobs",
    )
    code = main(
        _submit(
            settings,
            "--wait",
            "--json",
            *FAST,
            "--tag",
            "moto:states=RUNNING/FAILED",
            "--tag",
            "moto:failure=java",
        )
    )
    result = _json_out(capsys)
    assert code == EXIT_JOB_FAILED
    assert result["state"] == "FAILED"
    assert len(result["stateDetails"]) <= 256
    assert result["driverLog"].startswith("cloudwatch:/sparkpg/jobs:/applications/")
    assert result["driverError"].startswith(
        'Exception in thread "main" java.lang.ClassNotFoundException: org.postgresql.Driver'
    )


def test_deadline_cancels_with_yes(
    settings_file: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = _submit(settings_file, "--wait", "--timeout", "0.3", "--yes", *FAST)
    code = main([*args, "--tag", "moto:states=SUBMITTED/RUNNING"])
    out = capsys.readouterr().out
    assert code == EXIT_JOB_CANCELLED
    assert "--timeout 0.3 s reached: cancelling" in out
    assert out.index("CANCELLING") < out.index("CANCELLED")
    assert [r["state"] for r in _runs(emr_setup["postgres"])] == ["CANCELLED"]


def test_deadline_without_a_terminal_to_ask_leaves_the_run(
    settings_file: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            *_submit(settings_file, "--wait", "--timeout", "0.2", *FAST),
            "--tag",
            "moto:states=RUNNING",
        ]
    )
    assert code == EXIT_JOB_DETACHED
    assert "left RUNNING" in capsys.readouterr().err
    assert [r["state"] for r in _runs(emr_setup["postgres"])] == ["RUNNING"]


def test_same_spec_reattaches_new_run_forces_and_failure_retries(
    settings_file: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    running = ["--json", "--tag", "moto:states=SUBMITTED/RUNNING"]
    assert main(_submit(settings_file, *running)) == EXIT_OK
    first = _json_out(capsys)
    assert main(_submit(settings_file, *running)) == EXIT_OK
    second = _json_out(capsys)
    assert second["attached"] is True
    assert second["jobRunId"] == first["jobRunId"]
    assert len(_runs(emr_setup["postgres"])) == 1
    assert main(_submit(settings_file, *running, "--new-run")) == EXIT_OK
    forced = _json_out(capsys)
    assert forced["jobRunId"] != first["jobRunId"] and forced["attempt"] == 2
    # A spec whose last run failed starts the next attempt instead of re-attaching.
    failing = ["--json", "--wait", *FAST, "--tag", "moto:states=RUNNING/FAILED"]
    assert main(_submit(settings_file, *failing)) == EXIT_JOB_FAILED
    failed = _json_out(capsys)
    assert main(_submit(settings_file, *failing)) == EXIT_JOB_FAILED
    retried = _json_out(capsys)
    assert retried["jobRunId"] != failed["jobRunId"] and retried["attempt"] == 2
    assert retried["attached"] is False


def test_the_client_token_is_idempotent_at_the_api(emr_setup: Dict[str, str]) -> None:
    emr = client("emr-serverless")
    kwargs: Dict[str, Any] = {
        "applicationId": emr_setup["plain"],
        "executionRoleArn": ROLE,
        "clientToken": "sparkpg-same-token-1",
        "jobDriver": {"sparkSubmit": {"entryPoint": "s3://b/x.py"}},
    }
    assert emr.start_job_run(**kwargs)["jobRunId"] == emr.start_job_run(**kwargs)["jobRunId"]
    # The same token with another request is a conflict (API reference, StartJobRun; patch 6).
    other = {**kwargs, "jobDriver": {"sparkSubmit": {"entryPoint": "s3://b/y.py"}}}
    with pytest.raises(ClientError) as conflict:
        emr.start_job_run(**other)
    assert conflict.value.response["Error"]["Code"] == "ConflictException"


def test_status_and_logs_of_a_run_started_elsewhere(
    emr_setup: Dict[str, str], settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emr = client("emr-serverless")
    started = emr.start_job_run(
        applicationId=emr_setup["plain"],
        executionRoleArn=ROLE,
        clientToken="started-elsewhere",
        name="nightly",
        jobDriver={"sparkSubmit": {"entryPoint": "s3://b/job.py"}},
        configurationOverrides={
            "monitoringConfiguration": {
                "s3MonitoringConfiguration": {"logUri": f"s3://{LOG_BUCKET}/other/"}
            }
        },
        tags={"moto:states": "RUNNING/FAILED"},
    )
    arn, run_id = started["arn"], started["jobRunId"]
    assert main(["status", arn]) == EXIT_OK  # RUNNING
    assert "RUNNING" in capsys.readouterr().out
    assert main(["status", run_id, "--settings", str(settings_file)]) == EXIT_JOB_FAILED
    assert "SecretNotFoundError" in capsys.readouterr().err
    assert main(["logs", run_id, "--application-id", emr_setup["plain"]]) == EXIT_OK
    captured = capsys.readouterr()
    assert (
        f"s3://{LOG_BUCKET}/other/applications/{emr_setup['plain']}/jobs/{run_id}" in captured.err
    )
    assert "INFO SparkContext: Running Spark version" in captured.out
    assert main(["logs", arn, "--error"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("Traceback (most recent call last):")
    key = f"other/applications/{emr_setup['plain']}/jobs/{run_id}/SPARK_DRIVER/stderr.gz"
    body = client("s3").get_object(Bucket=LOG_BUCKET, Key=key)["Body"].read()
    assert b"Traceback" in gzip.decompress(body)


def test_build_sh_upload_builds_then_uploads(
    built_dist: Path, emr_setup: Dict[str, str], aws_env: str, tmp_path: Path
) -> None:
    entry = tmp_path / "read_tables.py"
    entry.write_bytes((built_dist / "read_tables.py").read_bytes())
    result = subprocess.run(
        [
            str(REPO_ROOT / "build.sh"),
            "--out",
            str(tmp_path / "dist"),
            "--entrypoint",
            str(entry),
            "--upload",
            f"s3://{ARTIFACT_BUCKET}/from-build-sh",
        ],
        env={**os.environ, "AWS_ENDPOINT_URL": aws_env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "built " in result.stdout
    assert f'"jdbc_driver_path": "s3://{ARTIFACT_BUCKET}/from-build-sh/artifacts/' in result.stdout
    deployed = json.loads((tmp_path / "dist" / "deployment.json").read_text())
    assert deployed["artifact_root"] == f"s3://{ARTIFACT_BUCKET}/from-build-sh"
