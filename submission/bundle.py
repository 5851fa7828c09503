"""The deployment bundle as data: ``dist/manifest.json`` and the spark-submit flags it implies.

:class:`SparkParams` is the one place that knows the spark-submit flags (``--py-files``,
``--jars``, ``spark.archives`` and the ``PYSPARK_PYTHON`` confs); ``build.sh`` writes its output into
``manifest.json`` and ``sparkpg run --emr-like`` turns the same object into a local spark-submit.
Operator side only: nothing here ships to EMR.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Tuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.errors import BundleError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MANIFEST_FORMAT = 1

#: The alias ``spark.archives`` unpacks the environment archive under, in the job's working dir.
ENVIRONMENT_ALIAS = "environment"

#: The interpreter inside the unpacked archive: a link to the EMR image's Python (build.sh).
ENVIRONMENT_PYTHON = f"./{ENVIRONMENT_ALIAS}/bin/python"

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
    spark: str = Field(default="3.5", pattern=r"^\d+\.\d+$")


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
    engine: Optional[Artifact] = None
    """sparkpg's COPY engine JAR (``jvm/``), on ``--jars`` beside the JDBC driver."""
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
        if self.engine is not None:
            found["engine"] = self.engine
        found.update({f"entrypoint:{name}": a for name, a in sorted(self.entrypoints.items())})
        return found

    @property
    def uploaded(self) -> bool:
        """True when every artifact has an S3 URI (``sparkpg deploy`` ran)."""
        return all(a.uri for a in self.artifacts.values())

    def spark_params(
        self, *, jars: Optional[List[str]] = None, conf: Optional[Mapping[str, str]] = None
    ) -> SparkParams:
        """The spark-submit flags for this bundle; ``jars`` replaces the bundled JDBC JAR (the
        engine JAR stays)."""
        root = self.artifact_root
        driver = [self.jdbc_driver.location(root)] if jars is None else list(jars)
        engine = [self.engine.location(root)] if self.engine is not None else []
        return SparkParams(
            py_files=[self.code.location(root)],
            jars=driver + engine,
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
        """The confs that make driver and executors use the archive's interpreter (docs/deploy.md)."""
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


def load_bundle(location: str, s3: Optional[S3Client] = None) -> BundleManifest:
    """A deployed manifest from a local path or ``s3://``."""
    if location.startswith("s3://"):
        from connectors.aws import AWS_ERRORS, aws_error, parse_s3_uri, s3_client

        bucket, key = parse_s3_uri(location)
        try:
            text = (s3 or s3_client()).get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except AWS_ERRORS as exc:
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
