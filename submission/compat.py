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
