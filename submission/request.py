"""A job run as data: the :class:`JobSpec` and the pure StartJobRun request built from it.

Everything here is pure (no AWS call, no Spark), so the backend can import
:func:`build_start_job_run_request` and the tests can check it without a network::

    from submission import JobSpec, build_start_job_run_request

    request = build_start_job_run_request(settings, spec, bundle)
    emr_serverless_client().start_job_run(**request)
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, List, Mapping, Optional

from pydantic import Field, field_validator

from connectors.errors import BundleError, SettingsError
from connectors.settings import Settings
from submission.bundle import BundleManifest, _check_conf, _Frozen
from submission.compat import (
    MIN_SAFE_JDBC,
    format_version,
    jar_version_in_name,
    jdbc_version_is_safe,
)
from submission.resources import capacity_conf
from submission.validate import check_request

#: EMR Serverless' default CloudWatch log group (docs/deploy.md).
DEFAULT_LOG_GROUP = "/aws/emr-serverless"

#: The tag that carries the spec id, so a retried submit finds the runs of the same spec.
SPEC_TAG = "sparkpg:spec-id"

#: The tag with the attempt number of a spec (1 for the first run).
ATTEMPT_TAG = "sparkpg:attempt"

#: The tag with the scheduler's idempotency key (``--run-key``), when one was given.
RUN_KEY_TAG = "sparkpg:run-key"

_CLIENT_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


#: Why ``maxFailedAttemptsPerHour`` is refused (API reference, RetryPolicy).
STREAMING_ONLY = (
    "max_failed_attempts_per_hour={value} (--max-failed-attempts-per-hour) applies only to "
    "STREAMING job runs and sparkpg submits batch runs: leave it out; --max-attempts retries a "
    "batch run on emr-7.1.0 and later (docs/deploy.md, section 5)"
)


class JobSpec(_Frozen):
    """What to run: an entry point of the bundle, its arguments, and run options.

    For the main job (``read_tables``) the typed fields become its arguments: ``--settings``,
    one ``--table`` per table, ``--output``, ``--format``; ``arguments`` are appended verbatim.

    >>> JobSpec(tables=["aurora.public.orders"], output="s3://b/out/").entry_arguments()[:2]
    ['--table', 'aurora.public.orders']
    """

    name: Optional[str] = Field(default=None, min_length=1, max_length=256)
    entry_point: str = "read_tables"
    settings_uri: Optional[str] = None
    tables: List[str] = Field(default_factory=list)
    output: Optional[str] = None
    format: Optional[str] = None
    arguments: List[str] = Field(default_factory=list)
    reads_postgres: Optional[bool] = None
    tags: Dict[str, str] = Field(default_factory=dict)
    execution_timeout_minutes: int = 180
    spark_conf: Dict[str, str] = Field(default_factory=dict)
    run_key: Optional[str] = Field(default=None, min_length=1, max_length=256)
    max_attempts: Optional[int] = Field(default=None, ge=1, le=10)
    max_failed_attempts_per_hour: Optional[int] = Field(default=None, ge=1, le=10)

    @field_validator("max_failed_attempts_per_hour")
    @classmethod
    def _streaming_only(cls, value: Optional[int]) -> Optional[int]:
        if value is not None:
            raise ValueError(STREAMING_ONLY.format(value=value))
        return value

    @field_validator("tables")
    @classmethod
    def _qualified(cls, tables: List[str]) -> List[str]:
        for table in tables:
            connection, dot, rest = table.partition(".")
            if not dot or not connection.strip() or not rest.strip():
                raise ValueError(
                    f"table {table!r} must be written connection.schema.table "
                    "(or connection.table for the public schema)"
                )
        return tables

    @field_validator("tags")
    @classmethod
    def _not_ours(cls, tags: Dict[str, str]) -> Dict[str, str]:
        reserved = sorted(k for k in tags if k.startswith("sparkpg:"))
        if reserved:
            raise ValueError(f"tag keys {reserved}: the prefix 'sparkpg:' is reserved")
        return tags

    @field_validator("spark_conf")
    @classmethod
    def _spark_conf(cls, conf: Dict[str, str]) -> Dict[str, str]:
        return _check_conf(conf)

    @property
    def uses_postgres(self) -> bool:
        """True when the job reads PostgreSQL tables (picks the PostgreSQL-enabled application)."""
        return bool(self.tables) if self.reads_postgres is None else self.reads_postgres

    @property
    def run_name(self) -> str:
        """The job run's name: ``name`` or ``<entry point>-<first table>[+N]``."""
        if self.name:
            return self.name
        base = self.entry_point[:-3] if self.entry_point.endswith(".py") else self.entry_point
        if self.tables:
            more = f"+{len(self.tables) - 1}" if len(self.tables) > 1 else ""
            return f"{base}-{self.tables[0]}{more}"[:256]
        return base

    def entry_arguments(self) -> List[str]:
        """The entry point's command line."""
        args: List[str] = []
        if self.settings_uri:
            args += ["--settings", self.settings_uri]
        for table in self.tables:
            args += ["--table", table]
        if self.output:
            args += ["--output", self.output]
        if self.format:
            args += ["--format", self.format]
        return args + list(self.arguments)


def choose_application(settings: Settings, spec: JobSpec) -> str:
    """The backend's rule: the PostgreSQL-enabled application for PostgreSQL jobs.

    A PostgreSQL job falls back to ``emr_application_id`` when no PostgreSQL application is set
    (the supervisor checks both); any other job falls back to the PostgreSQL application.
    """
    spark = settings.spark
    order = (
        [spark.emr_postgres_application_id, spark.emr_application_id]
        if spec.uses_postgres
        else [spark.emr_application_id, spark.emr_postgres_application_id]
    )
    for application_id in order:
        if application_id:
            return application_id
    raise SettingsError(
        f"{settings.source or 'the settings'}: no EMR Serverless application; set "
        "spark.emr_postgres_application_id (jobs that read PostgreSQL) and/or spark.emr_application_id"
    )


def monitoring_configuration(settings: Settings) -> Dict[str, Any]:
    """``configurationOverrides.monitoringConfiguration`` from the settings.

    The reference deployment sends driver and executor stdout/stderr to CloudWatch and keeps
    managed persistence on; Terraform AWS provider 5.x cannot set that on the application, so
    every job sets it. ``emr_log_uri`` adds S3 logging (where ``sparkpg logs`` looks first).
    """
    spark = settings.spark
    config: Dict[str, Any] = {"managedPersistenceMonitoringConfiguration": {"enabled": True}}
    if spark.emr_cloudwatch_logging:
        cloudwatch: Dict[str, Any] = {
            "enabled": True,
            "logGroupName": spark.emr_cloudwatch_log_group or DEFAULT_LOG_GROUP,
            "logTypes": {
                "SPARK_DRIVER": ["stdout", "stderr"],
                "SPARK_EXECUTOR": ["stdout", "stderr"],
            },
        }
        if spark.emr_cloudwatch_log_stream_prefix:
            cloudwatch["logStreamNamePrefix"] = spark.emr_cloudwatch_log_stream_prefix
        config["cloudWatchLoggingConfiguration"] = cloudwatch
    if spark.emr_log_uri:
        config["s3MonitoringConfiguration"] = {"logUri": spark.emr_log_uri.rstrip("/") + "/"}
    return config


def spec_id(request: Mapping[str, Any], run_key: Optional[str] = None) -> str:
    """A digest of everything a run does (the request without token and our own tags).

    A ``run_key`` (a scheduler's run id or logical date) is part of the digest, so runs of the
    same spec under different keys never share a token.
    """
    content = {k: v for k, v in request.items() if k != "clientToken"}
    content["tags"] = {
        k: v for k, v in dict(request.get("tags") or {}).items() if not k.startswith("sparkpg:")
    }
    if run_key is not None:
        content["runKey"] = run_key
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def client_token(spec_digest: str, attempt: int = 1, nonce: Optional[str] = None) -> str:
    """The StartJobRun ``clientToken`` of an attempt (<= 64 characters).

    Without ``nonce``: ``sparkpg-<spec id>-<attempt>``, the deterministic token of a ``--run-key``
    run. With one (unkeyed submissions, :func:`submission.runs.start_or_attach`): the spec id's
    first 20 characters, the attempt and the nonce, so the token is never sent for another run.

    >>> client_token("0" * 40, 2)
    'sparkpg-0000000000000000000000000000000000000000-2'
    >>> client_token("0" * 40, 2, "ab12")
    'sparkpg-00000000000000000000-2-ab12'
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    if nonce is None:
        token = f"sparkpg-{spec_digest}-{attempt}"
    else:
        token = f"sparkpg-{spec_digest[:20]}-{attempt}-{nonce}"
    if not _CLIENT_TOKEN.match(token):
        raise ValueError(f"client token {token!r} is not 1-64 of [A-Za-z0-9._-]")
    return token


class JdbcJar(_Frozen):
    """The PostgreSQL JDBC JAR a job uses: where, which version, and why this one."""

    location: str
    version: Optional[str] = None
    source: str

    @property
    def safe(self) -> bool:
        """False for a version known to be older than :data:`MIN_SAFE_JDBC`."""
        return self.version is None or jdbc_version_is_safe(self.version)

    def describe(self) -> str:
        """One line for the operator: ``JDBC JAR s3://... (pgjdbc 42.7.13, from the bundle)``."""
        version = f"pgjdbc {self.version}" if self.version else "version unknown"
        return f"JDBC JAR {self.location} ({version}, {self.source})"


def jdbc_jar(settings: Settings, bundle: BundleManifest) -> JdbcJar:
    """``postgres.jdbc_driver_path`` when set (it wins), else the bundle's pinned JAR."""
    path = settings.postgres.jdbc_driver_path
    if path:
        return JdbcJar(
            location=path,
            version=jar_version_in_name(path),
            source="postgres.jdbc_driver_path in the settings, instead of the bundle's JAR",
        )
    return JdbcJar(
        location=bundle.jdbc_driver.location(bundle.artifact_root),
        version=bundle.jdbc_driver.version,
        source="the bundle's pinned JAR",
    )


def check_jdbc_jar(jar: JdbcJar, *, allow_old: bool = False) -> None:
    """Refuse a JAR older than :data:`MIN_SAFE_JDBC` unless ``allow_old`` (``--allow-old-jdbc``)."""
    if jar.safe or allow_old:
        return
    minimum = format_version(MIN_SAFE_JDBC)
    raise SettingsError(
        f"the job would use {jar.describe()}; pgjdbc before {minimum} lacks the recent CVE "
        f"fixes: remove postgres.jdbc_driver_path to use the bundle's JAR, point it at pgjdbc "
        f"{minimum} or newer (docs/deploy.md), or pass --allow-old-jdbc"
    )


def build_start_job_run_request(
    settings: Settings,
    spec: JobSpec,
    bundle: BundleManifest,
    *,
    execution_role_arn: Optional[str] = None,
    attempt: int = 1,
    initial_capacity: Optional[Mapping[str, Any]] = None,
    allow_old_jdbc: bool = False,
) -> Dict[str, Any]:
    """The keyword arguments of ``emr_serverless_client().start_job_run(**request)``. Pure.

    - ``applicationId``: :func:`choose_application`;
    - ``--jars``: :func:`jdbc_jar` (PostgreSQL jobs), refused below 42.7.12 unless ``allow_old_jdbc``;
    - driver/executor sizes: :func:`submission.resources.capacity_conf` of ``initial_capacity``
      (GetApplication's, else ``spark.emr_initial_capacity``); the spec's ``--conf`` wins;
    - ``retryPolicy`` from the spec's ``max_attempts`` (``max_failed_attempts_per_hour``, for
      streaming runs only, is refused);
    - ``--py-files``, ``spark.archives`` and the PYSPARK_PYTHON confs: the uploaded bundle;
    - ``entryPoint`` and ``entryPointArguments``: the spec's entry point in the bundle;
    - ``configurationOverrides.monitoringConfiguration``: :func:`monitoring_configuration`;
    - ``clientToken``: :func:`client_token` of the request's :func:`spec_id` and ``attempt``, so
      the same spec (and ``--run-key``) gives the same token; spec id, attempt and run key
      are also tags.

    The result is checked against the service model's constraints
    (:func:`submission.validate.check_request`). Raises :class:`SettingsError` (no application
    or role, an old JAR, a value the service rejects) or :class:`BundleError` (not uploaded).
    """
    if not bundle.uploaded:
        raise BundleError(
            "the bundle has not been uploaded (its manifest has no S3 URIs); run "
            "./build.sh --upload s3://bucket/prefix (or sparkpg deploy) and use the manifest it wrote"
        )
    role = execution_role_arn or settings.spark.emr_execution_role_arn
    if not role:
        raise SettingsError(
            f"{settings.source or 'the settings'}: no execution role; set "
            "spark.emr_execution_role_arn (Terraform output execution_role_arn) or pass one"
        )
    jars: List[str] = []
    if spec.uses_postgres or settings.postgres.jdbc_driver_path:  # a set path is always passed
        jar = jdbc_jar(settings, bundle)
        check_jdbc_jar(jar, allow_old=allow_old_jdbc)
        jars = [jar.location]
    capacity = initial_capacity
    if capacity is None:
        capacity = getattr(settings.spark, "emr_initial_capacity", None)
    conf = {**capacity_conf(capacity), **spec.spark_conf}
    params = bundle.spark_params(jars=jars, conf=conf)
    request: Dict[str, Any] = {
        "applicationId": choose_application(settings, spec),
        "executionRoleArn": role,
        "name": spec.run_name,
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": bundle.entry_point(spec.entry_point).location(bundle.artifact_root),
                "entryPointArguments": spec.entry_arguments(),
                "sparkSubmitParameters": params.emr_serverless(),
            }
        },
        "configurationOverrides": {"monitoringConfiguration": monitoring_configuration(settings)},
        "executionTimeoutMinutes": spec.execution_timeout_minutes,
        "tags": dict(spec.tags),
    }
    if spec.max_failed_attempts_per_hour is not None:
        raise SettingsError(STREAMING_ONLY.format(value=spec.max_failed_attempts_per_hour))
    if spec.max_attempts is not None:
        request["retryPolicy"] = {"maxAttempts": spec.max_attempts}
    digest = spec_id(request, spec.run_key)
    ours = {SPEC_TAG: digest, ATTEMPT_TAG: str(attempt)}
    if spec.run_key is not None:
        ours[RUN_KEY_TAG] = spec.run_key
    request["tags"] = {**request["tags"], **ours}
    request["clientToken"] = client_token(digest, attempt)
    check_request("emr-serverless", "StartJobRun", request)
    return request


def with_attempt(
    request: Mapping[str, Any], attempt: int, nonce: Optional[str] = None
) -> Dict[str, Any]:
    """The same request as attempt ``attempt`` of its spec (new token and attempt tag).

    ``nonce`` makes the token unique (:func:`client_token`).
    """
    tags = dict(request.get("tags") or {})
    digest = tags.get(SPEC_TAG) or spec_id(request)
    tags.update({SPEC_TAG: digest, ATTEMPT_TAG: str(attempt)})
    return {**request, "tags": tags, "clientToken": client_token(digest, attempt, nonce)}
