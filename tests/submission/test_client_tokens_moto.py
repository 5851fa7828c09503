"""Client tokens are never reused by accident: a run older than the re-attach window cannot answer
a new submission.

How long EMR Serverless remembers a ``clientToken`` is undocumented; if it still knows one, it
answers StartJobRun with the run that token started (API reference, StartJobRun: the token makes
the call idempotent). A monthly job whose first token came back would then report last month's
run. Unkeyed submissions therefore get tokens that are never reused; ``--run-key`` stays
deterministic, and what a returned earlier run means is decided from the run, not from the token.
The earlier run is backdated with the moto server's run tag ``moto:created-days-ago``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from entrypoints.cli import main
from entrypoints.errors import EXIT_OK
from submission.runs import REATTACH_LOOKBACK_DAYS

from .conftest import ARTIFACT_BUCKET, client

pytestmark = pytest.mark.slow
FAST = ["--poll-interval", "0.01", "--max-poll-interval", "0.05"]
JOB = [
    *("--job-settings", f"s3://{ARTIFACT_BUCKET}/settings.json"),
    *("--table", "aurora.public.orders", "--output", "s3://out/orders/"),
]


def _old_run(settings: Path, capsys: pytest.CaptureFixture[str], state: str, *extra: str) -> str:
    """Start exactly the request sparkpg would send, as a run of 30 days ago that ended ``state``."""
    capsys.readouterr()
    assert (
        main(["submit", "--settings", str(settings), *JOB, *extra, "--dry-run", "--json"])
        == EXIT_OK
    )
    request: Dict[str, Any] = json.loads(capsys.readouterr().out)
    request["tags"] = {**request["tags"], "moto:created-days-ago": "30", "moto:states": state}
    emr = client("emr-serverless")
    run = str(emr.start_job_run(**request)["jobRunId"])
    job = emr.get_job_run(applicationId=request["applicationId"], jobRunId=run)["jobRun"]
    assert job["state"] == state
    age = dt.datetime.now(dt.timezone.utc) - job["createdAt"]
    assert age > dt.timedelta(days=REATTACH_LOOKBACK_DAYS), "the run is not beyond the window"
    return run


def _submit(settings: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Dict[str, Any]:
    capsys.readouterr()
    code = main(["submit", "--settings", str(settings), *JOB, *extra, "--wait", "--json", *FAST])
    result: Dict[str, Any] = json.loads(capsys.readouterr().out)
    result["exitCode"] = code
    return result


def _run_ids(application: str) -> List[str]:
    runs = client("emr-serverless").list_job_runs(applicationId=application)["jobRuns"]
    return sorted(r["id"] for r in runs)


def test_a_monthly_job_starts_a_new_run(
    settings_file: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    old = _old_run(settings_file, capsys, "SUCCESS")
    result = _submit(settings_file, capsys)
    assert result["exitCode"] == EXIT_OK
    assert result["jobRunId"] != old, "last month's run answered this month's submission"
    assert result["attached"] is False
    assert (
        result["jobRunId"] in _run_ids(emr_setup["postgres"])
        and len(_run_ids(emr_setup["postgres"])) == 2
    )


def test_a_run_key_whose_old_run_failed_starts_the_next_attempt(
    settings_file: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    key = ["--run-key", "monthly__2026-11-01"]
    old = _old_run(settings_file, capsys, "FAILED", *key)
    result = _submit(settings_file, capsys, *key)
    assert result["exitCode"] == EXIT_OK, result
    assert result["jobRunId"] != old and result["state"] == "SUCCESS"
    assert result["attempt"] == 2


def test_a_run_key_whose_old_run_succeeded_reattaches(
    settings_file: Path, emr_setup: Dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    key = ["--run-key", "monthly__2026-10-01"]
    old = _old_run(settings_file, capsys, "SUCCESS", *key)
    result = _submit(settings_file, capsys, *key)
    assert result["exitCode"] == EXIT_OK
    assert result["jobRunId"] == old and result["attached"] is True
    assert _run_ids(emr_setup["postgres"]) == [old]


class _CountingClient:
    """An EMR Serverless client that counts its GetJobRun calls."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.get_job_run_calls = 0

    def get_job_run(self, **kwargs: Any) -> Any:
        self.get_job_run_calls += 1
        return self.real.get_job_run(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_reattaching_an_hourly_job_lists_once_and_reads_one_run(emr_setup: Dict[str, str]) -> None:
    """A week of an hourly job (here 30 runs) must not cost one GetJobRun per run."""
    from submission.request import ATTEMPT_TAG, SPEC_TAG
    from submission.runs import start_or_attach

    app = emr_setup["plain"]
    emr = client("emr-serverless")
    request: Dict[str, Any] = {
        "applicationId": app,
        "executionRoleArn": "arn:aws:iam::123456789012:role/EMRServerlessExecutionRole",
        "name": "hourly",
        "jobDriver": {"sparkSubmit": {"entryPoint": "s3://b/job.py"}},
        "tags": {SPEC_TAG: "0" * 40, ATTEMPT_TAG: "1", "moto:states": "SUCCESS"},
    }
    for attempt in range(1, 31):
        tags = {**request["tags"], ATTEMPT_TAG: str(attempt)}
        emr.start_job_run(**{**request, "tags": tags, "clientToken": f"hourly-{attempt}"})
    counting = _CountingClient(emr)
    status, attached = start_or_attach(counting, request)  # type: ignore[arg-type]
    assert attached is False and status.attempt == 31
    assert counting.get_job_run_calls <= 2, counting.get_job_run_calls
