"""The StartJobRun request builder against the seed's settings (examples/settings.json). Pure."""

from __future__ import annotations

import re
from typing import Any, Dict

import pytest

from connectors.errors import BundleError, SettingsError
from connectors.settings import Settings, load_settings
from submission.bundle import Artifact, BundleManifest, SparkParams, parse_manifest
from submission.logs import driver_error
from submission.request import (
    ATTEMPT_TAG,
    SPEC_TAG,
    JobSpec,
    build_start_job_run_request,
    client_token,
    spec_id,
    with_attempt,
)
from tests import REPO

EXAMPLE = REPO / "examples" / "settings.json"
ROLE = "arn:aws:iam::260005718447:role/EMRServerlessExecutionRole"
ROOT = "s3://spark-data-260005718447-us-east-1/sparkpg"
SEED_JAR = "s3://spark-data-260005718447-us-east-1/jars/postgresql-42.7.8.jar"
TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PYTHON = "./environment/bin/python"


def _artifact(file: str, digit: str) -> Artifact:
    sha = digit * 64
    return Artifact(file=file, sha256=sha, size=1, uri=f"{ROOT}/artifacts/{sha}/{file}")


@pytest.fixture()
def bundle() -> BundleManifest:
    return BundleManifest(
        version="0.1.0",
        code=_artifact("sparkpg-0.1.0-code.zip", "a"),
        environment=_artifact("sparkpg-0.1.0-env-py3.9-x86_64.tar.gz", "b"),
        jdbc_driver=_artifact("postgresql-42.7.13.jar", "c"),
        entrypoints={"read_tables": _artifact("read_tables.py", "d")},
        artifact_root=ROOT,
    )


def _settings(jar: Any = None, **spark: Any) -> Settings:
    """The seed's settings with a role; ``jar`` replaces its ``jdbc_driver_path`` (42.7.8)."""
    base = {"emr_execution_role_arn": ROLE, **spark}
    overrides = {"spark": base, "postgres": {"jdbc_driver_path": jar}}
    return load_settings(EXAMPLE, environ={}, overrides=overrides)


def _no_jar_settings() -> Settings:
    return load_settings(
        EXAMPLE,
        environ={},
        overrides={
            "spark": {"emr_execution_role_arn": ROLE},
            "postgres": {"jdbc_driver_path": None},
        },
    )


PG_SPEC = JobSpec(
    tables=["aurora.public.orders"],
    settings_uri="s3://spark-data-260005718447-us-east-1/settings.json",
    output="s3://spark-data-260005718447-us-east-1/out/orders/",
    format="parquet",
)
PLAIN_SPEC = JobSpec(entry_point="read_tables", arguments=["--help"])


def _submit_params(request: Dict[str, Any]) -> str:
    return str(request["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"])


def test_postgres_job_goes_to_the_postgres_application_with_the_settings_jar(
    bundle: BundleManifest,
) -> None:
    request = build_start_job_run_request(
        _settings(jar=SEED_JAR), PG_SPEC, bundle, allow_old_jdbc=True
    )
    assert request["applicationId"] == "00g0oddl52n83r09"
    assert request["executionRoleArn"] == ROLE
    params = _submit_params(request)
    assert f"--jars {SEED_JAR} " in params
    assert "postgresql-42.7.13.jar" not in params  # jdbc_driver_path wins (seed 5.2)
    assert f"--py-files {bundle.code.uri} " in params
    assert f"--conf spark.archives={bundle.environment.uri}#environment" in params
    for conf in (
        "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON",
        "spark.emr-serverless.driverEnv.PYSPARK_PYTHON",
        "spark.executorEnv.PYSPARK_PYTHON",
    ):
        assert f"--conf {conf}={PYTHON}" in params
    driver = request["jobDriver"]["sparkSubmit"]
    assert driver["entryPoint"] == bundle.entrypoints["read_tables"].uri
    assert driver["entryPointArguments"] == [
        "--settings",
        "s3://spark-data-260005718447-us-east-1/settings.json",
        "--table",
        "aurora.public.orders",
        "--output",
        "s3://spark-data-260005718447-us-east-1/out/orders/",
        "--format",
        "parquet",
    ]
    assert request["name"] == "read_tables-aurora.public.orders"
    assert request["executionTimeoutMinutes"] == 180


def test_job_without_postgres_tables_goes_to_the_plain_application(bundle: BundleManifest) -> None:
    request = build_start_job_run_request(
        _settings(jar=SEED_JAR), PLAIN_SPEC, bundle, allow_old_jdbc=True
    )
    assert request["applicationId"] == "00fv6g7rptsov009"
    assert f"--jars {SEED_JAR}" in _submit_params(request)  # jdbc_driver_path is always passed


def test_without_jdbc_driver_path_a_postgres_job_gets_the_bundled_jar(
    bundle: BundleManifest,
) -> None:
    request = build_start_job_run_request(_no_jar_settings(), PG_SPEC, bundle)
    assert f"--jars {bundle.jdbc_driver.uri} " in _submit_params(request)


def test_without_jdbc_driver_path_a_plain_job_gets_no_jars(bundle: BundleManifest) -> None:
    request = build_start_job_run_request(_no_jar_settings(), PLAIN_SPEC, bundle)
    assert "--jars" not in _submit_params(request)


def test_application_falls_back_when_only_one_is_set(bundle: BundleManifest) -> None:
    only_plain = _settings(emr_postgres_application_id=None)
    assert build_start_job_run_request(only_plain, PG_SPEC, bundle)["applicationId"] == (
        "00fv6g7rptsov009"
    )
    only_pg = _settings(emr_application_id=None)
    assert build_start_job_run_request(only_pg, PLAIN_SPEC, bundle)["applicationId"] == (
        "00g0oddl52n83r09"
    )
    neither = _settings(emr_application_id=None, emr_postgres_application_id=None)
    with pytest.raises(SettingsError, match="no EMR Serverless application"):
        build_start_job_run_request(neither, PG_SPEC, bundle)


def test_monitoring_follows_the_seed_and_adds_s3_when_configured(bundle: BundleManifest) -> None:
    request = build_start_job_run_request(
        _settings(emr_log_uri="s3://logs-bucket/emr", emr_cloudwatch_log_group="/sparkpg/jobs"),
        PG_SPEC,
        bundle,
    )
    monitoring = request["configurationOverrides"]["monitoringConfiguration"]
    assert monitoring["s3MonitoringConfiguration"] == {"logUri": "s3://logs-bucket/emr/"}
    assert monitoring["managedPersistenceMonitoringConfiguration"] == {"enabled": True}
    cloudwatch = monitoring["cloudWatchLoggingConfiguration"]
    assert cloudwatch["enabled"] is True
    assert cloudwatch["logGroupName"] == "/sparkpg/jobs"
    assert cloudwatch["logTypes"] == {
        "SPARK_DRIVER": ["stdout", "stderr"],
        "SPARK_EXECUTOR": ["stdout", "stderr"],
    }
    plain = build_start_job_run_request(_settings(emr_cloudwatch_logging=False), PG_SPEC, bundle)
    assert set(plain["configurationOverrides"]["monitoringConfiguration"]) == {
        "managedPersistenceMonitoringConfiguration"
    }


def test_role_is_required_and_can_be_passed(bundle: BundleManifest) -> None:
    no_role = load_settings(EXAMPLE, environ={})
    with pytest.raises(SettingsError, match="emr_execution_role_arn"):
        build_start_job_run_request(no_role, PG_SPEC, bundle)
    other = "arn:aws:iam::123456789012:role/Other"
    request = build_start_job_run_request(
        no_role, PG_SPEC, bundle, execution_role_arn=other, allow_old_jdbc=True
    )
    assert request["executionRoleArn"] == other


def test_a_bundle_that_was_not_uploaded_is_refused(bundle: BundleManifest) -> None:
    local = bundle.model_copy(update={"code": bundle.code.model_copy(update={"uri": None})})
    with pytest.raises(BundleError, match=r"build\.sh --upload"):
        build_start_job_run_request(_no_jar_settings(), PG_SPEC, local)


def test_client_token_is_deterministic_valid_and_follows_the_spec(bundle: BundleManifest) -> None:
    first = build_start_job_run_request(_no_jar_settings(), PG_SPEC, bundle)
    again = build_start_job_run_request(_no_jar_settings(), JobSpec(**PG_SPEC.model_dump()), bundle)
    assert first == again
    assert TOKEN.match(first["clientToken"])
    assert first["clientToken"].endswith("-1")
    assert first["tags"][SPEC_TAG] == spec_id(first)
    assert first["tags"][ATTEMPT_TAG] == "1"
    other_table = PG_SPEC.model_copy(update={"tables": ["aurora.public.customers"]})
    assert (
        build_start_job_run_request(_no_jar_settings(), other_table, bundle)["clientToken"]
        != (first["clientToken"])
    )
    new_code = bundle.model_copy(update={"code": _artifact("sparkpg-0.1.0-code.zip", "e")})
    assert (
        build_start_job_run_request(_no_jar_settings(), PG_SPEC, new_code)["clientToken"]
        != (first["clientToken"])
    )
    second = with_attempt(first, 2)
    assert second["clientToken"] == client_token(first["tags"][SPEC_TAG], 2)
    assert second["tags"][ATTEMPT_TAG] == "2"
    assert spec_id(second) == spec_id(first)  # attempts share the spec id
    assert TOKEN.match(client_token("f" * 40, 9999))


def test_user_tags_and_confs_are_kept_and_checked(bundle: BundleManifest) -> None:
    spec = PG_SPEC.model_copy(
        update={"tags": {"team": "data"}, "spark_conf": {"spark.executor.memory": "8g"}}
    )
    request = build_start_job_run_request(_no_jar_settings(), spec, bundle)
    assert request["tags"]["team"] == "data"
    assert "--conf spark.executor.memory=8g" in _submit_params(request)
    with pytest.raises(ValueError, match="reserved"):
        JobSpec(tags={"sparkpg:spec-id": "x"})
    with pytest.raises(ValueError, match="spaces"):
        JobSpec(spark_conf={"spark.driver.extraJavaOptions": "-Da=1 -Db=2"})
    with pytest.raises(ValueError, match=r"connection\.schema\.table"):
        JobSpec(tables=["orders"])


def test_spark_params_local_form_moves_driver_env_to_the_process() -> None:
    params = SparkParams(
        py_files=["code.zip"], jars=["pg.jar"], archives=["env.tar.gz#environment"]
    )
    args, env = params.local_spark_submit()
    assert args[:6] == ["--master", "local[2]", "--jars", "pg.jar", "--py-files", "code.zip"]
    assert "--conf" in args and f"spark.executorEnv.PYSPARK_PYTHON={PYTHON}" in args
    assert not any("archives" in a or "emr-serverless" in a for a in args)
    assert env == {"PYSPARK_DRIVER_PYTHON": PYTHON, "PYSPARK_PYTHON": PYTHON}


def test_manifest_round_trips_and_rejects_garbage(bundle: BundleManifest) -> None:
    assert parse_manifest(bundle.to_json()) == bundle
    with pytest.raises(BundleError, match=r"build\.sh"):
        parse_manifest('{"format": 1}', "x.json")
    with pytest.raises(BundleError, match="no entry point"):
        bundle.entry_point("nope")


def test_driver_error_finds_python_tracebacks_and_java_exceptions() -> None:
    python_log = "\n".join(
        [
            "25/11/26 02:13:18 INFO SparkContext: Running Spark version 3.5.0",
            "Traceback (most recent call last):",
            '  File "/tmp/read_tables.py", line 12, in <module>',
            "    sys.exit(main())",
            "connectors.errors.SecretNotFoundError: secret spark/postgres/aurora not found",
            "25/11/26 02:13:19 INFO ShutdownHookManager: Shutdown hook called",
        ]
    )
    error = driver_error(python_log)
    assert error is not None
    assert error.startswith("Traceback") and error.endswith("spark/postgres/aurora not found")
    py4j = "\n".join(
        [
            "Traceback (most recent call last):",
            '  File "read_tables.py", line 3, in <module>',
            "py4j.protocol.Py4JJavaError: An error occurred while calling o51.load.",
            ": org.postgresql.util.PSQLException: FATAL: password authentication failed",
            "\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(X.java:1)",
            "25/11/26 INFO done",
        ]
    )
    assert "password authentication failed" in (driver_error(py4j) or "")
    java_log = "\n".join(
        [
            "25/11/26 02:13:18 ERROR SparkContext: Error initializing SparkContext.",
            'Exception in thread "main" java.lang.ClassNotFoundException: org.postgresql.Driver',
            "\tat java.net.URLClassLoader.findClass(URLClassLoader.java:445)",
            "Caused by: java.io.IOException: nope",
            "25/11/26 02:13:19 INFO ShutdownHookManager: Shutdown hook called",
        ]
    )
    java_error = driver_error(java_log) or ""
    assert "ClassNotFoundException: org.postgresql.Driver" in java_error
    assert "Caused by: java.io.IOException" in java_error
    assert driver_error("all good\n") is None
