"""A local moto server with the few corrections sparkpg's tests need, and a context manager for it.

moto stands in for AWS in the Terraform, submission and ``doctor`` tests. Where moto's EMR
Serverless model differs from the real service in a way that breaks a client we use, it is
corrected here, in this one file, never in production code:

1. ``CreateApplication`` leaves the application in state ``STARTED``; the real service creates it
   in ``CREATING`` -> ``CREATED`` (it starts only on job submission or ``StartApplication``). The
   Terraform AWS provider waits for ``CREATED`` and times out otherwise, and moto refuses to update
   or delete a ``STARTED`` application. Patched: new applications are ``CREATED``.
2. ``CreateApplication`` accepts only the upper-case types ``SPARK``/``HIVE``; the service accepts
   any case (the seed and the provider's docs write ``Spark``/``hive``). Patched: the type is
   upper-cased before moto's check (moto stores it capitalised, ``Spark``, as the service does).
3. moto drops ``architecture``, so ``GetApplication`` returns none and every second
   ``terraform plan`` shows a change. Patched: the requested architecture (service default
   ``X86_64``) is stored on create and update and returned by ``GetApplication``.
4. S3 bucket policies: moto evaluates them without the request's context, and treats a condition
   it cannot evaluate (anything but ``StringEquals``) as met. So the usual "Deny s3:* if
   ``aws:SecureTransport`` is false" policy denies every request, TLS or not. Patched: in bucket
   policies a conditional Deny statement does not apply (moto cannot tell whether it would).
5. EC2 ``DescribeSecurityGroupRules`` drops the description of a rule that references another
   security group (moto reads it only from CIDR ranges), so a second ``terraform plan`` wants to
   set it again. Patched: the description is also read from the referenced group.

Job runs (the submission tests, ``tests/deploy``; :func:`apply_job_run_patches`):

6. ``StartJobRun`` ignores ``clientToken`` and starts a duplicate on every call; the service is
   idempotent on it. Patched: a token already used on the application returns that run.
7. Runs are born ``SUCCESS``; the service walks SUBMITTED -> SCHEDULED -> RUNNING -> SUCCESS or
   FAILED (QUEUED first when the application's concurrency is exhausted). Patched: each run
   follows a state script, one step per ``GetJobRun`` (the first call shows the first state,
   every later call the next one; the last state sticks); the default is
   ``SUBMITTED,SCHEDULED,RUNNING,SUCCESS``; a test scripts another with the run tag
   ``moto:states`` (e.g. ``QUEUED,RUNNING,FAILED``; a script ending in ``RUNNING`` stays there).
   A FAILED run gets the service's ``stateDetails``, cut at 256 characters.
8. ``CancelJobRun`` jumps to ``CANCELLED``; the service goes ``CANCELLING`` first. Patched: the
   next ``GetJobRun`` after ``CANCELLING`` shows ``CANCELLED``.
9. No driver logs exist. Patched: when a run ends, its driver ``stdout``/``stderr`` are written
   where the run's ``monitoringConfiguration`` says: ``<logUri>/applications/<app>/jobs/<run>/
   SPARK_DRIVER/stderr.gz`` in S3 (if the bucket exists) and the CloudWatch stream
   ``[prefix/]applications/<app>/jobs/<run>/SPARK_DRIVER/stderr``. A FAILED run's stderr holds a
   Python traceback, or a Java exception when the run has the tag ``moto:failure=java``.
10. ``ListJobRuns`` fails with ResourceNotFoundException for an application that has no runs yet,
   and compares ``createdAtAfter``/``createdAtBefore`` (strings on the wire) with datetimes.
   Patched: an empty list, and the times are parsed first.
11. A run's driver runs no code, so its stdout says nothing the client could read. Patched: a test
   scripts the driver's stdout with the run tag ``moto:stdout`` (at most 256 characters, like any
   tag value; the ``doctor --probe`` tests put the probe's result line there).

Run it::

    python -m devtools.moto_server --port 5000

or, from tests::

    with moto_server() as endpoint_url:   # "http://127.0.0.1:<free port>"
        boto3.client("s3", endpoint_url=endpoint_url, ...)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

DEFAULT_ARCHITECTURE = "X86_64"
_REPO_ROOT = Path(__file__).resolve().parent.parent


def apply_patches() -> None:
    """Correct moto's EMR Serverless model (see the module docstring). Idempotent."""
    from moto.emrserverless import models, responses

    backend_cls: Any = models.EMRServerlessBackend
    response_cls: Any = responses.EMRServerlessResponse
    if getattr(backend_cls, "_sparkpg_patched", False):
        return

    original_create: Callable[..., Any] = backend_cls.create_application

    def create_application(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Patch 2: any case for the engine type.
        if isinstance(kwargs.get("application_type"), str):
            kwargs["application_type"] = kwargs["application_type"].upper()
        application = original_create(self, *args, **kwargs)
        # Patch 1: the service's state after creation.
        application.state = "CREATED"
        application.architecture = DEFAULT_ARCHITECTURE
        return application

    original_create_response: Callable[..., Any] = response_cls.create_application
    original_update_response: Callable[..., Any] = response_cls.update_application

    def _store_architecture(handler: Any, application_id: Optional[str]) -> None:
        architecture = handler._get_param("architecture")
        if application_id and architecture:
            backend = handler.emrserverless_backend
            backend.get_application(application_id).architecture = architecture

    def create_application_response(self: Any) -> Any:
        # Patch 3: keep the requested architecture.
        result = original_create_response(self)
        application_ids = [
            app.id
            for app in self.emrserverless_backend.applications.values()
            if app.client_token == self._get_param("clientToken")
            and app.name == self._get_param("name")
        ]
        _store_architecture(self, application_ids[-1] if application_ids else None)
        return result

    def update_application_response(self: Any) -> Any:
        _store_architecture(self, self._get_param("applicationId"))
        return original_update_response(self)

    backend_cls.create_application = create_application
    response_cls.create_application = create_application_response
    response_cls.update_application = update_application_response
    _patch_s3_bucket_policy()
    _patch_security_group_rule_description()
    backend_cls._sparkpg_patched = True


def _patch_security_group_rule_description() -> None:
    """Patch 5: a rule's description, whether it names a CIDR range or a security group."""
    from moto.ec2.models import security_groups

    def description(self: Any) -> Optional[str]:
        found = self.ip_range.get("Description") or (self.source_group or {}).get("Description")
        return str(found) if found is not None else None

    rule_cls: Any = security_groups.SecurityGroupRule
    rule_cls.description = property(description)


def _patch_s3_bucket_policy() -> None:
    """Patch 4: a conditional Deny in a bucket policy does not apply."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.s3 import models as s3_models

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        statements = json.loads(self.policy.decode())["Statement"]
        if isinstance(statements, dict):
            statements = [statements]
        permitted = False
        for raw in statements:
            if raw.get("Condition") and raw.get("Effect") == "Deny":
                continue
            result = IAMPolicyStatement(raw).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    bucket_cls: Any = s3_models.FakeBucket
    bucket_cls.get_permission = get_permission


JOB_STATES_TAG = "moto:states"
JOB_FAILURE_TAG = "moto:failure"
JOB_STDOUT_TAG = "moto:stdout"
DEFAULT_JOB_STATES = ("SUBMITTED", "SCHEDULED", "RUNNING", "SUCCESS")
_TERMINAL = ("SUCCESS", "FAILED", "CANCELLED")

_DRIVER_STDOUT = "sparkpg moto driver stdout\n"
_DRIVER_LOG_HEAD = (
    "25/11/26 02:13:10 INFO SparkContext: Running Spark version 3.5.0-amzn-0\n"
    "25/11/26 02:13:11 INFO ResourceUtils: No custom resources configured for spark.driver.\n"
)
_DRIVER_LOG_TAIL = "25/11/26 02:13:20 INFO ShutdownHookManager: Shutdown hook called\n"
_PYTHON_FAILURE = (
    "Traceback (most recent call last):\n"
    '  File "/tmp/spark-5c1d/read_tables.py", line 41, in <module>\n'
    "    sys.exit(main())\n"
    '  File "/tmp/spark-5c1d/sparkpg-0.1.0-code.zip/connectors/secrets.py", line 88, in fetch\n'
    "connectors.errors.SecretNotFoundError: secret spark/postgres/aurora does not exist in "
    "us-east-1 (moto scripted failure)\n"
)
_JAVA_FAILURE = (
    "25/11/26 02:13:15 ERROR SparkSubmit: Job failed\n"
    'Exception in thread "main" java.lang.ClassNotFoundException: org.postgresql.Driver\n'
    "\tat java.base/java.net.URLClassLoader.findClass(URLClassLoader.java:445)\n"
    "\tat java.base/java.lang.ClassLoader.loadClass(ClassLoader.java:592)\n"
    "\tat org.apache.spark.sql.execution.datasources.jdbc.DriverRegistry$.register(DriverRegistry.scala:46)\n"
)


def _driver_logs(job_run: Any) -> Dict[str, str]:
    """The driver's stdout/stderr of a finished run (see patch 9)."""
    stderr = _DRIVER_LOG_HEAD
    if job_run.state == "FAILED":
        java = (job_run.tags or {}).get(JOB_FAILURE_TAG) == "java"
        stderr += _JAVA_FAILURE if java else _PYTHON_FAILURE
    stdout = (job_run.tags or {}).get(JOB_STDOUT_TAG)  # patch 11
    stdout = f"{stdout.rstrip()}\n" if stdout else _DRIVER_STDOUT
    return {"stdout": stdout, "stderr": stderr + _DRIVER_LOG_TAIL}


def _write_driver_logs(backend: Any, job_run: Any) -> None:
    import gzip

    monitoring = (job_run.configuration_overrides or {}).get("monitoringConfiguration") or {}
    suffix = f"applications/{job_run.application_id}/jobs/{job_run.id}/SPARK_DRIVER"
    logs = _driver_logs(job_run)
    log_uri = (monitoring.get("s3MonitoringConfiguration") or {}).get("logUri")
    if log_uri and log_uri.startswith("s3://"):
        from moto.s3.models import s3_backends

        bucket, _, prefix = log_uri[len("s3://") :].partition("/")
        prefix = f"{prefix.rstrip('/')}/" if prefix.strip("/") else ""
        s3 = s3_backends[backend.account_id][backend.partition]
        if bucket in s3.buckets:
            for stream, text in logs.items():
                key = f"{prefix}{suffix}/{stream}.gz"
                s3.put_object(bucket, key, gzip.compress(text.encode("utf-8"), mtime=0))
    cloudwatch = monitoring.get("cloudWatchLoggingConfiguration") or {}
    if cloudwatch.get("enabled"):
        from moto.logs.models import logs_backends

        cw = logs_backends[backend.account_id][backend.region_name]
        group = cloudwatch.get("logGroupName") or "/aws/emr-serverless"
        prefix = cloudwatch.get("logStreamNamePrefix")
        if group not in cw.groups:
            cw.create_log_group(group, tags={})
        now = int(time.time() * 1000)
        for stream, text in logs.items():
            name = f"{prefix.rstrip('/')}/" if prefix else ""
            name += f"{suffix}/{stream}"
            cw.ensure_log_stream(group, name)
            events = [
                {"timestamp": now + i, "message": line} for i, line in enumerate(text.splitlines())
            ]
            cw.put_log_events(group, name, events)


def _advance(backend: Any, job_run: Any) -> None:
    """One step of the run's state script (patches 5 and 6)."""
    if job_run.state == "CANCELLING":
        job_run.state = "CANCELLED"
        job_run.state_details = "Job run was cancelled by the user."
        return
    script: List[str] = getattr(job_run, "_sparkpg_script", [])
    step: int = getattr(job_run, "_sparkpg_step", 0)
    if job_run.state in _TERMINAL or step + 1 >= len(script):
        return
    job_run._sparkpg_step = step + 1
    job_run.state = script[step + 1]
    if job_run.state == "FAILED":
        details = (
            "Job failed, please check complete logs in configured logging destination. "
            "ExitCode: 1. Last few exceptions: "
            + _driver_logs(job_run)["stderr"].replace("\n", " ")
        )
        job_run.state_details = details[:256]
    if job_run.state in ("SUCCESS", "FAILED"):
        _write_driver_logs(backend, job_run)


def apply_job_run_patches() -> None:
    """Job-run behaviour of the service that moto lacks (module docstring, 6-10). Idempotent."""
    from moto.emrserverless import models

    backend_cls: Any = models.EMRServerlessBackend
    if getattr(backend_cls, "_sparkpg_job_runs_patched", False):
        return
    original_start: Callable[..., Any] = backend_cls.start_job_run
    original_get: Callable[..., Any] = backend_cls.get_job_run
    original_cancel: Callable[..., Any] = backend_cls.cancel_job_run
    original_list: Callable[..., Any] = backend_cls.list_job_runs

    def start_job_run(self: Any, **kwargs: Any) -> Any:
        application_id, token = kwargs["application_id"], kwargs["client_token"]
        for existing in self.job_runs.get(application_id, []):
            if token and existing.client_token == token:
                return existing  # patch 6
        job_run = original_start(self, **kwargs)
        tags = job_run.tags or {}
        script = [
            state.strip().upper()
            for state in tags.get(JOB_STATES_TAG, ",".join(DEFAULT_JOB_STATES)).split(",")
            if state.strip()
        ]
        job_run._sparkpg_script = script or list(DEFAULT_JOB_STATES)
        job_run._sparkpg_step = 0
        job_run.state = job_run._sparkpg_script[0]
        return job_run

    def get_job_run(self: Any, application_id: str, job_run_id: str) -> Any:
        job_run = original_get(self, application_id, job_run_id)
        if getattr(job_run, "_sparkpg_seen", False):
            state_before = job_run.state
            _advance(self, job_run)
            if job_run.state != state_before:
                job_run.updated_at = models.utcnow()
        job_run._sparkpg_seen = True  # every state is seen by at least one GetJobRun
        return job_run

    def cancel_job_run(self: Any, application_id: str, job_run_id: str) -> Any:
        job_run = original_get(self, application_id, job_run_id)
        if job_run.state in _TERMINAL:
            return application_id, job_run_id
        result = original_cancel(self, application_id=application_id, job_run_id=job_run_id)
        job_run.state = "CANCELLING"  # patch 8
        job_run._sparkpg_seen = False
        return result

    def list_job_runs(self: Any, **kwargs: Any) -> Any:
        from datetime import datetime, timezone

        for name in ("created_at_after", "created_at_before"):  # patch 10
            value = kwargs.get(name)
            if isinstance(value, str):
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                kwargs[name] = parsed.astimezone(timezone.utc).replace(tzinfo=None)
            elif isinstance(value, (int, float)):
                kwargs[name] = datetime.fromtimestamp(value, timezone.utc).replace(tzinfo=None)
        application_id = kwargs["application_id"]
        self.get_application(application_id)  # raises for an unknown application
        if application_id not in self.job_runs:
            return []  # patch 10: an application without runs lists none
        return original_list(self, **kwargs)

    backend_cls.start_job_run = start_job_run
    backend_cls.get_job_run = get_job_run
    backend_cls.cancel_job_run = cancel_job_run
    backend_cls.list_job_runs = list_job_runs
    backend_cls._sparkpg_job_runs_patched = True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until_ready(endpoint_url: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    """Poll moto's own API until it answers; fail early if the process has died."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with code {process.returncode} during startup")
        try:
            with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"moto server at {endpoint_url} did not answer within {timeout:.0f} s"
                ) from None
            time.sleep(0.1)


@contextlib.contextmanager
def moto_server(
    *,
    host: str = "127.0.0.1",
    port: Optional[int] = None,
    startup_timeout: float = 30.0,
    python: Optional[str] = None,
) -> Iterator[str]:
    """Run the patched moto server in a subprocess; yield its endpoint URL; stop it afterwards.

    The server's output goes to a temporary log file whose tail is shown if startup fails.

    >>> with moto_server() as url:  # doctest: +SKIP
    ...     url
    'http://127.0.0.1:53117'
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    attempts = 1 if port is not None else 3
    last_error: Optional[Exception] = None
    for _ in range(attempts):
        chosen = port if port is not None else free_port(host)
        endpoint_url = f"http://{host}:{chosen}"
        with tempfile.TemporaryFile() as log:
            command: List[str] = [
                python or sys.executable,
                "-m",
                "devtools.moto_server",
                "--host",
                host,
                "--port",
                str(chosen),
            ]
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                try:
                    wait_until_ready(endpoint_url, startup_timeout, process)
                except (RuntimeError, TimeoutError) as exc:
                    log.seek(0)
                    tail = log.read().decode("utf-8", "replace")[-2000:]
                    last_error = RuntimeError(f"{exc}; server output:\n{tail}")
                    continue
                yield endpoint_url
                return
            finally:
                _stop(process)
    raise RuntimeError(f"could not start the moto server: {last_error}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def main(argv: Optional[List[str]] = None) -> None:
    """Command line: ``python -m devtools.moto_server [--host H] [--port N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (default 5000)")
    args = parser.parse_args(argv)
    apply_patches()
    apply_job_run_patches()
    from moto.server import main as moto_main

    moto_args: Dict[str, str] = {"--host": args.host, "--port": str(args.port)}
    moto_main([item for pair in moto_args.items() for item in pair])


if __name__ == "__main__":
    main()
