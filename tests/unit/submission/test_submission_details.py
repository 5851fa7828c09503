"""Smaller things an account like the infrastructure note's meets (pure, no AWS)."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from diagnostics.aws_reader import AwsReader
from submission.links import console_links
from submission.logs import CloudWatchTail
from submission.runs import EMR_FIXES, JobRunStatus


@pytest.mark.parametrize(
    ("region", "console"),
    [
        ("us-east-1", "https://console.aws.amazon.com/"),
        ("cn-north-1", "https://console.amazonaws.cn/"),
        ("us-gov-west-1", "https://console.amazonaws-us-gov.com/"),
    ],
)
def test_console_links_follow_the_partition(region: str, console: str) -> None:
    run = JobRunStatus("app1", "run1", "RUNNING", log_uri="s3://logs/emr", log_group="/g")
    links = console_links(run, region)
    assert links["s3Logs"].startswith(console) and links["cloudWatchLogs"].startswith(console)


def test_access_denied_names_every_call_a_submit_makes() -> None:
    hint = EMR_FIXES["AccessDeniedException"]
    for action in (
        "StartJobRun",
        "GetJobRun",
        "ListJobRuns",
        "CancelJobRun",
        "TagResource",  # every submit tags its run
        "GetApplication",  # the bundle and release checks
        "GetDashboardForJobRun",  # the Spark UI link
        "iam:PassRole",
    ):
        assert action in hint, action


class _LegacyS3:
    def get_bucket_location(self, Bucket: str) -> Dict[str, Any]:
        return {"LocationConstraint": {"eu-bucket": "EU", "us-bucket": None}[Bucket]}


class _Reader(AwsReader):
    def client(self, service: str) -> Any:
        return _LegacyS3()


def test_legacy_eu_bucket_location_is_eu_west_1() -> None:
    """S3 API reference, GetBucketLocation: buckets of eu-west-1 may answer the legacy ``EU``."""
    assert _Reader().bucket_region("eu-bucket") == "eu-west-1"
    assert _Reader().bucket_region("us-bucket") == "us-east-1"


class _Logs:
    def __init__(self) -> None:
        self.streams: List[str] = []

    def get_log_events(self, **kwargs: Any) -> Dict[str, Any]:
        self.streams.append(kwargs["logStreamName"])
        return {"events": [], "nextForwardToken": "t"}


def test_follow_moves_to_the_stream_of_the_services_next_attempt() -> None:
    """After a service retry (retryPolicy) the driver writes under .../attempts/<n>/."""
    logs = _Logs()
    first = JobRunStatus("app", "run", "RUNNING", log_group="/g", service_attempt=1)
    tail = CloudWatchTail.for_run(logs, first)  # type: ignore[arg-type]
    assert tail is not None
    tail.read_new()
    second = JobRunStatus("app", "run", "RUNNING", log_group="/g", service_attempt=2)
    tail.follow(second)
    tail.read_new()
    assert logs.streams[0] == "/applications/app/jobs/run/SPARK_DRIVER/stderr"
    assert logs.streams[-1] == "/applications/app/jobs/run/attempts/2/SPARK_DRIVER/stderr"
