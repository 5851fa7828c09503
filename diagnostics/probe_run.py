"""``sparkpg doctor --probe``, operator side: submit the probe job, wait, read its log, evaluate.

The job itself (:mod:`spark_jobs.job.connection_probe`, run by ``entrypoints/probe.py`` on EMR) prints one
``SPARKPG-PROBE {json}`` line per connection to the driver's stdout; :func:`evaluate_probe`
(pure) turns those lines, or the run's end state and error, into one result per connection.
"""

from __future__ import annotations

import json
import re
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from connectors.errors import SparkPgError
from connectors.settings import Settings
from diagnostics.aws_reader import AwsReader
from diagnostics.results import FAIL, PASS, SKIP, CheckResult
from diagnostics.run import ProbeRunner
from spark_jobs.job.connection_probe import (
    PROBE_ENTRY_POINT,
    PROBE_MARKER,
    ConnectionProbe,
    encode_settings,
)
from submission.runs import JobRunStatus

PROBE_JOB_NAME = "sparkpg-doctor-probe"

# Error text -> the fix (docs/troubleshooting.md), most specific first.
_ERROR_FIXES = (
    (
        r"ClassNotFoundException: org\.postgresql\.Driver|No suitable driver",
        "Ensure `jdbc_driver_path` is configured in backend settings; Verify JDBC JAR exists in "
        "S3 (docs/troubleshooting.md#jdbc-driver-not-found)",
    ),
    (
        r"AccessDeniedException|SecretAccessDeniedError",
        "Verify EMR execution role has `EMRSecretsManagerPolicy`; Ensure Secrets Manager VPC "
        "endpoint exists (docs/troubleshooting.md#secrets-manager-access-denied)",
    ),
    (
        r"secretsmanager.*(timed out|Could not connect)|AwsEndpointUnreachableError",
        "Ensure Secrets Manager VPC endpoint exists (docs/troubleshooting.md#secrets-manager-access-denied)",
    ),
    (
        r"logs\..*(timed out|Could not connect)",
        "Verify CloudWatch Logs VPC endpoint exists and is available; Check security group "
        "allows traffic to VPC endpoint (docs/troubleshooting.md#cloudwatch-logs-timeout)",
    ),
    (
        r"SocketTimeoutException|connect timed out|Connection attempt timed out|"
        r"The connection attempt failed|Connection (to \S+ )?refused|UnknownHostException",
        "Verify RDS security group allows inbound from EMR security group; Check network "
        "connectivity between VPC subnets (docs/troubleshooting.md#postgresql-connection-timeout)",
    ),
    (
        r"The IAM auth token was signed for",
        "the database refused the IAM auth token: compare what it was signed for (in the error) "
        "with the cluster's endpoint, port and region, the role's rds-db:connect and the user's "
        "rds_iam grant (docs/auth.md#troubleshooting)",
    ),
    (
        r"28P01|password authentication failed",
        "the secret's username/password were refused by the database: update the secret (an "
        "Aurora-managed secret may have just rotated: retry) (docs/troubleshooting.md#credentials)",
    ),
    (
        r"SSL|PKIX|certificate",
        "TLS failed: set ssl_mode/ssl_root_cert for the connection (the RDS CA bundle must be on "
        "driver and executors)",
    ),
)


def parse_probe_output(text: str) -> Dict[str, ConnectionProbe]:
    """The probe lines of a driver stdout, by connection name (later lines win)."""
    found: Dict[str, ConnectionProbe] = {}
    for line in text.splitlines():
        index = line.find(PROBE_MARKER)
        if index < 0:
            continue
        try:
            data = json.loads(line[index + len(PROBE_MARKER) :])
            probe = ConnectionProbe(
                str(data["connection"]), bool(data["ok"]), str(data["stage"]), str(data["detail"])
            )
        except (ValueError, KeyError, TypeError):
            continue
        found[probe.connection] = probe
    return found


def fix_for_error(text: str) -> str:
    """The fix for an error text (docs/troubleshooting.md), or a pointer to the driver log."""
    for pattern, fix in _ERROR_FIXES:
        if re.search(pattern, text, re.IGNORECASE):
            return fix
    return "read the driver log (sparkpg logs) for the full error"


def last_error_line(log: Optional[str]) -> Optional[str]:
    """The last exception line of a driver log (Python or Java), if any."""
    if not log:
        return None
    lines = [
        line.strip()
        for line in log.splitlines()
        if re.search(r"(Exception|Error)\b", line) and not line.lstrip().startswith("at ")
    ]
    return lines[-1] if lines else None


def evaluate_probe(
    run: str,
    state: str,
    state_details: str,
    connections: Sequence[str],
    stdout: Optional[str],
    stderr: Optional[str],
    log_location: str,
) -> List[CheckResult]:
    """One result per connection from the probe run's end state and driver logs. Pure."""
    probes = parse_probe_output(stdout or "")
    results: List[CheckResult] = []
    for name in connections:
        check = f"probe:{name}"
        probe = probes.get(name)
        if probe is not None and probe.ok:
            results.append(
                CheckResult(
                    check, PASS, f"{run}: {probe.detail}", ref="postgresql-connection-timeout"
                )
            )
        elif probe is not None:
            results.append(
                CheckResult(
                    check,
                    FAIL,
                    f"{run} ({state}): {probe.stage} failed: {probe.detail}",
                    fix_for_error(probe.detail),
                    "postgresql-connection-timeout",
                )
            )
        elif state == "SUCCESS":
            results.append(
                CheckResult(
                    check,
                    FAIL,
                    f"{run} ended SUCCESS but its driver stdout ({log_location or 'not found'}) "
                    f"has no probe line for {name}",
                    "check that the deployed bundle's probe entry point is sparkpg's "
                    "(rebuild with ./build.sh and sparkpg deploy)",
                    "postgresql-connection-timeout",
                )
            )
        else:
            error = last_error_line(stderr) or state_details or "(no details)"
            results.append(
                CheckResult(
                    check,
                    FAIL,
                    f"{run} ended {state} before probing {name}: {error}"
                    + (f" (driver log: {log_location})" if log_location else ""),
                    fix_for_error(f"{error} {state_details}"),
                    "postgresql-connection-timeout",
                )
            )
    return results


class _ProbeStopped(Exception):
    """The probe cannot go on; ``result`` says why (raised and caught inside this module)."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.evidence)
        self.result = result


def _stopped(evidence: str, fix: str = "", status: str = FAIL) -> _ProbeStopped:
    return _ProbeStopped(CheckResult("probe", status, evidence, fix))


def probe_runner(
    reader: AwsReader,
    *,
    bundle_location: Optional[str] = None,
    timeout_minutes: float = 20.0,
    tags: Optional[Mapping[str, str]] = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    initial_interval: float = 5.0,
) -> ProbeRunner:
    """The probe as :func:`diagnostics.run.run_doctor` calls it: submit, wait, read, evaluate.

    The bundle comes from ``bundle_location`` or ``spark.emr_bundle_uri`` and must hold the
    ``probe`` entry point (``./build.sh`` includes it). Past ``timeout_minutes`` the run is
    cancelled and reported as failed.
    """

    def run(settings: Settings, role_arn: Optional[str]) -> List[CheckResult]:
        try:
            status = _submit(reader, settings, role_arn, bundle_location, timeout_minutes, tags)
            final = _wait(
                reader,
                status,
                deadline=clock() + timeout_minutes * 60,
                timeout_minutes=timeout_minutes,
                initial_interval=initial_interval,
                sleep=sleep,
                clock=clock,
            )
            return _evaluate_run(reader, final, settings)
        except _ProbeStopped as stopped:
            return [stopped.result]

    return run


def _submit(
    reader: AwsReader,
    settings: Settings,
    role_arn: Optional[str],
    bundle_location: Optional[str],
    timeout_minutes: float,
    tags: Optional[Mapping[str, str]],
) -> JobRunStatus:
    """Start the probe job (always a new run) from the deployed bundle."""
    from submission.bundle import load_bundle
    from submission.request import JobSpec, build_start_job_run_request
    from submission.runs import start_or_attach

    if not role_arn:
        raise _stopped(
            "no execution role to run the probe job as",
            "pass --role-arn or set spark.emr_execution_role_arn",
        )
    location = bundle_location or settings.spark.emr_bundle_uri
    if not location:
        raise _stopped(
            "no deployed bundle to run the probe from",
            "build and deploy it (./build.sh, sparkpg deploy) and set spark.emr_bundle_uri, "
            "or pass --bundle",
        )
    try:
        bundle = load_bundle(location, reader.client("s3"))
        if PROBE_ENTRY_POINT not in bundle.entrypoints:
            raise _stopped(
                f"the bundle {location} has no '{PROBE_ENTRY_POINT}' entry point "
                f"(it has: {', '.join(sorted(bundle.entrypoints)) or 'none'})",
                "rebuild with ./build.sh (it ships entrypoints/probe.py) and sparkpg deploy",
            )
        spec = JobSpec(
            name=PROBE_JOB_NAME,
            entry_point=PROBE_ENTRY_POINT,
            arguments=["--settings-b64", encode_settings(settings)],
            reads_postgres=True,
            execution_timeout_minutes=max(5, int(timeout_minutes)),
            tags=dict(tags or {}),
        )
        request = build_start_job_run_request(
            settings, spec, bundle, execution_role_arn=role_arn, allow_old_jdbc=True
        )  # the jdbc-jar check reports an old JAR; the probe still tests the connection
        status, _ = start_or_attach(reader.client("emr-serverless"), request, new_run=True)
    except SparkPgError as exc:
        raise _stopped(f"could not submit the probe job: {exc}", str(exc)) from None
    return status


def _run_id(status: JobRunStatus) -> str:
    return f"probe run {status.application_id}/{status.job_run_id}"


def _wait(
    reader: AwsReader,
    status: JobRunStatus,
    *,
    deadline: float,
    timeout_minutes: float,
    initial_interval: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> JobRunStatus:
    """Wait for the run's end; cancel it at the deadline or on Ctrl-C."""
    from submission.runs import DeadlineReached, cancel_run, wait_for_run

    emr = reader.client("emr-serverless")
    try:
        return wait_for_run(
            emr,
            status.application_id,
            status.job_run_id,
            deadline=deadline,
            initial_interval=initial_interval,
            sleep=sleep,
            clock=clock,
        )
    except DeadlineReached as exc:
        cancel_run(emr, status.application_id, status.job_run_id)
        raise _stopped(
            f"{_run_id(status)} still {exc.status.state} after {timeout_minutes:g} min; cancelled",
            "check the application's capacity and state (sparkpg status), then re-run",
        ) from None
    except KeyboardInterrupt:
        cancel_run(emr, status.application_id, status.job_run_id)
        raise
    except SparkPgError as exc:
        raise _stopped(f"{_run_id(status)}: {exc}", str(exc)) from None


def _evaluate_run(reader: AwsReader, final: JobRunStatus, settings: Settings) -> List[CheckResult]:
    """Read the ended run's driver logs and evaluate them (:func:`evaluate_probe`)."""
    from submission.logs import fetch_driver_log

    s3, logs = reader.client("s3"), reader.client("logs")
    try:
        stdout = fetch_driver_log(final, s3=s3, logs=logs, stream="stdout")
        stderr = (
            fetch_driver_log(final, s3=s3, logs=logs, stream="stderr")
            if final.state != "SUCCESS"
            else None
        )
    except SparkPgError as exc:
        raise _stopped(
            f"{_run_id(final)} ended {final.state}; driver log unreadable: {exc}", status=SKIP
        ) from None
    shown = stderr or stdout
    return evaluate_probe(
        _run_id(final),
        final.state,
        final.state_details,
        [c.name for c in settings.enabled_connections],
        stdout.text if stdout else None,
        stderr.text if stderr else None,
        shown.source if shown else "",
    )
