"""What a run may ask of the application's release: retries from emr-7.1.0, batch-only options,
the timeout limits of the release (pure, no AWS).

EMR Serverless User Guide, "Job resiliency": retry policies need release 7.1.0 or later;
API reference, RetryPolicy: ``maxAttempts`` applies to BATCH runs, ``maxFailedAttemptsPerHour``
only to STREAMING runs (sparkpg submits batch runs only).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.errors import SettingsError
from submission.compat import run_option_problems
from submission.request import JobSpec, build_start_job_run_request
from tests.unit.submission.test_submission_fit import SPEC, _settings, bundle  # noqa: F401  (fixture)


def test_retries_need_emr_7_1_0() -> None:
    [problem] = run_option_problems("emr-7.0.0", max_attempts=3, execution_timeout_minutes=180)
    assert "--max-attempts" in problem and "emr-7.1.0" in problem and "emr-7.0.0" in problem
    for release in ("emr-7.1.0", "emr-7.13.0", "emr-spark-8.0.0"):
        assert run_option_problems(release, max_attempts=3, execution_timeout_minutes=180) == []
    assert run_option_problems("emr-7.0.0", max_attempts=None, execution_timeout_minutes=180) == []


@pytest.mark.parametrize(
    ("release", "minutes", "refused"),
    [
        ("emr-7.0.0", 0, False),  # no timeout before 7.11
        ("emr-7.0.0", 20000, False),  # the API's range, 0..1000000
        ("emr-7.11.0", 0, True),  # from 7.11 batch runs need a timeout ...
        ("emr-7.11.0", 10081, True),  # ... of at most 10080 minutes (7 days)
        ("emr-7.11.0", 10080, False),
        ("emr-spark-8.0.0", 0, True),
    ],
)
def test_timeout_limits_are_those_of_the_release(release: str, minutes: int, refused: bool) -> None:
    problems = run_option_problems(release, max_attempts=None, execution_timeout_minutes=minutes)
    assert bool(problems) is refused, problems
    if refused:
        assert f"--execution-timeout-minutes {minutes}" in problems[0] and release in problems[0]


def test_max_failed_attempts_per_hour_is_refused_for_batch_runs(
    bundle: object,  # noqa: F811
) -> None:
    with pytest.raises(ValidationError, match="STREAMING"):
        JobSpec(tables=["aurora.public.orders"], max_failed_attempts_per_hour=2)
    copied = SPEC.model_copy(update={"max_failed_attempts_per_hour": 2})
    with pytest.raises(SettingsError, match="STREAMING"):
        build_start_job_run_request(_settings(), copied, bundle)  # type: ignore[arg-type]
