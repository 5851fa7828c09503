"""EMR Serverless job runs as data: the bundle manifest, the job spec and the StartJobRun request.

Everything here is pure (no AWS call, no Spark), so the backend can import
:func:`build_start_job_run_request` and the tests can check it without a network::

    from connectors.emr import BundleManifest, JobSpec, build_start_job_run_request

    request = build_start_job_run_request(settings, spec, bundle)
    emr_serverless_client().start_job_run(**request)

:class:`SparkParams` is the one place that knows the spark-submit flags (``--py-files``,
``--jars``, ``spark.archives`` and the ``PYSPARK_PYTHON`` confs); ``build.sh`` writes its output into
``manifest.json`` and ``sparkpg run --emr-like`` turns the same object into a local spark-submit.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.errors import BundleError, SettingsError
from connectors.settings import Settings

MANIFEST_FORMAT = 1
#: The alias ``spark.archives`` unpacks the environment archive under, in the job's working dir.
ENVIRONMENT_ALIAS = "environment"
#: The interpreter inside the unpacked archive: a link to the EMR image's Python (build.sh).
ENVIRONMENT_PYTHON = f"./{ENVIRONMENT_ALIAS}/bin/python"
#: EMR Serverless' default CloudWatch log group (FACTS.md, "Driver logs").
DEFAULT_LOG_GROUP = "/aws/emr-serverless"
#: The tag that carries the spec id, so a retried submit finds the runs of the same spec.
SPEC_TAG = "sparkpg:spec-id"
#: The tag with the attempt number of a spec (1 for the first run).
ATTEMPT_TAG = "sparkpg:attempt"
#: Terminal states of a job run; every other state (QUEUED included) means "still going".
TERMINAL_STATES = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
ACTIVE_STATES = ("SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "CANCELLING", "QUEUED")

_CLIENT_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_NO_SPACE = re.compile(r"^\S+$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Artifact(_Frozen):
    """One file of the bundle: its name in ``dist/``, checksum, size, and S3 URI once uploaded."""

    file: str = Field(pattern=r"^[A-Za-z0-9._/-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    uri: Optional[str] = None
    version: Optional[str] = None

    @property
    def key(self) -> str:
        """The content-addressed key under the artifact root: ``artifacts/<sha256>/<name>``."""
        return f"artifacts/{self.sha256}/{self.file.rsplit('/', 1)[-1]}"

    def location(self, root: Optional[str]) -> str:
        """The S3 URI once uploaded, else the key under ``root`` (or relative when root is None)."""
        if self.uri:
            return self.uri
        return f"{root.rstrip('/')}/{self.key}" if root else self.key


class Runtime(_Frozen):
    """The EMR Serverless runtime the bundle was built for."""

    release_label: str = "emr-7.0.0"
    python: str = Field(default="3.9", pattern=r"^3\.\d+$")
    architecture: str = Field(default="X86_64", pattern=r"^(X86_64|ARM64)$")
    platform: str = "manylinux2014_x86_64"
    interpreter: str = "/usr/bin/python3.9"


class BundleManifest(_Frozen):
    """``dist/manifest.json``: what ``build.sh`` built, and where ``sparkpg deploy`` put it.

    ``artifact_root`` is None until upload; ``sparkSubmitParameters`` is then relative to the
    artifact root (content-addressed keys), and exact with S3 URIs after ``sparkpg deploy``.
    """

    format: int = MANIFEST_FORMAT
    project: str = "sparkpg"
    version: str
    runtime: Runtime = Field(default_factory=Runtime)
    code: Artifact
    environment: Artifact
    jdbc_driver: Artifact
    entrypoints: Dict[str, Artifact]
    requirements: List[str] = Field(default_factory=list)
    artifact_root: Optional[str] = None
    spark_submit_parameters: str = Field(default="", alias="sparkSubmitParameters")

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: int) -> int:
        if value != MANIFEST_FORMAT:
            raise ValueError(
                f"manifest format {value} is not {MANIFEST_FORMAT}; rebuild with build.sh"
            )
        return value

    @property
    def artifacts(self) -> Dict[str, Artifact]:
        """Every artifact by a stable name (code, environment, jdbc_driver, entrypoint:<name>)."""
        found = {
            "code": self.code,
            "environment": self.environment,
            "jdbc_driver": self.jdbc_driver,
        }
        found.update({f"entrypoint:{name}": a for name, a in sorted(self.entrypoints.items())})
        return found

    @property
    def uploaded(self) -> bool:
        """True when every artifact has an S3 URI (``sparkpg deploy`` ran)."""
        return all(a.uri for a in self.artifacts.values())

    def spark_params(
        self, *, jars: Optional[List[str]] = None, conf: Optional[Mapping[str, str]] = None
    ) -> SparkParams:
        """The spark-submit flags for this bundle; ``jars`` replaces the bundled JDBC JAR."""
        root = self.artifact_root
        return SparkParams(
            py_files=[self.code.location(root)],
            jars=[self.jdbc_driver.location(root)] if jars is None else list(jars),
            archives=[f"{self.environment.location(root)}#{ENVIRONMENT_ALIAS}"],
            conf=dict(conf or {}),
        )

    def entry_point(self, name: str) -> Artifact:
        """The entry-point script called ``name`` (``read_tables`` or ``read_tables.py``)."""
        key = name[:-3] if name.endswith(".py") else name
        if key not in self.entrypoints:
            known = ", ".join(sorted(self.entrypoints)) or "(none)"
            raise BundleError(f"the bundle has no entry point {name!r}; it has: {known}")
        return self.entrypoints[key]

    def to_json(self) -> str:
        """Stable JSON (sorted keys, 2-space indent, trailing newline)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def parse_manifest(text: str, source: str = "manifest.json") -> BundleManifest:
    """Parse a manifest; errors name the file and say how to get a good one."""
    try:
        return BundleManifest.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BundleError(
            f"{source} is not a sparkpg bundle manifest ({where}: {first['msg']}); "
            "run ./build.sh to build one"
        ) from None


def _check_conf(conf: Dict[str, str]) -> Dict[str, str]:
    for key, value in conf.items():
        if not _NO_SPACE.match(key) or not _NO_SPACE.match(value):
            raise ValueError(
                f"--conf {key}={value!r}: EMR Serverless splits sparkSubmitParameters on "
                "whitespace, so keys and values may not contain spaces"
            )
    return conf


class SparkParams(_Frozen):
    """The spark-submit flags of a sparkpg job, in one place (amazon-emr-cli's ``SparkParams``).

    >>> SparkParams(py_files=["s3://b/code.zip"], jars=["s3://b/pg.jar"],
    ...             archives=["s3://b/env.tar.gz#environment"]).emr_serverless()[:24]
    '--jars s3://b/pg.jar --py'
    """

    py_files: List[str] = Field(default_factory=list)
    jars: List[str] = Field(default_factory=list)
    archives: List[str] = Field(default_factory=list)
    conf: Dict[str, str] = Field(default_factory=dict)

    @field_validator("py_files", "jars", "archives")
    @classmethod
    def _no_spaces(cls, values: List[str]) -> List[str]:
        for value in values:
            if not _NO_SPACE.match(value) or "," in value:
                raise ValueError(
                    f"{value!r}: paths in spark-submit lists may not hold spaces or commas"
                )
        return values

    @field_validator("conf")
    @classmethod
    def _conf_without_spaces(cls, conf: Dict[str, str]) -> Dict[str, str]:
        return _check_conf(conf)

    def python_conf(self) -> Dict[str, str]:
        """The confs that make driver and executors use the archive's interpreter (FACTS.md)."""
        if not self.archives:
            return {}
        return {
            "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON": ENVIRONMENT_PYTHON,
            "spark.emr-serverless.driverEnv.PYSPARK_PYTHON": ENVIRONMENT_PYTHON,
            "spark.executorEnv.PYSPARK_PYTHON": ENVIRONMENT_PYTHON,
        }

    def all_conf(self) -> List[Tuple[str, str]]:
        """Every ``--conf`` of an EMR Serverless run, sorted by key."""
        conf: Dict[str, str] = {}
        if self.archives:
            conf["spark.archives"] = ",".join(self.archives)
        conf.update(self.python_conf())
        conf.update(self.conf)
        return sorted(conf.items())

    def emr_serverless(self) -> str:
        """The ``sparkSubmitParameters`` string of StartJobRun."""
        parts: List[str] = []
        if self.jars:
            parts += ["--jars", ",".join(self.jars)]
        if self.py_files:
            parts += ["--py-files", ",".join(self.py_files)]
        for key, value in self.all_conf():
            parts += ["--conf", f"{key}={value}"]
        return " ".join(parts)

    def local_spark_submit(self, *, master: str = "local[2]") -> Tuple[List[str], Dict[str, str]]:
        """Arguments and environment of a local spark-submit that runs the bundle like EMR.

        The environment archive must already be unpacked as ``./environment`` in the working
        directory (EMR's ``spark.archives`` does that on the cluster); the ``driverEnv`` confs,
        which only EMR understands, become the process environment.
        """
        args = ["--master", master]
        if self.jars:
            args += ["--jars", ",".join(self.jars)]
        if self.py_files:
            args += ["--py-files", ",".join(self.py_files)]
        env: Dict[str, str] = {}
        for key, value in self.all_conf():
            if key == "spark.archives":
                continue
            if key.startswith("spark.emr-serverless.driverEnv."):
                env[key.rsplit(".", 1)[-1]] = value
                continue
            args += ["--conf", f"{key}={value}"]
        return args, env


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
    execution_timeout_minutes: int = Field(default=180, ge=5, le=10080)
    spark_conf: Dict[str, str] = Field(default_factory=dict)

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
    """The seed's backend rule (section 5.2): the PostgreSQL-enabled application for PostgreSQL jobs.

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

    The seed's application sends driver and executor stdout/stderr to CloudWatch and keeps
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


def spec_id(request: Mapping[str, Any]) -> str:
    """A digest of everything a run does (the request without token and our own tags)."""
    content = {k: v for k, v in request.items() if k != "clientToken"}
    content["tags"] = {
        k: v for k, v in dict(request.get("tags") or {}).items() if not k.startswith("sparkpg:")
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def client_token(spec_digest: str, attempt: int = 1) -> str:
    """The StartJobRun ``clientToken`` of an attempt: ``sparkpg-<spec id>-<attempt>`` (<= 64 chars).

    >>> client_token("0" * 40, 2)
    'sparkpg-0000000000000000000000000000000000000000-2'
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    token = f"sparkpg-{spec_digest}-{attempt}"
    if not _CLIENT_TOKEN.match(token):
        raise ValueError(f"client token {token!r} is not 1-64 of [A-Za-z0-9._-]")
    return token


def build_start_job_run_request(
    settings: Settings,
    spec: JobSpec,
    bundle: BundleManifest,
    *,
    execution_role_arn: Optional[str] = None,
    attempt: int = 1,
) -> Dict[str, Any]:
    """The keyword arguments of ``emr_serverless_client().start_job_run(**request)``. Pure.

    - ``applicationId``: :func:`choose_application` (seed 5.2);
    - ``--jars``: ``postgres.jdbc_driver_path`` when set, else the bundle's JAR (PostgreSQL jobs);
    - ``--py-files``, ``spark.archives`` and the PYSPARK_PYTHON confs: the uploaded bundle;
    - ``entryPoint`` and ``entryPointArguments``: the spec's entry point in the bundle;
    - ``configurationOverrides.monitoringConfiguration``: :func:`monitoring_configuration`;
    - ``clientToken``: :func:`client_token` of the request's :func:`spec_id` and ``attempt``, so
      the same spec gives the same token; the spec id and attempt are also tags.

    Raises :class:`SettingsError` (no application or role) or :class:`BundleError` (not uploaded).
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
    jars: Optional[List[str]] = None
    if settings.postgres.jdbc_driver_path:
        jars = [settings.postgres.jdbc_driver_path]
    elif not spec.uses_postgres:
        jars = []
    params = bundle.spark_params(jars=jars, conf=spec.spark_conf)
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
    digest = spec_id(request)
    request["tags"] = {**request["tags"], SPEC_TAG: digest, ATTEMPT_TAG: str(attempt)}
    request["clientToken"] = client_token(digest, attempt)
    return request


def with_attempt(request: Mapping[str, Any], attempt: int) -> Dict[str, Any]:
    """The same request as attempt ``attempt`` of its spec (new token and attempt tag)."""
    tags = dict(request.get("tags") or {})
    digest = tags.get(SPEC_TAG) or spec_id(request)
    tags.update({SPEC_TAG: digest, ATTEMPT_TAG: str(attempt)})
    return {**request, "tags": tags, "clientToken": client_token(digest, attempt)}


_TRACEBACK_START = "Traceback (most recent call last):"
_JAVA_EXCEPTION = re.compile(
    r"^(?:Exception in thread \"[^\"]*\" )?(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)\b.*$"
)


def driver_error(log_text: str, *, max_lines: int = 60) -> Optional[str]:
    """The interesting part of a driver log: the last Python traceback, else the first Java exception.

    A Python traceback runs from ``Traceback (most recent call last):`` to its first unindented
    line (the exception). A Java exception is its line, the ``at ...`` frames (first 10) and the
    ``Caused by:`` lines. None when the log has neither.
    """
    lines = log_text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == _TRACEBACK_START]
    if starts:
        start = starts[-1]
        block = [lines[start]]
        end = len(lines)
        for offset, line in enumerate(lines[start + 1 :], start + 1):
            block.append(line)
            if line and not line[0].isspace():
                end = offset
                break
        if "Py4JJavaError" in block[-1]:
            # py4j puts the Java exception (the real error) on the lines after its own.
            for line in lines[end + 1 : end + 15]:
                text = line.strip()
                if not text.startswith(
                    (":", "at ", "Caused by:", "...")
                ) and not _JAVA_EXCEPTION.match(text):
                    break
                block.append(line)
        chained = _chained_cause(lines, start)
        return "\n".join((chained + block)[-max_lines:])
    for index, line in enumerate(lines):
        stripped = _strip_log_prefix(line)
        if _JAVA_EXCEPTION.match(stripped):
            block = [stripped]
            frames = 0
            for follow in lines[index + 1 :]:
                text = follow.strip()
                if text.startswith("at "):
                    frames += 1
                    if frames <= 10:
                        block.append("\t" + text)
                elif text.startswith("Caused by:") or text.startswith("..."):
                    block.append(text)
                else:
                    break
            return "\n".join(block[:max_lines])
    return None


def _chained_cause(lines: List[str], start: int) -> List[str]:
    """The exception line that a ``During handling...``/``The above exception...`` chain names."""
    if start >= 2 and lines[start - 2].startswith(("The above exception", "During handling")):
        for line in reversed(lines[: start - 2]):
            if line and not line[0].isspace() and ":" in line:
                return [line, ""]
    return []


def _strip_log_prefix(line: str) -> str:
    """``25/11/26 02:13:18 ERROR ApplicationMaster: java.lang.X`` -> ``java.lang.X``."""
    match = re.match(r"^\S+ \S+ (?:ERROR|WARN|INFO) [\w.$]+: (.*)$", line)
    return match.group(1) if match else line.strip()
