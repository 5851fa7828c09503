"""Job runs on EMR Serverless: start (or re-attach), wait, cancel.

The request comes from :func:`submission.request.build_start_job_run_request`; the clients from
:mod:`connectors.aws`. Every function takes its clients as arguments, so tests pass clients bound
to a moto server and the backend passes its own.

Re-attach: every run carries the tags ``sparkpg:spec-id`` (a digest of the request) and
``sparkpg:attempt``. Before starting, :func:`start_or_attach` looks for runs of the same spec
created in the last :data:`REATTACH_LOOKBACK_DAYS` days: the newest one is re-used only while it
is still active (:data:`ACTIVE_STATES`); a finished run, SUCCESS included, never blocks a new one
(a daily cron with the same arguments runs every day). With a ``--run-key`` (``sparkpg:run-key``,
part of the spec id) the key says which logical run this is: a run of the same key is re-used
unless it FAILED or was CANCELLED, so a scheduler's retry of a succeeded task starts nothing.
Tokens: a ``--run-key`` run's ``clientToken`` is derived from the spec and the attempt (two
clients racing on the same attempt get the same run from the service); an unkeyed submission's
token also carries a random part, so it is never reused, however long the service remembers
tokens (undocumented): re-attachment comes from the runs listed, never from a token.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple

from connectors.aws import AWS_ERRORS, aws_error
from connectors.errors import AwsRequestError
from submission.request import (
    ATTEMPT_TAG,
    DEFAULT_LOG_GROUP,
    RUN_KEY_TAG,
    SPEC_TAG,
    with_attempt,
)

if TYPE_CHECKING:
    from mypy_boto3_emr_serverless import EMRServerlessClient

logger = logging.getLogger(__name__)

#: Terminal states of a job run; every other state (QUEUED included) means "still going".
TERMINAL_STATES = frozenset({"SUCCESS", "FAILED", "CANCELLED"})

#: The states of a run that will still do the work: the only ones a submit re-attaches to.
ACTIVE_STATES = frozenset({"SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED"})

#: The usual fix per error code of the EMR Serverless calls.
EMR_FIXES = {
    "AccessDeniedException": "the caller needs emr-serverless:StartJobRun, TagResource (every "
    "submit tags its run), GetJobRun, ListJobRuns, CancelJobRun, GetApplication and "
    "GetDashboardForJobRun on the application, and iam:PassRole on the execution role",
    "ResourceNotFoundException": "check the application id / job run id and the region",
    "ValidationException": "the request was rejected as invalid",
    "ConflictException": "the clientToken was used before with different parameters",
}


def emr_error(action: str, exc: BaseException) -> AwsRequestError:
    """An EMR Serverless call's failure as our error (:func:`connectors.aws.aws_error`)."""
    return aws_error(action, exc, fixes=EMR_FIXES)


REATTACH_LOOKBACK_DAYS = 8  # executionTimeoutMinutes is at most 7 days


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
    service_attempt: Optional[int] = None
    created_at: Optional[dt.datetime] = None
    ended_at: Optional[dt.datetime] = None
    duration_seconds: Optional[int] = None

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

    @property
    def run_key(self) -> Optional[str]:
        """The ``--run-key`` the run was submitted with (tag ``sparkpg:run-key``)."""
        return self.tags.get(RUN_KEY_TAG)

    def driver_log_locations(self, stream: str = "stderr") -> Dict[str, str]:
        """Where the driver's ``stream`` is: ``{"s3": uri, "cloudwatch": "group:stream"}``.

        From the second service attempt on (retryPolicy, emr-7.1+: GetJobRun's ``attempt``) the
        logs of attempt n are under ``.../jobs/<run>/attempts/<n>/SPARK_DRIVER/``.
        """
        where: Dict[str, str] = {}
        attempt = (
            f"/attempts/{self.service_attempt}"
            if self.service_attempt and self.service_attempt > 1
            else ""
        )
        suffix = (
            f"/applications/{self.application_id}/jobs/{self.job_run_id}{attempt}"
            f"/SPARK_DRIVER/{stream}"
        )
        if self.log_uri:
            where["s3"] = f"{self.log_uri.rstrip('/')}{suffix}.gz"
        if self.log_group:
            # EMR Serverless User Guide, logging to CloudWatch: the default stream name starts with
            # "/applications/..."; a logStreamNamePrefix is prepended as it is.
            prefix = self.log_stream_prefix or ""
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
            "serviceAttempt": self.service_attempt,
            "runKey": self.run_key,
            "driverLogs": self.driver_log_locations(),
        }


def monitoring_applied_to_run(
    application_monitoring: Optional[Mapping[str, Any]], run_monitoring: Optional[Mapping[str, Any]]
) -> Dict[str, Any]:
    """The monitoring configuration a run gets: the application's, with the run's own over it.

    EMR Serverless applies an application's ``monitoringConfiguration`` to every run of it; for
    each destination (S3, CloudWatch, managed persistence) the fields the run's
    ``configurationOverrides`` set win (EMR Serverless User Guide, "Default application
    configuration for EMR Serverless", "Override default configurations during job run"). The
    infrastructure note's application configures CloudWatch this way for its backend's runs.
    """
    application_monitoring = application_monitoring or {}
    run_monitoring = run_monitoring or {}
    return {
        destination: {
            **(application_monitoring.get(destination) or {}),
            **(run_monitoring.get(destination) or {}),
        }
        for destination in {*application_monitoring, *run_monitoring}
    }


def application_monitoring(client: EMRServerlessClient, application_id: str) -> Dict[str, Any]:
    """The application's own ``monitoringConfiguration`` (GetApplication), or {} when unreadable.

    A caller without ``emr-serverless:GetApplication`` still gets the run's own locations.
    """
    try:
        application = client.get_application(applicationId=application_id)["application"]
    except AWS_ERRORS as exc:
        logger.warning(
            "could not read the monitoring configuration of application %s (%s); using the "
            "run's own log locations only",
            application_id,
            aws_error(f"GetApplication {application_id}", exc),
        )
        return {}
    return dict(application.get("monitoringConfiguration") or {})


def status_from_job_run(
    job_run: Mapping[str, Any], application_monitoring: Optional[Mapping[str, Any]] = None
) -> JobRunStatus:
    """A :class:`JobRunStatus` from GetJobRun's ``jobRun``, with its application's monitoring."""
    monitoring = monitoring_applied_to_run(
        application_monitoring,
        (job_run.get("configurationOverrides") or {}).get("monitoringConfiguration"),
    )
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
        service_attempt=job_run.get("attempt"),
        created_at=job_run.get("createdAt"),
        ended_at=job_run.get("endedAt"),
        duration_seconds=job_run.get("totalExecutionDurationSeconds"),
    )


def get_run(
    client: EMRServerlessClient,
    application_id: str,
    job_run_id: str,
    application_monitoring: Optional[Mapping[str, Any]] = None,
) -> JobRunStatus:
    """GetJobRun as a :class:`JobRunStatus` (``application_monitoring``: see status_from_job_run)."""
    try:
        response = client.get_job_run(applicationId=application_id, jobRunId=job_run_id)
    except AWS_ERRORS as exc:
        raise emr_error(f"GetJobRun {application_id}/{job_run_id}", exc) from None
    return status_from_job_run(response["jobRun"], application_monitoring)


def newest_run_of_spec(
    client: EMRServerlessClient,
    application_id: str,
    name: str,
    spec_digest: str,
    *,
    now: Optional[dt.datetime] = None,
) -> Optional[JobRunStatus]:
    """The newest run of the spec ``spec_digest`` in the look-back window, or None.

    ListJobRuns once (its summaries carry name, state and creation time, not tags), keep the runs
    of this ``name``, newest first, and read them (GetJobRun, for the tags) only until one of the
    spec turns up: an hourly job's re-attach costs one GetJobRun, not one per run of the week.
    """
    since = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=REATTACH_LOOKBACK_DAYS)
    try:
        pages = client.get_paginator("list_job_runs").paginate(
            applicationId=application_id, createdAtAfter=since
        )
        listed = [summary for page in pages for summary in page.get("jobRuns", [])]
    except AWS_ERRORS as exc:
        raise emr_error(f"ListJobRuns {application_id}", exc) from None
    # Newest first; ListJobRuns lists newest first, which breaks ties of createdAt.
    named = [(i, s) for i, s in enumerate(listed) if s.get("name") == name]
    named.sort(key=lambda item: (item[1].get("createdAt") or since, -item[0]), reverse=True)
    for _, summary in named:
        status = get_run(client, application_id, str(summary["id"]))
        if status.tags.get(SPEC_TAG) == spec_digest:
            return status
    return None


#: A run created this long before the StartJobRun that returned it is an earlier run answering a
#: reused ``clientToken`` (allows for the difference between our clock and the service's).
CLOCK_SKEW = dt.timedelta(minutes=5)
#: How many earlier runs of reused tokens :func:`start_or_attach` steps over before giving up.
MAX_EARLIER_RUNS = 20


def token_nonce() -> str:
    """24 random hex characters: what makes an unkeyed submission's token unique."""
    return uuid.uuid4().hex[:24]


def start_or_attach(
    client: EMRServerlessClient,
    request: Mapping[str, Any],
    *,
    new_run: bool = False,
    nonce: Callable[[], str] = token_nonce,
    now: Optional[Callable[[], dt.datetime]] = None,
    before_start: Callable[[], None] = lambda: None,
) -> Tuple[JobRunStatus, bool]:
    """Start the run, or re-attach to the run of the same spec; returns ``(status, attached)``.

    ``before_start`` is called just before each StartJobRun (``sparkpg submit`` raises a held
    Ctrl-C there, while no run of this call exists yet).

    Re-attaches to the newest run of the spec while it is active; with a run key (tag
    ``sparkpg:run-key``) also to a finished one unless it FAILED or was CANCELLED. ``new_run``
    always starts a new one.

    Tokens: an unkeyed submission's token carries a random ``nonce``, so it is never sent for
    another run (how long the service remembers a token is undocumented). A keyed submission's
    token is deterministic; when StartJobRun answers with a run created before this call (the
    service remembered the token of a run older than the look-back window), that run is treated
    as any run of the spec: re-attached if reusable, else the next attempt is started.
    """
    application_id = str(request["applicationId"])
    spec_digest = str(request["tags"][SPEC_TAG])
    keyed = RUN_KEY_TAG in request["tags"]
    previous = newest_run_of_spec(client, application_id, str(request["name"]), spec_digest)
    if previous is not None and not new_run and reusable(previous, keyed=keyed):
        return previous, True
    attempt = (previous.attempt if previous is not None else 0) + 1
    submitted_at = (now or (lambda: dt.datetime.now(dt.timezone.utc)))()
    for _ in range(MAX_EARLIER_RUNS):
        final = with_attempt(request, attempt, None if keyed else nonce())
        before_start()
        try:
            response = client.start_job_run(**final)
        except AWS_ERRORS as exc:
            raise emr_error(f"StartJobRun on application {application_id}", exc) from None
        status = get_run(client, application_id, response["jobRunId"])
        if not answered_by_earlier_run(status, submitted_at):
            return status, False
        if not new_run and reusable(status, keyed=keyed):
            return status, True
        attempt = max(attempt, status.attempt) + 1
    raise AwsRequestError(
        f"StartJobRun on application {application_id} answered {MAX_EARLIER_RUNS} times with "
        f"an earlier run of the same client token (spec {spec_digest}); start it with "
        "--new-run or another --run-key"
    )


def answered_by_earlier_run(status: JobRunStatus, submitted_at: dt.datetime) -> bool:
    """Whether StartJobRun returned a run created before the call (a reused client token)."""
    created = status.created_at
    if created is None:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    return created < submitted_at - CLOCK_SKEW


def reusable(run: JobRunStatus, *, keyed: bool) -> bool:
    """Whether a submit re-attaches to ``run`` (see the module docstring)."""
    if run.state in ACTIVE_STATES:
        return True
    return keyed and run.state not in ("FAILED", "CANCELLED", "CANCELLING")


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
    on_poll: Callable[[JobRunStatus], None] = lambda status: None,
    deadline: Optional[float] = None,
    initial_interval: float = 2.0,
    max_interval: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    application_monitoring: Optional[Mapping[str, Any]] = None,
) -> JobRunStatus:
    """Poll GetJobRun with exponential backoff until a terminal state; call ``on_change`` per state.

    ``on_poll`` sees every poll (``--follow`` prints the driver log as it grows there).

    ``deadline`` is a ``clock()`` value; past it :class:`DeadlineReached` is raised (the run keeps
    running: cancelling is the caller's decision). Ctrl-C propagates as KeyboardInterrupt.
    ``application_monitoring``: the application's own logging (:func:`status_from_job_run`).
    """
    interval = initial_interval
    last_state = ""
    while True:
        status = get_run(client, application_id, job_run_id, application_monitoring)
        if status.state != last_state:
            on_change(status)
            last_state = status.state
            interval = initial_interval
        on_poll(status)
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
    except AWS_ERRORS as exc:
        raise emr_error(f"CancelJobRun {application_id}/{job_run_id}", exc) from None


def dashboard_url(client: EMRServerlessClient, status: JobRunStatus) -> Optional[str]:
    """The Spark UI of the run (GetDashboardForJobRun), None when the service gives none.

    The URL is pre-signed and short-lived (EMR Serverless API reference, GetDashboardForJobRun).
    """
    kwargs: Dict[str, Any] = {"applicationId": status.application_id, "jobRunId": status.job_run_id}
    if status.service_attempt:
        kwargs["attempt"] = status.service_attempt
    try:
        response = client.get_dashboard_for_job_run(**kwargs)
    except AWS_ERRORS:
        return None  # a link is a convenience: never fail a submit over it
    url = response.get("url")
    return str(url) if url else None


def recent_runs(
    client: EMRServerlessClient, application_id: str, *, limit: int = 20
) -> List[Dict[str, Any]]:
    """The newest ``limit`` runs of an application (ListJobRuns summaries), newest first."""
    runs: List[Dict[str, Any]] = []
    try:
        pages = client.get_paginator("list_job_runs").paginate(
            applicationId=application_id, PaginationConfig={"MaxItems": limit}
        )
        for page in pages:
            runs.extend(dict(run) for run in page.get("jobRuns", []))
    except AWS_ERRORS as exc:
        raise emr_error(f"ListJobRuns {application_id}", exc) from None
    runs.sort(key=lambda run: str(run.get("createdAt") or ""), reverse=True)
    return runs[:limit]


def dumps(data: Any) -> str:
    """JSON for ``--json`` output (datetimes as ISO strings)."""
    return json.dumps(data, indent=2, sort_keys=True, default=str)
