"""Issue 11 against moto as AWS behaves: scheduled re-runs, run keys, least-privilege S3, the
bundle against the application, warm-pool sizes, the driver's stdout, links, attempts, ``runs``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List

import pytest

from devtools.moto_server import S3_LIST_BUCKET_TAG, scripted_stdout
from entrypoints.cli import main
from entrypoints.errors import EXIT_BUNDLE, EXIT_OK, EXIT_SETTINGS

from .conftest import ARTIFACT_BUCKET, LOG_BUCKET, client, write_settings

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
SEED_JAR = "s3://spark-data-260005718447-us-east-1/jars/postgresql-42.7.8.jar"


def _submit(settings: Path, *extra: str) -> List[str]:
    return ["submit", "--settings", str(settings), *JOB, *extra]


def _json(capsys: pytest.CaptureFixture[str]) -> Dict[str, Any]:
    result: Dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def _deny_list_bucket(bucket: str) -> None:
    client("s3").put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": S3_LIST_BUCKET_TAG, "Value": "denied"}]}
    )


def test_yesterdays_success_does_not_stop_todays_run(
    settings_file: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A daily cron with the same arguments: every day starts a run (issue 11, item 1)."""
    assert main(_submit(settings_file, "--wait", "--json", *FAST)) == EXIT_OK
    first = _json(capsys)
    assert first["state"] == "SUCCESS"
    assert main(_submit(settings_file, "--wait", "--json", *FAST)) == EXIT_OK
    second = _json(capsys)
    assert second["attached"] is False and second["jobRunId"] != first["jobRunId"]
    assert second["attempt"] == 2
    runs = client("emr-serverless").list_job_runs(applicationId=emr_setup["postgres"])["jobRuns"]
    assert len(runs) == 2


def test_a_run_key_is_the_idempotency_key_of_a_scheduler(
    settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = ["--run-key", "scheduled__2026-12-01T00:00:00+00:00"]
    assert main(_submit(settings_file, *key, "--wait", "--json", *FAST)) == EXIT_OK
    first = _json(capsys)
    assert first["runKey"] == "scheduled__2026-12-01T00:00:00+00:00"
    # The scheduler retries the same task (same key): the succeeded run is the answer.
    assert main(_submit(settings_file, *key, "--wait", "--json", *FAST)) == EXIT_OK
    retried = _json(capsys)
    assert retried["attached"] is True and retried["jobRunId"] == first["jobRunId"]
    # The next day's key starts a run of its own.
    next_day = ["--run-key", "scheduled__2026-12-02T00:00:00+00:00"]
    assert main(_submit(settings_file, *next_day, "--json")) == EXIT_OK
    other = _json(capsys)
    assert other["attached"] is False and other["jobRunId"] != first["jobRunId"]


def test_deploy_without_list_bucket_uploads_and_says_why(
    built_dist: Path, emr_setup: Dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """HeadObject answers 403 for a missing key without s3:ListBucket (item 8)."""
    _deny_list_bucket(ARTIFACT_BUCKET)
    root = f"s3://{ARTIFACT_BUCKET}/least-privilege"
    with caplog.at_level(logging.WARNING):
        assert main(["deploy", "--dist", str(built_dist), "--to", root]) == EXIT_OK
    assert "403, so missing or not visible" in caplog.text and "s3:ListBucket" in caplog.text
    manifest = json.loads((built_dist / "deployment.json").read_text())
    key = manifest["code"]["uri"].split(f"s3://{ARTIFACT_BUCKET}/", 1)[1]
    body = client("s3").get_object(Bucket=ARTIFACT_BUCKET, Key=key)["Body"].read()
    assert len(body) == manifest["code"]["size"]


def test_logs_fall_back_to_cloudwatch_when_s3_answers_403(
    settings_file: Path,
    emr_setup: Dict[str, str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert main(_submit(settings_file, "--wait", "--json", *FAST)) == EXIT_OK
    run = _json(capsys)
    s3_log = run["driverLogs"]["s3"].split(f"s3://{LOG_BUCKET}/", 1)[1]
    client("s3").delete_object(Bucket=LOG_BUCKET, Key=s3_log)  # not (yet) in S3
    _deny_list_bucket(LOG_BUCKET)
    with caplog.at_level(logging.WARNING):
        code = main(["logs", run["jobRunId"], "--application-id", emr_setup["postgres"]])
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert "# cloudwatch:/aws/emr-serverless:/applications/" in captured.err
    assert "INFO SparkContext: Running Spark version" in captured.out
    assert "trying CloudWatch" in caplog.text


def test_a_bundle_for_another_architecture_is_refused(
    tmp_path: Path, emr_setup: Dict[str, str], deployed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arm = client("emr-serverless").create_application(
        name="arm-app", releaseLabel="emr-7.0.0", type="Spark", architecture="ARM64"
    )["applicationId"]
    settings = write_settings(tmp_path / "arm.json", {**emr_setup, "postgres": arm}, deployed)
    assert main(_submit(settings)) == EXIT_BUNDLE
    err = capsys.readouterr().err
    assert "X86_64" in err and "ARM64" in err and "./build.sh --arch arm64" in err
    assert client("emr-serverless").list_job_runs(applicationId=arm)["jobRuns"] == []


def test_a_release_without_python39_is_refused(
    tmp_path: Path, emr_setup: Dict[str, str], deployed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emr6 = client("emr-serverless").create_application(
        name="emr6", releaseLabel="emr-6.9.0", type="Spark"
    )["applicationId"]
    settings = write_settings(tmp_path / "emr6.json", {**emr_setup, "postgres": emr6}, deployed)
    assert main(_submit(settings)) == EXIT_BUNDLE
    err = capsys.readouterr().err
    assert "/usr/bin/python3.9, which emr-6.9.0 does not have (it has Python 3.7)" in err


def test_jobs_are_sized_to_the_warm_pool(
    tmp_path: Path, emr_setup: Dict[str, str], deployed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    warm = client("emr-serverless").create_application(
        name="warm",
        releaseLabel="emr-7.0.0",
        type="Spark",
        initialCapacity={
            "DRIVER": {
                "workerCount": 1,
                "workerConfiguration": {"cpu": "2 vCPU", "memory": "4 GB"},
            },
            "EXECUTOR": {
                "workerCount": 2,
                "workerConfiguration": {"cpu": "4 vCPU", "memory": "8 GB", "disk": "30 GB"},
            },
        },
    )["applicationId"]
    settings = write_settings(tmp_path / "warm.json", {**emr_setup, "postgres": warm}, deployed)
    assert main(_submit(settings, "--json", "--conf", "spark.driver.cores=1")) == EXIT_OK
    run = _json(capsys)
    detail = client("emr-serverless").get_job_run(applicationId=warm, jobRunId=run["jobRunId"])
    params = detail["jobRun"]["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
    assert "--conf spark.executor.memory=7447m" in params
    assert "--conf spark.executor.cores=4" in params
    assert "--conf spark.emr-serverless.executor.disk=30G" in params
    assert "--conf spark.driver.memory=3712m" in params
    assert "--conf spark.driver.cores=1" in params  # --conf wins


def test_an_old_settings_jar_is_refused_then_allowed_with_a_warning(
    tmp_path: Path, emr_setup: Dict[str, str], deployed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = write_settings(tmp_path / "old.json", emr_setup, deployed, jdbc_driver_path=SEED_JAR)
    assert main(_submit(settings)) == EXIT_SETTINGS
    assert "pgjdbc 42.7.8" in capsys.readouterr().err
    assert main(_submit(settings, "--allow-old-jdbc")) == EXIT_OK
    out = capsys.readouterr().out
    assert f"the job uses JDBC JAR {SEED_JAR} (pgjdbc 42.7.8, postgres.jdbc_driver_path" in out
    assert "warning: this pgjdbc predates 42.7.12" in out


def test_show_stdout_follow_links_and_json(
    settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = "orders: 5 rows -> s3://out/orders/ (parquet)"
    args = _submit(
        settings_file,
        "--wait",
        "--follow",
        "--show-stdout",
        *FAST,
        "--tag",
        f"moto:stdout={scripted_stdout(summary)}",
    )
    assert main(args) == EXIT_OK
    captured = capsys.readouterr()
    assert summary in captured.out
    assert "driver| 25/11/26 02:13:10 INFO SparkContext" in captured.err
    assert "sparkUi: https://" in captured.err
    assert "cloudWatchLogs: https://console.aws.amazon.com/cloudwatch/home?region=us-east-1" in (
        captured.out + captured.err
    )
    assert (
        main(
            [*args[:-2], "--json", "--tag", f"moto:stdout={scripted_stdout(summary)}", "--new-run"]
        )
        == EXIT_OK
    )
    result = _json(capsys)
    assert result["driverStdout"] == summary + "\n"
    assert set(result["links"]) == {"s3Logs", "cloudWatchLogs", "sparkUi"}
    assert result["links"]["sparkUi"].startswith("https://")


def test_retry_policy_attempts_and_the_runs_listing(
    tmp_path: Path, deployed: str, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Retries need emr-7.1.0 or later (User Guide, "Job resiliency"): an application of its own.
    resilient = client("emr-serverless").create_application(
        name="resilient", releaseLabel="emr-7.1.0", type="Spark", clientToken="resilient"
    )["applicationId"]
    apps = {"plain": resilient, "postgres": resilient}
    settings_file = write_settings(tmp_path / "settings.json", apps, deployed)
    args = _submit(
        settings_file,
        *("--wait", "--json", *FAST, "--max-attempts", "3", "--tag", "moto:attempt=2"),
        *("--log-uri", f"s3://{LOG_BUCKET}/override", "--log-group", "/sparkpg/override"),
    )
    assert main(args) == EXIT_OK
    run = _json(capsys)
    assert run["serviceAttempt"] == 2
    assert run["driverLogs"]["s3"] == (
        f"s3://{LOG_BUCKET}/override/applications/{apps['postgres']}/jobs/"
        f"{run['jobRunId']}/attempts/2/SPARK_DRIVER/stderr.gz"
    )
    assert run["driverLogs"]["cloudwatch"].startswith("/sparkpg/override:/applications/")
    detail = client("emr-serverless").get_job_run(
        applicationId=apps["postgres"], jobRunId=run["jobRunId"]
    )
    assert detail["jobRun"]["retryPolicy"] == {"maxAttempts": 3}
    assert main(["logs", run["jobRunId"], "--application-id", apps["postgres"]]) == EXIT_OK
    assert "/attempts/2/SPARK_DRIVER/stderr.gz" in capsys.readouterr().err
    assert main(["runs", "--settings", str(settings_file)]) == EXIT_OK
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["CREATED", "STATE", "DURATION", "ATTEMPT", "RUN", "NAME"]
    [row] = [line for line in listing[1:] if run["jobRunId"] in line]
    assert "SUCCESS" in row and "read_tables-aurora.public.orders" in row
    assert main(["runs", "--application-id", apps["postgres"], "--json"]) == EXIT_OK
    [listed] = _json_list(capsys)
    assert listed["id"] == run["jobRunId"] and listed["state"] == "SUCCESS"


def _json_list(capsys: pytest.CaptureFixture[str]) -> List[Dict[str, Any]]:
    result: List[Dict[str, Any]] = json.loads(capsys.readouterr().out)
    return result


def test_invalid_values_are_refused_before_any_call(
    settings_file: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_submit(settings_file, "--name", "   ")) == EXIT_SETTINGS
    assert "name:" in capsys.readouterr().err
    assert main(_submit(settings_file, "--tag", "team=a,b")) == EXIT_SETTINGS
    assert "tags['team']" in capsys.readouterr().err
    assert main(_submit(settings_file, "--log-group", "/my logs")) == EXIT_SETTINGS
    assert "logGroupName" in capsys.readouterr().err
    runs = client("emr-serverless").list_job_runs(applicationId=emr_setup["postgres"])["jobRuns"]
    assert runs == []
    assert main(_submit(settings_file, "--execution-timeout-minutes", "10080", "--json")) == EXIT_OK
    assert _json(capsys)["state"] == "SUBMITTED"
