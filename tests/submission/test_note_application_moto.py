"""Runs that sparkpg did not submit, on an application configured like the infrastructure note's.

The note's application sets CloudWatch logging itself (``monitoringConfiguration`` on the
application, section 3.1) and its backend submits runs without ``configurationOverrides``. EMR
Serverless applies the application's configuration to such runs, and a run's own configuration
over it (EMR Serverless User Guide, "Default application configuration"); ``sparkpg status`` and
``logs`` must find their logs the same way, and the moto server must log where AWS would.
"""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from entrypoints.cli import main
from entrypoints.errors import EXIT_JOB_FAILED, EXIT_OK

from .conftest import ROLE, client

pytestmark = pytest.mark.slow

NOTE_MONITORING: Dict[str, Any] = {
    "cloudWatchLoggingConfiguration": {
        "enabled": True,
        "logTypes": {"SPARK_DRIVER": ["stdout", "stderr"], "SPARK_EXECUTOR": ["stdout", "stderr"]},
    },
    "managedPersistenceMonitoringConfiguration": {"enabled": True},
}


def _note_application() -> str:
    emr = client("emr-serverless")
    app = str(
        emr.create_application(
            name="spark-postgres-interpreter-app",
            releaseLabel="emr-7.0.0",
            type="Spark",
            clientToken="note-app",
            monitoringConfiguration=NOTE_MONITORING,
        )["applicationId"]
    )
    kept = emr.get_application(applicationId=app)["application"]["monitoringConfiguration"]
    assert kept == NOTE_MONITORING
    return app


def _finished_backend_run(app: str, token: str, **extra: Any) -> str:
    """A run started as the note's backend starts it, polled until FAILED (one state per call)."""
    emr = client("emr-serverless")
    run = str(
        emr.start_job_run(
            applicationId=app,
            executionRoleArn=ROLE,
            clientToken=token,
            name="backend-query",
            jobDriver={"sparkSubmit": {"entryPoint": "s3://b/supervisor_job.py"}},
            tags={"moto:states": "RUNNING/FAILED"},
            **extra,
        )["jobRunId"]
    )
    states = [emr.get_job_run(applicationId=app, jobRunId=run)["jobRun"]["state"]]
    while states[-1] != "FAILED" and len(states) < 10:
        states.append(emr.get_job_run(applicationId=app, jobRunId=run)["jobRun"]["state"])
    assert states[-1] == "FAILED", states
    return run


def test_logs_of_a_run_without_overrides_follow_the_applications_configuration(
    aws_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _note_application()
    run = _finished_backend_run(app, "backend-1")
    stream = f"/applications/{app}/jobs/{run}/SPARK_DRIVER/stderr"
    # The moto server logged where AWS would: the application's (default) group.
    logs = client("logs")
    names = [
        s["logStreamName"]
        for s in logs.describe_log_streams(logGroupName="/aws/emr-serverless")["logStreams"]
    ]
    assert stream in names
    capsys.readouterr()
    assert main(["status", run, "--application-id", app, "--json"]) == EXIT_JOB_FAILED
    status = json.loads(capsys.readouterr().out)
    assert status["driverLogs"] == {"cloudwatch": f"/aws/emr-serverless:{stream}"}
    assert main(["logs", run, "--application-id", app, "--error"]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out.startswith("Traceback (most recent call last):")
    assert f"/aws/emr-serverless:{stream}" in captured.err


def test_a_runs_own_configuration_is_merged_with_the_applications(
    aws_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run adds S3 logging; CloudWatch logging stays as the application configures it."""
    app = _note_application()
    client("s3").create_bucket(Bucket="run-logs")
    overrides = {
        "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": "s3://run-logs/emr/"}}
    }
    run = _finished_backend_run(app, "backend-2", configurationOverrides=overrides)
    stream = f"/applications/{app}/jobs/{run}/SPARK_DRIVER/stderr"
    names = [
        s["logStreamName"]
        for s in client("logs").describe_log_streams(logGroupName="/aws/emr-serverless")[
            "logStreams"
        ]
    ]
    assert stream in names
    key = f"emr{stream}.gz"
    assert client("s3").head_object(Bucket="run-logs", Key=key)["ContentLength"] > 0
    capsys.readouterr()
    assert main(["status", run, "--application-id", app, "--json"]) == EXIT_JOB_FAILED
    status = json.loads(capsys.readouterr().out)
    assert status["driverLogs"] == {
        "s3": f"s3://run-logs/emr{stream}.gz",
        "cloudwatch": f"/aws/emr-serverless:{stream}",
    }


def _start(app: str, token: str, **extra: Any) -> Dict[str, Any]:
    return dict(
        client("emr-serverless").start_job_run(
            applicationId=app,
            executionRoleArn=ROLE,
            clientToken=token,
            jobDriver={"sparkSubmit": {"entryPoint": "s3://b/job.py"}},
            **extra,
        )
    )


def test_the_service_refuses_retries_before_emr_7_1_0(aws_env: str) -> None:
    """User Guide, "Job resiliency"; API reference, RetryPolicy (the moto server, patch 16)."""
    from botocore.exceptions import ClientError

    old = _note_application()
    with pytest.raises(ClientError) as refused:
        _start(old, "retry-on-7.0.0", retryPolicy={"maxAttempts": 2})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "emr-7.1.0" in refused.value.response["Error"]["Message"]
    new = client("emr-serverless").create_application(
        name="resilient", releaseLabel="emr-7.1.0", type="Spark", clientToken="resilient"
    )["applicationId"]
    run = _start(new, "retry-on-7.1.0", retryPolicy={"maxAttempts": 2})["jobRunId"]
    job = client("emr-serverless").get_job_run(applicationId=new, jobRunId=run)["jobRun"]
    assert job["retryPolicy"] == {"maxAttempts": 2}
    with pytest.raises(ClientError, match="STREAMING"):
        _start(new, "streaming-only", retryPolicy={"maxFailedAttemptsPerHour": 2})
    late = client("emr-serverless").create_application(
        name="late", releaseLabel="emr-7.11.0", type="Spark", clientToken="late"
    )["applicationId"]
    with pytest.raises(ClientError, match="10080"):
        _start(late, "week-and-a-day", executionTimeoutMinutes=10081)
    assert _start(old, "week-and-a-day-on-7.0.0", executionTimeoutMinutes=10081)["jobRunId"]


def test_submit_refuses_retries_on_the_notes_release(
    aws_env: str, deployed: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from entrypoints.errors import EXIT_SETTINGS

    from .conftest import ARTIFACT_BUCKET, write_settings

    app = _note_application()
    settings = write_settings(tmp_path / "settings.json", {"plain": app, "postgres": app}, deployed)
    job = ["--job-settings", f"s3://{ARTIFACT_BUCKET}/settings.json"]
    job += ["--table", "aurora.public.orders", "--output", "s3://out/orders/"]
    capsys.readouterr()
    code = main(["submit", "--settings", str(settings), *job, "--max-attempts", "2"])
    err = capsys.readouterr().err
    assert code == EXIT_SETTINGS, err
    assert "--max-attempts 2 (retryPolicy) needs EMR Serverless release emr-7.1.0" in err
    assert f"application {app} (emr-7.0.0)" in err
    code = main(
        ["submit", "--settings", str(settings), *job, "--max-failed-attempts-per-hour", "3"]
    )
    err = capsys.readouterr().err
    assert code == EXIT_SETTINGS and "applies only to STREAMING job runs" in err, err
    assert client("emr-serverless").list_job_runs(applicationId=app)["jobRuns"] == []


def test_status_of_an_arn_uses_the_region_in_it(
    aws_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ARN names its region; the default region (us-east-1 here) must not win over it."""
    import boto3

    emr = boto3.client("emr-serverless", region_name="eu-west-1", endpoint_url=aws_env)
    app = emr.create_application(name="eu", releaseLabel="emr-7.0.0", type="Spark")["applicationId"]
    arn = emr.start_job_run(
        applicationId=app,
        executionRoleArn=ROLE,
        clientToken="eu-run",
        jobDriver={"sparkSubmit": {"entryPoint": "s3://b/job.py"}},
        tags={"moto:states": "RUNNING"},
    )["arn"]
    assert ":eu-west-1:" in arn
    capsys.readouterr()
    assert main(["status", arn]) == EXIT_OK
    assert "RUNNING" in capsys.readouterr().out


def test_status_with_settings_reports_aws_failures_as_such(
    aws_env: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreachable endpoint is not "in none of the applications" (exit 3): exit 10, the cause."""
    from connectors.aws import aws_client
    from devtools.moto_server import free_port
    from entrypoints.errors import EXIT_AWS

    from .conftest import write_settings

    settings = write_settings(tmp_path / "s.json", {"plain": "00a", "postgres": "00b"}, "s3://b/m")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    aws_client.cache_clear()
    capsys.readouterr()
    code = main(["status", "00fabcdef0123456", "--settings", str(settings)])
    err = capsys.readouterr().err
    assert code == EXIT_AWS, err
    assert "none of the applications" not in err
    assert "EndpointConnectionError" in err or "unreachable" in err


def test_submit_follows_the_applications_logging_too(
    aws_env: str, deployed: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Settings without logging of their own, on the note's application: CloudWatch, as applied."""
    from .conftest import ARTIFACT_BUCKET, write_settings

    app = _note_application()
    settings = write_settings(
        tmp_path / "settings.json",
        {"plain": app, "postgres": app},
        deployed,
        emr_log_uri=None,
        emr_cloudwatch_logging=False,
    )
    job = ["--job-settings", f"s3://{ARTIFACT_BUCKET}/settings.json"]
    job += ["--table", "aurora.public.orders", "--output", "s3://out/orders/"]
    fast = ["--poll-interval", "0.01", "--max-poll-interval", "0.05"]
    capsys.readouterr()
    failing = ["--tag", "moto:states=RUNNING/FAILED"]
    code = main(["submit", "--settings", str(settings), *job, "--wait", "--json", *fast, *failing])
    captured = capsys.readouterr()
    assert code == EXIT_JOB_FAILED, captured.err
    result = json.loads(captured.out)
    stream = f"/applications/{app}/jobs/{result['jobRunId']}/SPARK_DRIVER/stderr"
    assert result["driverLogs"] == {"cloudwatch": f"/aws/emr-serverless:{stream}"}
    assert result["driverLog"] == f"cloudwatch:/aws/emr-serverless:{stream}"
    assert result["driverError"].startswith("Traceback (most recent call last):")
