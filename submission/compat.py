"""Does the job fit where it runs? The JDBC JAR's version, and the bundle against the application.

Pure functions, shared by ``sparkpg submit`` and ``sparkpg doctor`` (one version parser, one table
of EMR Serverless runtimes):

>>> parse_version("42.7.13")
(42, 7, 13)
>>> jar_version_in_name("s3://b/jars/postgresql-42.7.8.jar")
'42.7.8'
>>> release_runtime("emr-7.0.0").spark
'3.5'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, FrozenSet, List, Mapping, Optional, Tuple

#: pgjdbc releases from this one carry the recent CVE fixes (the pgjdbc changelog).
MIN_SAFE_JDBC = (42, 7, 12)

_JAR_VERSION = re.compile(r"postgresql-(\d+\.\d+\.\d+)(?:[.-][\w.]*)?\.jar$")


def parse_version(text: str) -> Tuple[int, ...]:
    """The first three numbers of a version string: ``"42.7.13"`` -> ``(42, 7, 13)``."""
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def format_version(version: Tuple[int, ...]) -> str:
    """``(42, 7, 12)`` -> ``"42.7.12"``."""
    return ".".join(map(str, version))


def jar_version_in_name(location: str) -> Optional[str]:
    """The pgjdbc version in a JAR's file name (``postgresql-42.7.8.jar``), None if it has none."""
    match = _JAR_VERSION.search(location.rsplit("/", 1)[-1])
    return match.group(1) if match else None


def jdbc_version_is_safe(version: str) -> bool:
    """True from :data:`MIN_SAFE_JDBC` on."""
    return parse_version(version) >= MIN_SAFE_JDBC


@dataclass(frozen=True)
class ReleaseRuntime:
    """What an EMR Serverless release runs: Spark (major.minor) and the Pythons in the image."""

    release_label: str
    spark: str
    pythons: FrozenSet[str]


def release_runtime(release_label: str) -> Optional[ReleaseRuntime]:
    """The runtime of an EMR Serverless release label, None for a label we do not know.

    EMR Release Guide, "Application versions in Amazon EMR 7.x releases" and the EMR Serverless
    release pages: emr-7.0.0 runs Spark 3.5 with Python 3.9 only; emr-7.1.0 and later add
    Python 3.11; emr-spark-8.x runs Spark 4.0 with Python 3.11, 3.12 and 3.13; emr-6.x runs
    Spark 3.x with Python 3.7.
    """
    match = re.match(r"^emr-(spark-)?(\d+)\.(\d+)\.(\d+)", release_label)
    if not match:
        return None
    spark_line, major, minor = match.group(1), int(match.group(2)), int(match.group(3))
    if spark_line and major == 8:
        return ReleaseRuntime(release_label, "4.0", frozenset({"3.11", "3.12", "3.13"}))
    if not spark_line and major == 7:
        pythons = {"3.9"} if minor == 0 else {"3.9", "3.11"}
        return ReleaseRuntime(release_label, "3.5", frozenset(pythons))
    if not spark_line and major == 6:
        return ReleaseRuntime(release_label, "3", frozenset({"3.7"}))
    return None


def bundle_mismatches(
    *, architecture: str, python: str, spark: str, application: Mapping[str, Any]
) -> List[str]:
    """Why a bundle (built for ``architecture``, ``python``, ``spark``) cannot run on ``application``.

    ``application`` is GetApplication's ``application``. Each problem names the fix. Empty when
    the bundle fits (or the release is unknown: then nothing can be said about it).
    """
    problems: List[str] = []
    app_id = application.get("applicationId", "?")
    app_arch = str(application.get("architecture") or "X86_64")
    if app_arch != architecture:
        flag = "arm64" if app_arch == "ARM64" else "x86_64"
        problems.append(
            f"the bundle is built for {architecture} but application {app_id} is {app_arch}: "
            f"its compiled wheels (pydantic_core) would not load; rebuild with "
            f"./build.sh --arch {flag} and run sparkpg deploy again"
        )
    release = str(application.get("releaseLabel") or "")
    runtime = release_runtime(release)
    if runtime is None:
        return problems
    if python not in runtime.pythons:
        have = ", ".join(sorted(runtime.pythons))
        problems.append(
            f"the bundle's environment needs /usr/bin/python{python}, which {release} does not "
            f"have (it has Python {have}): use an application with a release that has "
            f"Python {python} (emr-7.x for 3.9), or rebuild with ./build.sh --python "
            f"{sorted(runtime.pythons)[0]}"
        )
    if spark.split(".")[0] != runtime.spark.split(".")[0]:
        problems.append(
            f"the bundle is built for Spark {spark} but {release} runs Spark {runtime.spark}: "
            f"use an emr-7.x release for Spark 3.5 (emr-spark-8.x runs Spark 4)"
        )
    return problems


#: The first release with job retries (EMR Serverless User Guide, "Job resiliency").
RETRY_RELEASE = (7, 1, 0)
#: From this release a batch run's executionTimeoutMinutes must be 1..10080 (0, no timeout, is
#: refused); before it the API's range 0..1000000 applies, 0 meaning no timeout.
BOUNDED_TIMEOUT_RELEASE = (7, 11, 0)
MAX_BOUNDED_TIMEOUT = 10080


def release_version(release_label: str) -> Optional[Tuple[int, ...]]:
    """The version of an EMR release label on the emr-7 scale: emr-spark-8.x counts as 8.x.

    >>> release_version("emr-7.0.0"), release_version("emr-spark-8.0.0"), release_version("x")
    ((7, 0, 0), (8, 0, 0), None)
    """
    match = re.match(r"^emr-(?:spark-)?(\d+)\.(\d+)\.(\d+)", release_label)
    return tuple(int(match.group(i)) for i in (1, 2, 3)) if match else None


def run_option_problems(
    release_label: str, *, max_attempts: Optional[int], execution_timeout_minutes: int
) -> List[str]:
    """Options of a run that the application's release refuses, each with its fix.

    ``--max-attempts`` (``retryPolicy``) needs emr-7.1.0 or later (User Guide, "Job resiliency");
    the execution timeout is 0..1000000 minutes (0: none) before emr-7.11.0 and 1..10080 from it.
    An unknown release label gives no problems (nothing can be said about it).
    """
    version = release_version(release_label)
    if version is None:
        return []
    problems: List[str] = []
    if max_attempts is not None and version < RETRY_RELEASE:
        problems.append(
            f"--max-attempts {max_attempts} (retryPolicy) needs EMR Serverless release "
            f"emr-{format_version(RETRY_RELEASE)} or later and the application runs "
            f"{release_label}: drop --max-attempts, or submit to an application on "
            f"emr-{format_version(RETRY_RELEASE)} or later (docs/deploy.md, section 5)"
        )
    if (
        version >= BOUNDED_TIMEOUT_RELEASE
        and not 1 <= execution_timeout_minutes <= MAX_BOUNDED_TIMEOUT
    ):
        problems.append(
            f"--execution-timeout-minutes {execution_timeout_minutes} is refused by "
            f"{release_label}: from emr-{format_version(BOUNDED_TIMEOUT_RELEASE)} a batch run's "
            f"timeout is 1..{MAX_BOUNDED_TIMEOUT} minutes (7 days); give a value in that range"
        )
    return problems
