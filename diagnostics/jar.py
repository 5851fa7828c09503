"""The JDBC JAR checks: it exists at ``jdbc_driver_path``, in the right region, and is pgjdbc."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Dict, Optional

from connectors.errors import AwsRequestError
from connectors.jdbc import DRIVER_CLASS
from diagnostics.context import DoctorContext, lookup_failed
from diagnostics.results import FAIL, PASS, WARN, CheckResult
from submission.compat import MIN_SAFE_JDBC, format_version, jdbc_version_is_safe

DRIVER_ENTRY = "org/postgresql/Driver.class"
SERVICES_ENTRY = "META-INF/services/java.sql.Driver"

FIX_JAR_MISSING = "Ensure `jdbc_driver_path` is configured in backend settings"

FIX_JAR_IN_S3 = "Verify JDBC JAR exists in S3"


def evaluate_jar(data: bytes, where: str) -> CheckResult:
    """Whether ``data`` is a PostgreSQL JDBC driver JAR (docs/troubleshooting.md#jdbc-driver-not-found): Driver class, service entry, version."""
    fix_upload = (
        f"{FIX_JAR_IN_S3} (docs/troubleshooting.md#jdbc-driver-not-found): upload the PostgreSQL JDBC driver JAR, e.g. "
        f"aws s3 cp postgresql-42.7.13.jar {where}"
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return CheckResult(
            "jdbc-jar",
            FAIL,
            f"{where} ({len(data)} bytes) is not a JAR (zip) file: the job would fail with "
            f"ClassNotFoundException: {DRIVER_CLASS}",
            fix_upload,
            "jdbc-driver-not-found",
        )
    with archive:
        names = set(archive.namelist())
        services = (
            archive.read(SERVICES_ENTRY).decode("utf-8", "replace")
            if SERVICES_ENTRY in names
            else ""
        )
        manifest = (
            archive.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
            if "META-INF/MANIFEST.MF" in names
            else ""
        )
    problems = []
    if DRIVER_ENTRY not in names:
        problems.append(f"no {DRIVER_ENTRY}")
    if DRIVER_CLASS not in services.split():
        problems.append(f"{SERVICES_ENTRY} does not name {DRIVER_CLASS}")
    if problems:
        return CheckResult(
            "jdbc-jar",
            FAIL,
            f"{where} is a JAR but not the PostgreSQL JDBC driver ({'; '.join(problems)}): the "
            f"job would fail with ClassNotFoundException: {DRIVER_CLASS}",
            fix_upload,
            "jdbc-driver-not-found",
        )
    version = _manifest_version(manifest)
    shown = f"version {version}" if version else "version unknown (no manifest version)"
    evidence = f"{where}: {DRIVER_ENTRY} and {SERVICES_ENTRY} present, {shown}"
    if version and not jdbc_version_is_safe(version):
        minimum = format_version(MIN_SAFE_JDBC)
        return CheckResult(
            "jdbc-jar",
            WARN,
            f"{evidence}; older than {minimum}, which has the recent CVE fixes",
            f"upload pgjdbc {minimum} or newer and point jdbc_driver_path at it",
            "jdbc-driver-not-found",
        )
    return CheckResult("jdbc-jar", PASS, evidence, ref="jdbc-driver-not-found")


def _manifest_version(manifest: str) -> Optional[str]:
    fields: Dict[str, str] = {}
    for line in manifest.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields.get("Implementation-Version") or fields.get("Bundle-Version")


def check_jar(ctx: DoctorContext) -> CheckResult:
    """The JDBC JAR exists at jdbc_driver_path and is the PostgreSQL driver (docs/troubleshooting.md#jdbc-driver-not-found)."""
    path = ctx.settings.postgres.jdbc_driver_path
    if not path:
        return CheckResult(
            "jdbc-jar",
            FAIL,
            f"{ctx.settings.source}: postgres.jdbc_driver_path is not set: jobs fail with "
            f"ClassNotFoundException: {DRIVER_CLASS}",
            f"{FIX_JAR_MISSING} (docs/troubleshooting.md#jdbc-driver-not-found): set postgres.jdbc_driver_path to "
            "s3://<bucket>/jars/postgresql-<version>.jar",
            "jdbc-driver-not-found",
        )
    if not path.startswith("s3://"):
        local = Path(path)
        if not local.is_file():
            return CheckResult(
                "jdbc-jar",
                FAIL,
                f"{path}: no such file",
                f"{FIX_JAR_MISSING} (docs/troubleshooting.md#jdbc-driver-not-found): point jdbc_driver_path at the JAR",
                "jdbc-driver-not-found",
            )
        result = evaluate_jar(local.read_bytes(), path)
        if result.status == PASS:
            return CheckResult(
                "jdbc-jar",
                WARN,
                f"{result.evidence}; a local path works for local runs only",
                "for EMR, upload the JAR to S3 in the application's region and set "
                "jdbc_driver_path to its s3:// URI (docs/troubleshooting.md#jdbc-driver-not-found)",
                "jdbc-driver-not-found",
            )
        return result
    from connectors.aws import parse_s3_uri

    try:
        bucket, key = parse_s3_uri(path)
    except ValueError as exc:
        return CheckResult("jdbc-jar", FAIL, str(exc), FIX_JAR_MISSING, "jdbc-driver-not-found")
    try:
        data = ctx.reader.read_s3_object(bucket, key)
    except AwsRequestError as exc:
        if exc.not_found:
            return CheckResult(
                "jdbc-jar",
                FAIL,
                f"{path}: {exc.code}: jobs fail with ClassNotFoundException: {DRIVER_CLASS}",
                f"{FIX_JAR_IN_S3} (docs/troubleshooting.md#jdbc-driver-not-found): aws s3 cp postgresql-42.7.13.jar {path}",
                "jdbc-driver-not-found",
            )
        return lookup_failed("jdbc-jar", exc, "jdbc-driver-not-found", "jdbc_driver_path")
    result = evaluate_jar(data, path)
    try:
        region = ctx.reader.bucket_region(bucket)
    except AwsRequestError:
        return result
    if region != ctx.reader.region_name:
        return CheckResult(
            "jdbc-jar",
            FAIL,
            f"{result.evidence}; but the bucket is in {region}, not {ctx.reader.region_name}",
            "EMR Serverless reads jars from S3 in its own region: copy the JAR to a bucket in "
            f"{ctx.reader.region_name} and update jdbc_driver_path",
            "jdbc-driver-not-found",
        )
    return result
