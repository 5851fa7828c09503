"""``sparkpg submit``, ``status``, ``logs`` and ``cancel``: EMR Serverless job runs from the shell.

``submit`` reads the application (GetApplication) and refuses a bundle that does not fit it
(architecture, Python, Spark: :func:`submission.compat.bundle_mismatches`), says which JDBC JAR
the job uses (and refuses one older than 42.7.12 unless ``--allow-old-jdbc``), sizes driver and
executors to the pre-initialised workers, builds the StartJobRun request with
:func:`submission.request.build_start_job_run_request` (the backend's function), and starts the
run or re-attaches to an active run of the same spec (``--run-key``: the same logical run).
With ``--wait`` it follows the run: state changes (QUEUED included), exponential backoff, a
``--timeout`` deadline (then, or on Ctrl-C, it offers to cancel; ``--yes`` cancels without asking;
declining leaves it running, exit 9; SIGTERM cancels with ``--yes`` and asks nobody; both are
handled from the moment the run exists: :mod:`submission.interrupts`); ``--follow`` prints the driver log as it grows,
``--show-stdout`` the driver's stdout at the end. When the run fails it prints the Python
traceback or Java exception from the driver's stderr (S3, else CloudWatch), not the
256-character ``stateDetails``. ``runs`` lists an application's recent runs. Exit codes:
``entrypoints/errors.py``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from connectors.aws import (
    AWS_ERRORS,
    emr_serverless_client,
    logs_client,
    region_from_arn,
    s3_client,
)
from connectors.errors import (
    AwsRequestError,
    BundleError,
    JobRunCancelledError,
    JobRunDetachedError,
    JobRunFailedError,
    SettingsError,
)
from connectors.settings import Settings, load_settings
from entrypoints.errors import EXIT_OK
from submission.bundle import BundleManifest, load_bundle
from submission.compat import bundle_mismatches, run_option_problems
from submission.interrupts import Interrupted, SignalGuard
from submission.links import console_links
from submission.logs import CloudWatchTail, driver_error, fetch_driver_log
from submission.request import (
    JobSpec,
    build_start_job_run_request,
    check_jdbc_jar,
    choose_application,
    jdbc_jar,
)
from submission.runs import (
    DeadlineReached,
    JobRunStatus,
    application_monitoring,
    cancel_run,
    dashboard_url,
    dumps,
    emr_error,
    get_run,
    recent_runs,
    start_or_attach,
    wait_for_run,
)

_RUN_ARN = re.compile(
    r"^arn:aws[\w-]*:emr-serverless:[\w-]+:\d+:/applications/(\w+)/jobruns/(\w+)$"
)
DEFAULT_BUNDLE = "dist/deployment.json"
CANCEL_WAIT_SECONDS = 300.0


def register(subcommands: Any) -> None:
    """Add ``submit``, ``status``, ``logs`` and ``cancel``."""
    submit = subcommands.add_parser("submit", help="run a job on EMR Serverless")
    submit.add_argument("--settings", required=True, help="settings.json (local path or s3://)")
    submit.add_argument(
        "--job-settings",
        help="settings URI the job reads on EMR (default: --settings when it is s3://)",
    )
    submit.add_argument(
        "--bundle",
        help=f"deployed manifest (s3:// or path; default spark.emr_bundle_uri, else {DEFAULT_BUNDLE})",
    )
    submit.add_argument("--entry-point", default="read_tables", help="entry point in the bundle")
    submit.add_argument("--table", action="append", default=[], help="connection.schema.table")
    submit.add_argument("--output", help="output URI passed to the job")
    submit.add_argument("--format", help="output format passed to the job")
    submit.add_argument(
        "--arg", action="append", default=[], help="extra entry-point argument (repeatable)"
    )
    submit.add_argument("--name", help="job run name (default: entry point and first table)")
    submit.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    submit.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE")
    submit.add_argument(
        "--execution-timeout-minutes",
        type=int,
        default=180,
        help="the run's timeout (default 180). Its limits are those of the application's "
        "release: 0..1000000 (0: none) before emr-7.11.0 (emr-7.0.0 included), 1..10080 "
        "from emr-7.11.0; checked against the application before submitting",
    )
    submit.add_argument("--role", help="execution role ARN (default spark.emr_execution_role_arn)")
    submit.add_argument(
        "--run-key",
        help="idempotency key of a scheduler (e.g. Airflow's run id or logical date): the same "
        "key re-attaches to its run unless it failed; a new key always starts a new run",
    )
    submit.add_argument("--new-run", action="store_true", help="start a new run even if one exists")
    submit.add_argument(
        "--allow-old-jdbc",
        action="store_true",
        help="run even with a pgjdbc JAR older than 42.7.12 (no recent CVE fixes)",
    )
    submit.add_argument("--log-uri", help="S3 log URI of the run (default spark.emr_log_uri)")
    submit.add_argument(
        "--log-group",
        help="CloudWatch log group of the run (default spark.emr_cloudwatch_log_group)",
    )
    submit.add_argument(
        "--max-attempts",
        type=int,
        help="retryPolicy.maxAttempts (1-10): the service re-runs a failed run; needs an "
        "application on emr-7.1.0 or later (refused on emr-7.0.0)",
    )
    submit.add_argument(
        "--max-failed-attempts-per-hour",
        type=int,
        help="refused: retryPolicy.maxFailedAttemptsPerHour applies only to streaming runs, and "
        "sparkpg submits batch runs",
    )
    submit.add_argument("--dry-run", action="store_true", help="print the request, start nothing")
    _waiting_options(submit)
    _aws_options(submit)
    submit.set_defaults(handler=submit_command)

    for name, handler, text in (
        ("status", status_command, "show a job run's state (exit code by state)"),
        ("logs", logs_command, "print a job run's driver log"),
        ("cancel", cancel_command, "cancel a job run"),
    ):
        parser = subcommands.add_parser(name, help=text)
        parser.add_argument("run", help="job run id or ARN")
        parser.add_argument("--application-id", help="default: from the ARN or the settings")
        parser.add_argument("--settings", help="settings.json, to find the application id")
        _aws_options(parser)
        if name == "logs":
            parser.add_argument("--stream", choices=("stderr", "stdout"), default="stderr")
            parser.add_argument("--source", choices=("auto", "s3", "cloudwatch"), default="auto")
            parser.add_argument(
                "--error", action="store_true", help="only the traceback or Java exception"
            )
        if name == "cancel":
            parser.add_argument("--wait", action="store_true", help="wait until CANCELLED")
        parser.set_defaults(handler=handler)

    runs = subcommands.add_parser("runs", help="list an application's recent job runs")
    runs.add_argument("--application-id", help="default: the applications of --settings")
    runs.add_argument("--settings", help="settings.json, to find the application ids")
    runs.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    _aws_options(runs)
    runs.set_defaults(handler=runs_command)


def _waiting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="follow the run to its end")
    parser.add_argument(
        "--timeout", type=float, help="with --wait: seconds until the run is cancelled"
    )
    parser.add_argument("--yes", action="store_true", help="cancel without asking")
    parser.add_argument(
        "--follow", action="store_true", help="with --wait: print the driver log as it grows"
    )
    parser.add_argument(
        "--show-stdout",
        action="store_true",
        help="with --wait: print the driver's stdout (the per-table summary) when the run ends",
    )
    parser.add_argument("--poll-interval", type=float, default=2.0, help=argparse.SUPPRESS)
    parser.add_argument("--max-poll-interval", type=float, default=30.0, help=argparse.SUPPRESS)


def _aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="AWS region (default: the environment's)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def _pairs(items: List[str], option: str) -> Dict[str, str]:
    result: Dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SettingsError(f"{option} {item!r}: expected KEY=VALUE")
        result[key] = value
    return result


def job_spec_from_args(args: argparse.Namespace) -> JobSpec:
    """The :class:`JobSpec` of a ``sparkpg submit`` command line."""
    job_settings = args.job_settings or (
        args.settings if args.settings.startswith("s3://") else None
    )
    if job_settings is None and args.entry_point in ("read_tables", "read_tables.py"):
        raise SettingsError(
            f"--settings {args.settings} is a local file, which the job on EMR cannot read; "
            "upload it and pass --job-settings s3://bucket/key (or give --settings as s3://)"
        )
    try:
        return JobSpec(
            name=args.name,
            entry_point=args.entry_point,
            settings_uri=job_settings,
            tables=args.table,
            output=args.output,
            format=args.format,
            arguments=args.arg,
            tags=_pairs(args.tag, "--tag"),
            spark_conf=_pairs(args.conf, "--conf"),
            execution_timeout_minutes=args.execution_timeout_minutes,
            run_key=args.run_key,
            max_attempts=args.max_attempts,
            max_failed_attempts_per_hour=args.max_failed_attempts_per_hour,
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise SettingsError(f"invalid job: {exc}") from None


def with_log_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    """The settings with ``--log-uri`` / ``--log-group`` in place of the file's values."""
    update: Dict[str, Any] = {}
    if getattr(args, "log_uri", None):
        update["emr_log_uri"] = args.log_uri
    if getattr(args, "log_group", None):
        update.update({"emr_cloudwatch_log_group": args.log_group, "emr_cloudwatch_logging": True})
    if not update:
        return settings
    return settings.model_copy(update={"spark": settings.spark.model_copy(update=update)})


def get_application(args: argparse.Namespace, application_id: str) -> Optional[Dict[str, Any]]:
    """GetApplication's ``application``; None (with a warning) when the caller may not read it."""
    client = emr_serverless_client(args.region, args.profile)
    try:
        return dict(client.get_application(applicationId=application_id)["application"])
    except AWS_ERRORS as exc:
        error = emr_error(f"GetApplication {application_id}", exc)
        if not error.denied:
            raise error from None
        _say(
            args,
            f"warning: {error}; the bundle is not checked against the application, and driver "
            "and executor sizes come from spark.emr_initial_capacity only",
        )
        return None


def check_bundle_fits(bundle: BundleManifest, application: Dict[str, Any]) -> None:
    """Refuse a bundle built for another architecture, Python or Spark than the application's."""
    problems = bundle_mismatches(
        architecture=bundle.runtime.architecture,
        python=bundle.runtime.python,
        spark=bundle.runtime.spark,
        application=application,
    )
    if problems:
        raise BundleError(
            f"the bundle ({bundle.runtime.release_label}, Python {bundle.runtime.python}, "
            f"{bundle.runtime.architecture}) does not fit application "
            f"{application.get('applicationId')} (release {application.get('releaseLabel')}, "
            f"{application.get('architecture') or 'X86_64'}): " + "; ".join(problems)
        )


def check_release_accepts(spec: JobSpec, application: Dict[str, Any]) -> None:
    """Refuse options the application's release refuses (retries before emr-7.1.0, timeouts)."""
    release = str(application.get("releaseLabel") or "")
    problems = run_option_problems(
        release,
        max_attempts=spec.max_attempts,
        execution_timeout_minutes=spec.execution_timeout_minutes,
    )
    if problems:
        raise SettingsError(
            f"application {application.get('applicationId')} ({release}) would refuse this run: "
            + "; ".join(problems)
        )


def submit_command(args: argparse.Namespace) -> int:
    """``sparkpg submit``; Ctrl-C and SIGTERM raise :class:`Interrupted` throughout."""
    with SignalGuard() as signals:
        return _submit(args, signals)


def _submit(args: argparse.Namespace, signals: SignalGuard) -> int:
    settings = with_log_overrides(load_settings(args.settings), args)
    spec = job_spec_from_args(args)
    bundle_location = args.bundle or settings.spark.emr_bundle_uri or DEFAULT_BUNDLE
    bundle = load_bundle(bundle_location, s3_client(args.region, args.profile))
    if spec.uses_postgres or settings.postgres.jdbc_driver_path:
        jar = jdbc_jar(settings, bundle)
        check_jdbc_jar(jar, allow_old=args.allow_old_jdbc)
        _say(args, f"the job uses {jar.describe()}")
        if not jar.safe:
            _say(args, "warning: this pgjdbc predates 42.7.12 and its CVE fixes (--allow-old-jdbc)")
    application = None
    if not args.dry_run:
        application = get_application(args, choose_application(settings, spec))
        if application is not None:
            check_bundle_fits(bundle, application)
            check_release_accepts(spec, application)
    request = build_start_job_run_request(
        settings,
        spec,
        bundle,
        execution_role_arn=args.role,
        initial_capacity=(application or {}).get("initialCapacity"),
        allow_old_jdbc=args.allow_old_jdbc,
    )
    if args.dry_run:
        print(dumps(request))
        return EXIT_OK
    client = emr_serverless_client(args.region, args.profile)
    # A Ctrl-C or SIGTERM once the run exists reaches _interrupted with the run in hand (held
    # while StartJobRun is under way, raised before it is sent).
    started: Optional[Tuple[JobRunStatus, bool]] = None
    try:
        with signals.holding():
            started = start_or_attach(
                client, request, new_run=args.new_run, before_start=signals.checkpoint
            )
        return _report_and_follow(args, *started, application)
    except KeyboardInterrupt as interrupt:
        if started is None:
            raise
        final = _interrupted(args, started[0], interrupt)
        return finish(args, final, {"attached": started[1]})


def _report_and_follow(
    args: argparse.Namespace,
    status: JobRunStatus,
    attached: bool,
    application: Optional[Dict[str, Any]],
) -> int:
    """Print the started (or re-attached) run and its links; with ``--wait`` follow it."""
    client = emr_serverless_client(args.region, args.profile)
    # The application's own logging applies under the run's (the infrastructure note's application
    # configures CloudWatch itself): where the run's logs are comes from both.
    monitoring = dict((application or {}).get("monitoringConfiguration") or {})
    if monitoring:
        status = get_run(client, status.application_id, status.job_run_id, monitoring)
    verb = "re-attached to" if attached else "started"
    _say(
        args,
        f"{verb} job run {status.job_run_id} ({status.name}) on application "
        f"{status.application_id}: {status.state}",
    )
    if attached:
        _say(args, "  the same spec is still running; --new-run starts another run")
    links = run_links(args, status)
    for name, url in links.items():
        _say(args, f"  {name}: {url}")
    result: Dict[str, Any] = {**status.to_dict(), "attached": attached, "links": links}
    if not args.wait:
        if args.json:
            print(dumps(result))
        return EXIT_OK
    final = follow(args, status, monitoring)
    return finish(args, final, {"attached": attached})


def run_links(args: argparse.Namespace, status: JobRunStatus) -> Dict[str, str]:
    """The run's console links (logs) and, once the service has one, its Spark UI."""
    client = emr_serverless_client(args.region, args.profile)
    links = console_links(status, str(client.meta.region_name))
    url = dashboard_url(client, status)
    if url:
        links["sparkUi"] = url
    return links


def follow(
    args: argparse.Namespace,
    status: JobRunStatus,
    application_monitoring: Optional[Dict[str, Any]] = None,
) -> JobRunStatus:
    """Wait for the run; on the deadline or Ctrl-C offer to cancel it.

    ``application_monitoring``: the application's own logging, applied under the run's.
    """
    client = emr_serverless_client(args.region, args.profile)
    deadline = time.monotonic() + args.timeout if args.timeout else None
    printed = [status.state]
    tail = _driver_tail(args, status) if args.follow else None

    def on_change(current: JobRunStatus) -> None:
        if current.state != printed[-1]:
            detail = f" ({current.state_details})" if current.state_details else ""
            _say(args, f"{time.strftime('%H:%M:%S')} {current.job_run_id}: {current.state}{detail}")
            printed.append(current.state)

    def on_poll(current: JobRunStatus) -> None:
        if tail is not None and current.state in ("RUNNING", "SUCCESS", "FAILED", "CANCELLED"):
            tail.follow(current)  # a service retry writes its own stream
            for line in tail.read_new() or []:
                print(f"driver| {line}", file=sys.stderr, flush=True)

    try:
        return wait_for_run(
            client,
            status.application_id,
            status.job_run_id,
            on_change=on_change,
            on_poll=on_poll,
            deadline=deadline,
            initial_interval=args.poll_interval,
            max_interval=args.max_poll_interval,
            application_monitoring=application_monitoring,
        )
    except DeadlineReached as reached:
        return _cancel_or_detach(args, reached.status, f"--timeout {args.timeout:g} s reached")


def _interrupted(
    args: argparse.Namespace, status: JobRunStatus, interrupt: KeyboardInterrupt
) -> JobRunStatus:
    """Ctrl-C or SIGTERM once the run exists: with ``--wait`` cancel it (``--yes``) or ask.

    Nobody answers a SIGTERM's question (a scheduler sent it), so then only ``--yes`` cancels.
    Without ``--wait`` the run was to go on anyway: it is left running.
    """
    terminated = isinstance(interrupt, Interrupted) and interrupt.terminated
    why = "terminated (SIGTERM)" if terminated else "interrupted"
    client = emr_serverless_client(args.region, args.profile)
    last = get_run(client, status.application_id, status.job_run_id)
    if last.terminal:
        raise interrupt  # nothing left to cancel (e.g. Ctrl-C while its logs are read): exit 130
    if not args.wait:
        raise _detached(last, f"{why} after the run started (no --wait)")
    return _cancel_or_detach(args, last, why, ask=not terminated)


def _driver_tail(args: argparse.Namespace, status: JobRunStatus) -> Optional[CloudWatchTail]:
    tail = CloudWatchTail.for_run(logs_client(args.region, args.profile), status)
    if tail is None:
        _say(args, "--follow: the run has no CloudWatch logging, so its log shows only at the end")
    return tail


def _detached(status: JobRunStatus, why: str) -> JobRunDetachedError:
    return JobRunDetachedError(
        f"{why}; job run {status.job_run_id} left {status.state} on application "
        f"{status.application_id}. Follow it with: sparkpg status {status.arn or status.job_run_id}",
        state=status.state,
        job_run_id=status.job_run_id,
    )


def _cancel_or_detach(
    args: argparse.Namespace, status: JobRunStatus, why: str, *, ask: bool = True
) -> JobRunStatus:
    """Cancel the run with ``--yes`` or when the user says so (``ask``); else leave it (exit 9)."""
    client = emr_serverless_client(args.region, args.profile)
    if not args.yes and not (
        ask and _confirm(f"{why}: cancel job run {status.job_run_id}? [y/N] ")
    ):
        raise _detached(status, why if ask else f"{why} without --yes")
    _say(args, f"{why}: cancelling job run {status.job_run_id}")
    cancel_run(client, status.application_id, status.job_run_id)
    try:
        return wait_for_run(
            client,
            status.application_id,
            status.job_run_id,
            on_change=lambda s: _say(
                args, f"{time.strftime('%H:%M:%S')} {s.job_run_id}: {s.state}"
            ),
            deadline=time.monotonic() + CANCEL_WAIT_SECONDS,
            initial_interval=args.poll_interval,
            max_interval=args.max_poll_interval,
        )
    except (DeadlineReached, KeyboardInterrupt):
        raise JobRunDetachedError(
            f"cancel requested for job run {status.job_run_id}, not confirmed yet; check with "
            f"sparkpg status {status.job_run_id} --application-id {status.application_id}",
            state="CANCELLING",
            job_run_id=status.job_run_id,
        ) from None


def _confirm(question: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        print(f"{question}(no terminal to ask: not cancelling; --yes cancels)", file=sys.stderr)
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except (EOFError, KeyboardInterrupt):
        return False


def finish(args: argparse.Namespace, status: JobRunStatus, extra: Dict[str, Any]) -> int:
    """Print the outcome (and the driver's error when the run failed); raise for non-success."""
    result: Dict[str, Any] = {**status.to_dict(), **extra}
    if "links" not in result:
        result["links"] = run_links(args, status)
    if getattr(args, "show_stdout", False):
        stdout = fetch_driver_log(
            status,
            s3=s3_client(args.region, args.profile),
            logs=logs_client(args.region, args.profile),
            stream="stdout",
        )
        result["driverStdout"] = stdout.text if stdout else None
        if not args.json:
            if stdout is None:
                print("no driver stdout found", file=sys.stderr)
            else:
                print(f"# driver stdout ({stdout.source})", file=sys.stderr)
                sys.stdout.write(stdout.text)
    if status.state == "FAILED":
        error, source = _driver_error(args, status)
        result.update({"driverError": error, "driverLog": source})
        if not args.json:
            print(f"job run {status.job_run_id} FAILED: {status.state_details}", file=sys.stderr)
            if error:
                print(f"driver error (from {source}):\n{error}", file=sys.stderr)
            else:
                where = ", ".join(status.driver_log_locations().values()) or "no log location"
                print(f"no driver log found yet ({where})", file=sys.stderr)
    if args.json:
        print(dumps(result))
    else:
        for name, url in result["links"].items():
            print(f"  {name}: {url}", file=sys.stderr)
        if status.state == "SUCCESS":
            print(f"job run {status.job_run_id} SUCCESS")
    if status.state == "FAILED":
        raise JobRunFailedError(
            f"job run {status.job_run_id} failed", state=status.state, job_run_id=status.job_run_id
        )
    if status.state == "CANCELLED":
        raise JobRunCancelledError(
            f"job run {status.job_run_id} was cancelled{': ' + status.state_details if status.state_details else ''}",
            state=status.state,
            job_run_id=status.job_run_id,
        )
    return EXIT_OK


def _driver_error(args: argparse.Namespace, status: JobRunStatus) -> Tuple[Optional[str], str]:
    log = fetch_driver_log(
        status,
        s3=s3_client(args.region, args.profile),
        logs=logs_client(args.region, args.profile),
    )
    if log is None:
        return None, ""
    return driver_error(log.text) or log.text[-3000:], log.source


def _say(args: argparse.Namespace, message: str) -> None:
    """Progress for humans: stdout normally, stderr with --json (stdout is for the JSON)."""
    print(message, file=sys.stderr if args.json else sys.stdout, flush=True)


def resolve_run(args: argparse.Namespace) -> Tuple[str, str]:
    """``(application id, job run id)`` from an ARN, ``--application-id`` or the settings."""
    match = _RUN_ARN.match(args.run)
    if match:
        # The ARN names the run's region: it wins over the default region (not over --region).
        args.region = args.region or region_from_arn(args.run)
        return match.group(1), match.group(2)
    if args.application_id:
        return args.application_id, args.run
    if args.settings:
        settings: Settings = load_settings(args.settings)
        candidates = [
            a
            for a in (settings.spark.emr_postgres_application_id, settings.spark.emr_application_id)
            if a
        ]
        client = emr_serverless_client(args.region, args.profile)
        for application_id in candidates:
            try:
                get_run(client, application_id, args.run)
            except AwsRequestError as exc:
                if exc.not_found:  # not in this application; try the next
                    continue
                raise  # unreachable, access denied, ...: say so, not "in none of them"
            return application_id, args.run
        raise SettingsError(
            f"job run {args.run} is in none of the applications of {args.settings}: {candidates}"
        )
    raise SettingsError(
        f"which application is job run {args.run} in? Give its ARN, --application-id or --settings"
    )


def status_command(args: argparse.Namespace) -> int:
    """``sparkpg status RUN``: exit code 0 running/succeeded, 6 failed, 7 cancelled."""
    application_id, run_id = resolve_run(args)
    client = emr_serverless_client(args.region, args.profile)
    status = get_run(client, application_id, run_id, application_monitoring(client, application_id))
    if not status.terminal:
        if args.json:
            print(dumps(status.to_dict()))
        else:
            print(f"job run {run_id} ({status.name}) on {application_id}: {status.state}")
        return EXIT_OK
    if not args.json:
        print(f"job run {run_id} ({status.name}) on {application_id}: {status.state}")
    return finish(args, status, {})


def logs_command(args: argparse.Namespace) -> int:
    """``sparkpg logs RUN``: the driver's stderr (or stdout), or just its error with --error."""
    application_id, run_id = resolve_run(args)
    client = emr_serverless_client(args.region, args.profile)
    status = get_run(client, application_id, run_id, application_monitoring(client, application_id))
    log = fetch_driver_log(
        status,
        s3=s3_client(args.region, args.profile),
        logs=logs_client(args.region, args.profile),
        stream=args.stream,
        source=args.source,
    )
    if log is None:
        where = ", ".join(status.driver_log_locations(args.stream).values())
        raise SettingsError(
            f"no driver {args.stream} for job run {run_id} (state {status.state}) at "
            f"{where or 'any location: the run has neither S3 nor CloudWatch logging'}; "
            "logs appear once the driver has started"
        )
    text = driver_error(log.text) if args.error else log.text
    if args.json:
        print(dumps({**status.to_dict(), "source": log.source, "log": text}))
    else:
        print(f"# {log.source}", file=sys.stderr)
        sys.stdout.write((text or "(no traceback or Java exception in the log)") + "\n")
    return EXIT_OK


def _duration(run: Dict[str, Any]) -> str:
    """The run's wall time: from creation to its end (or its last update while still going)."""
    start, end = run.get("createdAt"), run.get("updatedAt")
    if not start or not end:
        return "-"
    seconds = int((end - start).total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def runs_command(args: argparse.Namespace) -> int:
    """``sparkpg runs``: recent runs with state, duration and name, newest first."""
    if args.application_id:
        applications = [args.application_id]
    elif args.settings:
        spark = load_settings(args.settings).spark
        applications = list(
            dict.fromkeys(
                a for a in (spark.emr_postgres_application_id, spark.emr_application_id) if a
            )
        )
    else:
        raise SettingsError("which application? Give --application-id or --settings")
    client = emr_serverless_client(args.region, args.profile)
    listed: List[Dict[str, Any]] = []
    for application_id in applications:
        listed += recent_runs(client, application_id, limit=args.limit)
    listed.sort(key=lambda run: str(run.get("createdAt") or ""), reverse=True)
    listed = listed[: args.limit]
    if args.json:
        print(dumps([{**run, "duration": _duration(run)} for run in listed]))
        return EXIT_OK
    print(f"{'CREATED':<20} {'STATE':<11} {'DURATION':>9} {'ATTEMPT':>7}  {'RUN':<18} NAME")
    for run in listed:
        created = run.get("createdAt")
        shown = created.strftime("%Y-%m-%d %H:%M:%S") if created else "-"
        print(
            f"{shown:<20} {run.get('state', '?'):<11} {_duration(run):>9} "
            f"{run.get('attempt') or 1:>7}  {run.get('id', '?'):<18} {run.get('name', '')}"
        )
    return EXIT_OK


def cancel_command(args: argparse.Namespace) -> int:
    """``sparkpg cancel RUN``."""
    application_id, run_id = resolve_run(args)
    client = emr_serverless_client(args.region, args.profile)
    cancel_run(client, application_id, run_id)
    print(f"cancel requested for job run {run_id}", file=sys.stderr)
    if not args.wait:
        return EXIT_OK
    status = wait_for_run(
        client, application_id, run_id, deadline=time.monotonic() + CANCEL_WAIT_SECONDS
    )
    print(f"job run {run_id}: {status.state}")
    return EXIT_OK
