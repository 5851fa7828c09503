"""Issue 11, pure parts: re-attach rules, run keys, the CloudWatch tail, JAR versions, bundle fit,
capacity sizing, the service-model constraint check, log paths of attempts and console links."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

from connectors.errors import SettingsError
from connectors.settings import Settings, load_settings
from diagnostics.jar import evaluate_jar
from submission.bundle import Artifact, BundleManifest
from submission.compat import bundle_mismatches, jar_version_in_name, parse_version
from submission.links import console_links
from submission.logs import CloudWatchTail, read_cloudwatch_log
from submission.request import (
    RUN_KEY_TAG,
    SPEC_TAG,
    JobSpec,
    build_start_job_run_request,
    check_jdbc_jar,
    jdbc_jar,
)
from submission.resources import MIN_OVERHEAD_MB, capacity_conf, heap_mb
from submission.runs import JobRunStatus, reusable
from submission.validate import constraint_violations
from tests import REPO

EXAMPLE = REPO / "examples" / "settings.json"
ROLE = "arn:aws:iam::260005718447:role/EMRServerlessExecutionRole"
ROOT = "s3://bucket/sparkpg"
SEED_CAPACITY = {
    "DRIVER": {
        "workerCount": 1,
        "workerConfiguration": {"cpu": "2 vCPU", "memory": "4 GB", "disk": "20 GB"},
    },
    "EXECUTOR": {"workerCount": 2, "workerConfiguration": {"cpu": "4 vCPU", "memory": "8 GB"}},
}


def _artifact(file: str, digit: str, version: Any = None) -> Artifact:
    sha = digit * 64
    return Artifact(
        file=file, sha256=sha, size=1, uri=f"{ROOT}/artifacts/{sha}/{file}", version=version
    )


@pytest.fixture()
def bundle() -> BundleManifest:
    return BundleManifest(
        version="0.1.0",
        code=_artifact("sparkpg-0.1.0-code.zip", "a"),
        environment=_artifact("sparkpg-0.1.0-env-py3.9-x86_64.tar.gz", "b"),
        jdbc_driver=_artifact("postgresql-42.7.13.jar", "c", "42.7.13"),
        entrypoints={"read_tables": _artifact("read_tables.py", "d")},
        artifact_root=ROOT,
    )


def _settings(jar: Any = None, **spark: Any) -> Settings:
    overrides = {
        "spark": {"emr_execution_role_arn": ROLE, **spark},
        "postgres": {"jdbc_driver_path": jar},
    }
    return load_settings(EXAMPLE, environ={}, overrides=overrides)


SPEC = JobSpec(tables=["aurora.public.orders"], settings_uri="s3://bucket/settings.json")


def _status(state: str, **kw: Any) -> JobRunStatus:
    return JobRunStatus("app1", "run1", state, **kw)


# --- item 1: re-attach and run keys ------------------------------------------------------------


@pytest.mark.parametrize("state", ["SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED"])
def test_an_active_run_is_reused(state: str) -> None:
    assert reusable(_status(state), keyed=False)


@pytest.mark.parametrize("state", ["SUCCESS", "FAILED", "CANCELLED", "CANCELLING"])
def test_a_finished_run_never_blocks_a_new_one(state: str) -> None:
    assert not reusable(_status(state), keyed=False)


def test_with_a_run_key_a_succeeded_run_is_the_same_logical_run() -> None:
    assert reusable(_status("SUCCESS"), keyed=True)
    assert not reusable(_status("FAILED"), keyed=True)
    assert not reusable(_status("CANCELLED"), keyed=True)


def test_the_run_key_goes_into_the_client_token(bundle: BundleManifest) -> None:
    plain = build_start_job_run_request(_settings(), SPEC, bundle)
    keyed = build_start_job_run_request(
        _settings(), SPEC.model_copy(update={"run_key": "scheduled__2026-12-01"}), bundle
    )
    again = build_start_job_run_request(
        _settings(), SPEC.model_copy(update={"run_key": "scheduled__2026-12-01"}), bundle
    )
    other = build_start_job_run_request(
        _settings(), SPEC.model_copy(update={"run_key": "scheduled__2026-12-02"}), bundle
    )
    assert keyed["clientToken"] == again["clientToken"]
    assert len({plain["clientToken"], keyed["clientToken"], other["clientToken"]}) == 3
    assert keyed["tags"][RUN_KEY_TAG] == "scheduled__2026-12-01"
    assert keyed["tags"][SPEC_TAG] != plain["tags"][SPEC_TAG]
    assert RUN_KEY_TAG not in plain["tags"]


# --- item 2: the CloudWatch tail ---------------------------------------------------------------


class _PagedLogs:
    """GetLogEvents as CloudWatch may answer: empty pages (new tokens) before the events."""

    def __init__(self, pages: List[List[str]]) -> None:
        self.pages = pages
        self.calls: List[Dict[str, Any]] = []

    def get_log_events(self, **kwargs: Any) -> Dict[str, Any]:
        self.calls.append(kwargs)
        sent = kwargs.get("nextToken")
        index = int(sent[2:]) if sent else 0
        if index >= len(self.pages):
            return {"events": [], "nextForwardToken": sent}  # the end: the same token
        events = [{"timestamp": 0, "message": m} for m in self.pages[index]]
        return {"events": events, "nextForwardToken": f"f/{index + 1}"}


def test_empty_pages_before_the_end_do_not_stop_the_read() -> None:
    logs = _PagedLogs([[], [], ["Traceback (most recent call last):", "ValueError: x"]])
    text = read_cloudwatch_log(logs, "/aws/emr-serverless", "stream")  # type: ignore[arg-type]
    assert text == "Traceback (most recent call last):\nValueError: x\n"
    assert len(logs.calls) == 4  # three pages, then the unchanged token


def test_the_tail_returns_only_new_lines_and_is_bounded() -> None:
    logs = _PagedLogs([["one"], ["two"]])
    tail = CloudWatchTail(logs, "g", "s")
    assert tail.read_new() == ["one", "two"]
    logs.pages.append(["three"])
    assert tail.read_new() == ["three"]
    assert tail.read_new() == []
    endless = _PagedLogs([[]] * 10_000)
    assert CloudWatchTail(endless, "g", "s", max_pages=5).read_new() == []
    assert len(endless.calls) == 5


# --- item 6: the JDBC JAR ----------------------------------------------------------------------


def test_one_version_parser_for_submit_and_doctor() -> None:
    assert parse_version("42.7.13") == (42, 7, 13)
    assert jar_version_in_name("s3://b/jars/postgresql-42.7.8.jar") == "42.7.8"
    assert jar_version_in_name("s3://b/jars/driver.jar") is None


def test_an_old_settings_jar_is_refused_unless_allowed(bundle: BundleManifest) -> None:
    old = "s3://b/jars/postgresql-42.7.8.jar"
    jar = jdbc_jar(_settings(jar=old), bundle)
    assert (jar.location, jar.version, jar.safe) == (old, "42.7.8", False)
    assert "instead of the bundle's JAR" in jar.describe()
    with pytest.raises(SettingsError, match="--allow-old-jdbc") as refused:
        build_start_job_run_request(_settings(jar=old), SPEC, bundle)
    assert "42.7.8" in str(refused.value) and "42.7.12" in str(refused.value)
    check_jdbc_jar(jar, allow_old=True)
    request = build_start_job_run_request(_settings(jar=old), SPEC, bundle, allow_old_jdbc=True)
    assert f"--jars {old} " in request["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
    pinned = jdbc_jar(_settings(), bundle)
    assert (
        pinned.version == "42.7.13" and pinned.safe and pinned.source == "the bundle's pinned JAR"
    )


def test_the_doctor_warns_on_the_same_versions(tmp_path: Path) -> None:
    import zipfile

    def jar(version: str) -> bytes:
        path = tmp_path / f"{version}.jar"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("org/postgresql/Driver.class", b"")
            archive.writestr("META-INF/services/java.sql.Driver", "org.postgresql.Driver\n")
            archive.writestr("META-INF/MANIFEST.MF", f"Implementation-Version: {version}\n")
        return path.read_bytes()

    assert evaluate_jar(jar("42.7.8"), "x").status == "warn"
    assert evaluate_jar(jar("42.7.12"), "x").status == "pass"


# --- item 7: the bundle against the application ------------------------------------------------


def _app(release: str = "emr-7.0.0", arch: Any = "X86_64") -> Dict[str, Any]:
    return {"applicationId": "app1", "releaseLabel": release, "architecture": arch}


def _fit(app: Dict[str, Any], python: str = "3.9", arch: str = "X86_64") -> List[str]:
    return bundle_mismatches(architecture=arch, python=python, spark="3.5", application=app)


def test_a_matching_bundle_fits() -> None:
    assert _fit(_app()) == []
    assert _fit(_app(arch=None)) == []  # GetApplication without architecture: X86_64
    assert _fit(_app("emr-7.1.0"), python="3.11") == []
    assert _fit(_app("emr-9.9.9")) == []  # unknown release: nothing to say


def test_another_architecture_is_refused_with_the_build_flag() -> None:
    [problem] = _fit(_app(arch="ARM64"))
    assert "X86_64" in problem and "ARM64" in problem and "./build.sh --arch arm64" in problem
    [back] = _fit(_app(), arch="ARM64")
    assert "--arch x86_64" in back


def test_a_release_without_the_python_or_spark_is_refused() -> None:
    problems = _fit(_app("emr-spark-8.0.0"))
    assert any("/usr/bin/python3.9" in p and "emr-7.x" in p for p in problems)
    assert any("Spark 3.5" in p and "Spark 4.0" in p for p in problems)
    assert any("python3.9" in p for p in _fit(_app("emr-6.15.0")))
    assert any("3.11" in p for p in _fit(_app("emr-7.0.0"), python="3.11"))


# --- item 9: driver and executor sizes ---------------------------------------------------------


def test_sizes_fit_the_pre_initialised_workers() -> None:
    conf = capacity_conf(SEED_CAPACITY)
    assert conf == {
        "spark.driver.cores": "2",
        "spark.driver.memory": "3712m",
        "spark.emr-serverless.driver.disk": "20G",
        "spark.executor.cores": "4",
        "spark.executor.memory": "7447m",
    }
    for worker_mb in (2048, 4096, 8192, 16384, 30720, 122880):
        heap = heap_mb(worker_mb)
        assert heap + max(heap // 10, MIN_OVERHEAD_MB) <= worker_mb, worker_mb
        assert worker_mb - heap < worker_mb * 0.1 + MIN_OVERHEAD_MB  # not wastefully small
    assert capacity_conf(None) == {} and capacity_conf({}) == {}
    with pytest.raises(SettingsError, match="memory"):
        capacity_conf({"Driver": {"workerConfiguration": {"memory": "four"}}})


def test_capacity_comes_from_the_application_or_the_settings_and_conf_wins(
    bundle: BundleManifest,
) -> None:
    def params(request: Dict[str, Any]) -> str:
        return str(request["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"])

    from_app = params(
        build_start_job_run_request(_settings(), SPEC, bundle, initial_capacity=SEED_CAPACITY)
    )
    assert "--conf spark.executor.memory=7447m" in from_app
    assert "--conf spark.driver.cores=2" in from_app
    from_settings = params(
        build_start_job_run_request(_settings(emr_initial_capacity=SEED_CAPACITY), SPEC, bundle)
    )
    assert "--conf spark.executor.memory=7447m" in from_settings
    overridden = SPEC.model_copy(update={"spark_conf": {"spark.executor.memory": "6g"}})
    chosen = params(
        build_start_job_run_request(_settings(), overridden, bundle, initial_capacity=SEED_CAPACITY)
    )
    assert "spark.executor.memory=6g" in chosen and "7447m" not in chosen
    assert "spark.executor.memory" not in params(
        build_start_job_run_request(_settings(), SPEC, bundle)
    )


# --- item 10 and 14: the request against the service model -------------------------------------


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"tags": {"team": "a,b"}}, "tags['team']"),
        ({"name": "   "}, "name"),
        ({"arguments": ["x"] * 1030}, "jobDriver.sparkSubmit.entryPointArguments"),
        ({"execution_timeout_minutes": 2_000_000}, "executionTimeoutMinutes"),
    ],
)
def test_values_the_service_rejects_are_refused_naming_the_field(
    bundle: BundleManifest, update: Dict[str, Any], field: str
) -> None:
    with pytest.raises(SettingsError, match="would be rejected by the service") as refused:
        build_start_job_run_request(_settings(), SPEC.model_copy(update=update), bundle)
    assert f"{field}:" in str(refused.value)


@pytest.mark.parametrize(
    ("spark", "field"),
    [
        ({"emr_cloudwatch_log_stream_prefix": "team:a"}, "logStreamNamePrefix"),
        ({"emr_cloudwatch_log_group": "/my logs"}, "logGroupName"),
    ],
)
def test_log_settings_the_service_rejects_are_refused(
    bundle: BundleManifest, spark: Dict[str, Any], field: str
) -> None:
    with pytest.raises(SettingsError, match=field):
        build_start_job_run_request(_settings(**spark), SPEC, bundle)


def test_timeouts_and_retries_the_api_accepts_pass(bundle: BundleManifest) -> None:
    for minutes in (0, 3, 10080):
        spec = SPEC.model_copy(update={"execution_timeout_minutes": minutes})
        assert (
            build_start_job_run_request(_settings(), spec, bundle)["executionTimeoutMinutes"]
            == minutes
        )
    retried = SPEC.model_copy(update={"max_attempts": 3})
    request = build_start_job_run_request(_settings(), retried, bundle)
    assert request["retryPolicy"] == {"maxAttempts": 3}
    assert "retryPolicy" not in build_start_job_run_request(_settings(), SPEC, bundle)
    assert constraint_violations("emr-serverless", "StartJobRun", request) == []


# --- items 13 and 14: log paths of attempts, console links -------------------------------------


def test_later_attempts_log_under_attempts_n() -> None:
    first = _status("RUNNING", log_uri="s3://logs/emr/", log_group="/g", service_attempt=1)
    assert first.driver_log_locations()["s3"] == (
        "s3://logs/emr/applications/app1/jobs/run1/SPARK_DRIVER/stderr.gz"
    )
    second = _status("RUNNING", log_uri="s3://logs/emr/", log_group="/g", service_attempt=2)
    assert second.driver_log_locations("stdout") == {
        "s3": "s3://logs/emr/applications/app1/jobs/run1/attempts/2/SPARK_DRIVER/stdout.gz",
        "cloudwatch": "/g:/applications/app1/jobs/run1/attempts/2/SPARK_DRIVER/stdout",
    }
    assert second.to_dict()["serviceAttempt"] == 2


def test_console_links_point_at_the_runs_logs() -> None:
    run = _status("RUNNING", log_uri="s3://logs/emr", log_group="/aws/emr-serverless")
    links = console_links(run, "eu-west-1")
    assert links["s3Logs"] == (
        "https://console.aws.amazon.com/s3/buckets/logs?region=eu-west-1"
        "&prefix=emr/applications/app1/jobs/run1/"
    )
    assert links["cloudWatchLogs"].startswith(
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/"
        "log-group/$252Faws$252Femr-serverless$3FlogStreamNameFilter$3D"
    )
    assert links["cloudWatchLogs"].endswith("$252Fapplications$252Fapp1$252Fjobs$252Frun1$252F")
    assert console_links(_status("RUNNING"), "eu-west-1") == {}
