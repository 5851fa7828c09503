"""EMR Serverless job runs over the wire: start or re-attach, wait, cancel, fetch driver logs.

The request comes from :func:`connectors.emr.build_start_job_run_request`; the clients from
:mod:`connectors.aws`. Every function takes its clients as arguments, so tests pass clients bound
to a moto server and the backend passes its own.

Re-attach: every run carries the tags ``sparkpg:spec-id`` (a digest of the request) and
``sparkpg:attempt``. Before starting, :func:`start_or_attach` looks for runs of the same spec
created in the last :data:`REATTACH_LOOKBACK_DAYS` days: the newest one is re-used unless it ended
FAILED or CANCELLED (then the next attempt starts, with its own ``clientToken``). The token
makes two clients racing on the same attempt get the same run from the service.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple

from botocore.exceptions import BotoCoreError, ClientError

from connectors.aws import parse_s3_uri
from connectors.emr import (
    ATTEMPT_TAG,
    DEFAULT_LOG_GROUP,
    SPEC_TAG,
    TERMINAL_STATES,
    BundleManifest,
    parse_manifest,
    with_attempt,
)
from connectors.errors import AwsRequestError, BundleError

if TYPE_CHECKING:
    from mypy_boto3_emr_serverless import EMRServerlessClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client

REATTACH_LOOKBACK_DAYS = 8  # executionTimeoutMinutes is at most 7 days
_HINTS = {
    "AccessDeniedException": "the caller needs emr-serverless:StartJobRun/GetJobRun/ListJobRuns/"
    "CancelJobRun on the application and iam:PassRole on the execution role",
    "ResourceNotFoundException": "check the application id / job run id and the region",
    "ValidationException": "the request was rejected as invalid",
    "ConflictException": "the clientToken was used before with different parameters",
    "NoSuchKey": "the object does not exist",
    "NoSuchBucket": "the bucket does not exist (or is in another account)",
    "AccessDenied": "the caller may not read or write that S3 object",
    "404": "the object does not exist",
}


def aws_error(action: str, exc: Exception) -> AwsRequestError:
    """An :class:`AwsRequestError` that names the call, AWS's error code and the usual fix."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", "")).strip()
        hint = _HINTS.get(code, "")
        return AwsRequestError(
            f"{action}: {code}{': ' + message if message else ''}{' (' + hint + ')' if hint else ''}"
        )
    return AwsRequestError(f"{action}: {exc}")


@dataclass(frozen=True)
class JobRunStatus:
    """What GetJobRun says about a run, plus where its driver logs are."""

    application_id: str
    job_run_id: str
    state: str
    state_details: str = ""
    name: str = ""
    arn: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    log_uri: Optional[str] = None
    log_group: Optional[str] = None
    log_stream_prefix: Optional[str] = None

    @property
    def terminal(self) -> bool:
        """True for SUCCESS, FAILED and CANCELLED."""
        return self.state in TERMINAL_STATES

    @property
    def attempt(self) -> int:
        """The ``sparkpg:attempt`` tag (0 for runs not started by sparkpg)."""
        try:
            return int(self.tags.get(ATTEMPT_TAG, "0"))
        except ValueError:
            return 0

    def driver_log_locations(self, stream: str = "stderr") -> Dict[str, str]:
        """Where the driver's ``stream`` is: ``{"s3": uri, "cloudwatch": "group:stream"}``."""
        where: Dict[str, str] = {}
        suffix = f"applications/{self.application_id}/jobs/{self.job_run_id}/SPARK_DRIVER/{stream}"
        if self.log_uri:
            where["s3"] = f"{self.log_uri.rstrip('/')}/{suffix}.gz"
        if self.log_group:
            prefix = f"{self.log_stream_prefix.rstrip('/')}/" if self.log_stream_prefix else ""
            where["cloudwatch"] = f"{self.log_group}:{prefix}{suffix}"
        return where

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready form (``sparkpg ... --json``)."""
        return {
            "applicationId": self.application_id,
            "jobRunId": self.job_run_id,
            "arn": self.arn,
            "name": self.name,
            "state": self.state,
            "stateDetails": self.state_details,
            "attempt": self.attempt,
            "driverLogs": self.driver_log_locations(),
        }


def status_from_job_run(job_run: Mapping[str, Any]) -> JobRunStatus:
    """A :class:`JobRunStatus` from GetJobRun's ``jobRun``."""
    monitoring = (job_run.get("configurationOverrides") or {}).get("monitoringConfiguration") or {}
    s3 = monitoring.get("s3MonitoringConfiguration") or {}
    cloudwatch = monitoring.get("cloudWatchLoggingConfiguration") or {}
    cloudwatch_on = bool(cloudwatch.get("enabled"))
    return JobRunStatus(
        application_id=str(job_run["applicationId"]),
        job_run_id=str(job_run["jobRunId"]),
        state=str(job_run["state"]),
        state_details=str(job_run.get("stateDetails") or ""),
        name=str(job_run.get("name") or ""),
        arn=str(job_run.get("arn") or ""),
        tags=dict(job_run.get("tags") or {}),
        log_uri=s3.get("logUri"),
        log_group=(cloudwatch.get("logGroupName") or DEFAULT_LOG_GROUP) if cloudwatch_on else None,
        log_stream_prefix=cloudwatch.get("logStreamNamePrefix") if cloudwatch_on else None,
    )


def get_run(client: EMRServerlessClient, application_id: str, job_run_id: str) -> JobRunStatus:
    """GetJobRun as a :class:`JobRunStatus`."""
    try:
        response = client.get_job_run(applicationId=application_id, jobRunId=job_run_id)
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(f"GetJobRun {application_id}/{job_run_id}", exc) from None
    return status_from_job_run(response["jobRun"])


def runs_of_spec(
    client: EMRServerlessClient,
    application_id: str,
    name: str,
    spec_digest: str,
    *,
    now: Optional[dt.datetime] = None,
) -> List[JobRunStatus]:
    """Runs of the spec ``spec_digest`` (by name, then tag), newest attempt first."""
    since = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=REATTACH_LOOKBACK_DAYS)
    found: List[JobRunStatus] = []
    try:
        pages = client.get_paginator("list_job_runs").paginate(
            applicationId=application_id, createdAtAfter=since
        )
        for page in pages:
            for summary in page.get("jobRuns", []):
                if summary.get("name") != name:
                    continue
                status = get_run(client, application_id, summary["id"])
                if status.tags.get(SPEC_TAG) == spec_digest:
                    found.append(status)
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(f"ListJobRuns {application_id}", exc) from None
    return sorted(found, key=lambda s: s.attempt, reverse=True)


def start_or_attach(
    client: EMRServerlessClient, request: Mapping[str, Any], *, new_run: bool = False
) -> Tuple[JobRunStatus, bool]:
    """Start the run, or re-attach to the run of the same spec; returns ``(status, attached)``.

    Re-attaches to the newest run of the spec unless it FAILED or was CANCELLED, or ``new_run``.
    """
    application_id = str(request["applicationId"])
    spec_digest = str(request["tags"][SPEC_TAG])
    previous = runs_of_spec(client, application_id, str(request["name"]), spec_digest)
    if previous and not new_run and previous[0].state not in ("FAILED", "CANCELLED"):
        return previous[0], True
    attempt = max([run.attempt for run in previous], default=0) + 1
    final = with_attempt(request, attempt)
    try:
        response = client.start_job_run(**final)
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(f"StartJobRun on application {application_id}", exc) from None
    return get_run(client, application_id, response["jobRunId"]), False


class DeadlineReached(Exception):
    """:func:`wait_for_run` gave up at its deadline; ``status`` is the last state seen."""

    def __init__(self, status: JobRunStatus) -> None:
        super().__init__(f"job run {status.job_run_id} still {status.state} at the deadline")
        self.status = status


def wait_for_run(
    client: EMRServerlessClient,
    application_id: str,
    job_run_id: str,
    *,
    on_change: Callable[[JobRunStatus], None] = lambda status: None,
    deadline: Optional[float] = None,
    initial_interval: float = 2.0,
    max_interval: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> JobRunStatus:
    """Poll GetJobRun with exponential backoff until a terminal state; call ``on_change`` per state.

    ``deadline`` is a ``clock()`` value; past it :class:`DeadlineReached` is raised (the run keeps
    running: cancelling is the caller's decision). Ctrl-C propagates as KeyboardInterrupt.
    """
    interval = initial_interval
    last_state = ""
    while True:
        status = get_run(client, application_id, job_run_id)
        if status.state != last_state:
            on_change(status)
            last_state = status.state
            interval = initial_interval
        if status.terminal:
            return status
        if deadline is not None and clock() >= deadline:
            raise DeadlineReached(status)
        pause = interval if deadline is None else max(0.0, min(interval, deadline - clock()))
        sleep(pause)
        interval = min(max_interval, interval * 1.5)


def cancel_run(client: EMRServerlessClient, application_id: str, job_run_id: str) -> None:
    """CancelJobRun (the run goes CANCELLING, then CANCELLED)."""
    try:
        client.cancel_job_run(applicationId=application_id, jobRunId=job_run_id)
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(f"CancelJobRun {application_id}/{job_run_id}", exc) from None


@dataclass(frozen=True)
class DriverLog:
    """A driver log and where it was read from."""

    text: str
    source: str


def read_s3_log(s3: S3Client, uri: str) -> Optional[str]:
    """A gzipped log object's text, or None when it does not exist (yet)."""
    bucket, key = parse_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise aws_error(f"reading {uri}", exc) from None
    except BotoCoreError as exc:
        raise aws_error(f"reading {uri}", exc) from None
    data = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    return data.decode("utf-8", "replace")


def read_cloudwatch_log(logs: CloudWatchLogsClient, group: str, stream: str) -> Optional[str]:
    """All events of a log stream, oldest first, or None when the stream does not exist."""
    lines: List[str] = []
    token: Optional[str] = None
    try:
        while True:
            kwargs: Dict[str, Any] = {
                "logGroupName": group,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if token:
                kwargs["nextToken"] = token
            response = logs.get_log_events(**kwargs)
            lines += [str(event["message"]).rstrip("\n") for event in response.get("events", [])]
            next_token = response.get("nextForwardToken")
            if not response.get("events") or next_token == token:
                break
            token = next_token
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise aws_error(f"GetLogEvents {group}:{stream}", exc) from None
    except BotoCoreError as exc:
        raise aws_error(f"GetLogEvents {group}:{stream}", exc) from None
    return "\n".join(lines) + ("\n" if lines else "")


def fetch_driver_log(
    status: JobRunStatus,
    *,
    s3: Optional[S3Client],
    logs: Optional[CloudWatchLogsClient],
    stream: str = "stderr",
    source: str = "auto",
) -> Optional[DriverLog]:
    """The driver's ``stream`` from S3 (first) or CloudWatch; None when neither has it."""
    where = status.driver_log_locations(stream)
    if source in ("auto", "s3") and s3 is not None and "s3" in where:
        text = read_s3_log(s3, where["s3"])
        if text is not None:
            return DriverLog(text, where["s3"])
    if source in ("auto", "cloudwatch") and logs is not None and "cloudwatch" in where:
        group, _, log_stream = where["cloudwatch"].partition(":")
        text = read_cloudwatch_log(logs, group, log_stream)
        if text is not None:
            return DriverLog(text, f"cloudwatch:{where['cloudwatch']}")
    return None


def load_bundle(location: str, s3: Optional[S3Client] = None) -> BundleManifest:
    """A deployed manifest from a local path or ``s3://``."""
    if location.startswith("s3://"):
        from connectors.aws import s3_client

        bucket, key = parse_s3_uri(location)
        try:
            text = (s3 or s3_client()).get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except (ClientError, BotoCoreError) as exc:
            raise aws_error(f"reading the bundle manifest {location}", exc) from None
    else:
        try:
            with open(location, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            raise BundleError(
                f"bundle manifest {location} not found; build and upload with "
                "./build.sh --upload s3://bucket/prefix (it writes dist/deployment.json)"
            ) from None
    return parse_manifest(text, location)


def read_built_manifest(dist: Path) -> BundleManifest:
    """``dist/manifest.json``, with every artifact's file checked against its sha256."""
    path = dist / "manifest.json"
    if not path.is_file():
        raise BundleError(f"{path} not found; run ./build.sh first")
    manifest = parse_manifest(path.read_text(encoding="utf-8"), str(path))
    for name, item in manifest.artifacts.items():
        file = dist / item.file
        if not file.is_file():
            raise BundleError(f"{file} ({name}) is missing; rebuild with ./build.sh")
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        if digest != item.sha256:
            raise BundleError(
                f"{file} ({name}) has sha256 {digest}, the manifest says {item.sha256}: "
                "dist/ changed since the build; rebuild with ./build.sh"
            )
    return manifest


def dumps(data: Any) -> str:
    """JSON for ``--json`` output (datetimes as ISO strings)."""
    return json.dumps(data, indent=2, sort_keys=True, default=str)
