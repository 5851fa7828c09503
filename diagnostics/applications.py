"""The EMR Serverless application checks: both exist, are Spark, and the PostgreSQL one has a VPC."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple

from connectors.errors import AwsRequestError
from diagnostics.context import DoctorContext, lookup_failed
from diagnostics.results import FAIL, PASS, WARN, CheckResult
from diagnostics.vpc import AppNetwork
from submission.compat import bundle_mismatches


def evaluate_application(
    name: str, application: Mapping[str, Any], *, needs_network: bool
) -> CheckResult:
    """State, type, release label, architecture; the PostgreSQL one needs a network configuration."""
    app_id = application.get("applicationId", "?")
    state = str(application.get("state", "?"))
    release = application.get("releaseLabel", "?")
    architecture = application.get("architecture") or "X86_64 (default)"
    app_type = str(application.get("type", "?"))
    network = application.get("networkConfiguration") or {}
    subnets = list(network.get("subnetIds") or [])
    groups = list(network.get("securityGroupIds") or [])
    evidence = (
        f"{app_id} ({application.get('name', '-')}): state {state}, type {app_type}, "
        f"release {release}, architecture {architecture}"
    )
    if subnets or groups:
        evidence += (
            f", subnets {', '.join(subnets) or '-'}, security groups {', '.join(groups) or '-'}"
        )
    else:
        evidence += ", no network configuration"
    if state in ("TERMINATED", "TERMINATING"):
        return CheckResult(
            name,
            FAIL,
            evidence,
            f"the application is {state}: create a new one (docs/troubleshooting.md#emr-application) and put its id in the settings",
            "emr-application",
        )
    if app_type.upper() != "SPARK":
        return CheckResult(
            name,
            FAIL,
            evidence,
            "sparkpg jobs need a Spark application of type Spark (docs/troubleshooting.md#emr-application)",
            "emr-application",
        )
    if needs_network and (not subnets or not groups):
        return CheckResult(
            name,
            FAIL,
            evidence + ": jobs cannot reach the database or the VPC endpoints",
            "EMR Serverless application created with VPC configuration (docs/troubleshooting.md#settings): "
            f"aws emr-serverless stop-application --application-id {app_id}; aws emr-serverless "
            f"update-application --application-id {app_id} --network-configuration "
            "'subnetIds=<private subnets>,securityGroupIds=<EMR security group>'",
            "emr-application",
        )
    auto_start = (application.get("autoStartConfiguration") or {}).get("enabled", True)
    if not auto_start and state not in ("STARTED", "STARTING"):
        return CheckResult(
            name,
            WARN,
            evidence + "; auto-start is off, so a job run is refused until the application starts",
            f"aws emr-serverless start-application --application-id {app_id}, or enable "
            "autoStartConfiguration (docs/troubleshooting.md#emr-application)",
            "emr-application",
        )
    if state == "CREATING":
        return CheckResult(
            name, WARN, evidence + "; still being created", "wait and re-run", "emr-application"
        )
    return CheckResult(name, PASS, evidence, ref="emr-application")


def check_applications(ctx: DoctorContext) -> List[CheckResult]:
    """Both applications exist; the PostgreSQL one has a network configuration (docs/troubleshooting.md#emr-application)."""
    spark = ctx.settings.spark
    wanted: List[Tuple[str, str, bool]] = []
    if spark.emr_postgres_application_id:
        wanted.append(("app-postgres", spark.emr_postgres_application_id, True))
    if spark.emr_application_id and spark.emr_application_id != spark.emr_postgres_application_id:
        wanted.append(("app-default", spark.emr_application_id, False))
    results = []
    for name, app_id, needs_network in wanted:
        try:
            application = ctx.reader.application(app_id)
        except AwsRequestError as exc:
            if exc.not_found or exc.code == "ValidationException":
                key = "emr_postgres_application_id" if needs_network else "emr_application_id"
                results.append(
                    CheckResult(
                        name,
                        FAIL,
                        f"{app_id}: no such EMR Serverless application in {ctx.reader.region_name} "
                        f"({exc.code})",
                        f"check spark.{key} in the settings, or create the application (docs/troubleshooting.md#emr-application)",
                        "emr-application",
                    )
                )
            else:
                results.append(lookup_failed(name, exc, "emr-application"))
            continue
        ctx.applications[name] = application
        result = evaluate_application(name, application, needs_network=needs_network)
        results.append(result)
        network = application.get("networkConfiguration") or {}
        if needs_network and network.get("subnetIds") and network.get("securityGroupIds"):
            ctx.app = None
            try:
                subnets = ctx.reader.subnets(network["subnetIds"])
                ctx.app = AppNetwork.from_subnets(subnets, network["securityGroupIds"])
            except (AwsRequestError, ValueError) as exc:
                results.append(
                    CheckResult(
                        "app-network",
                        FAIL,
                        f"{app_id}: subnets {', '.join(network['subnetIds'])}: {exc}",
                        "update the application's network configuration with private subnets of "
                        "one VPC (docs/troubleshooting.md#emr-application)",
                        "emr-application",
                    )
                )
    return results


def evaluate_bundle_fit(name: str, runtime: Any, application: Mapping[str, Any]) -> CheckResult:
    """The deployed bundle's runtime (manifest ``runtime``) fits the application (docs/deploy.md)."""
    app_id = application.get("applicationId", "?")
    built = f"built for {runtime.release_label}, Python {runtime.python}, {runtime.architecture}"
    problems = bundle_mismatches(
        architecture=runtime.architecture,
        python=runtime.python,
        spark=runtime.spark,
        application=application,
    )
    target = (
        f"application {app_id}: release {application.get('releaseLabel', '?')}, "
        f"architecture {application.get('architecture') or 'X86_64'}"
    )
    if problems:
        return CheckResult(
            name, FAIL, f"the bundle is {built}; {target}", "; ".join(problems), "emr-application"
        )
    return CheckResult(name, PASS, f"the bundle is {built}; fits {target}", ref="emr-application")


def check_bundle_fit(ctx: DoctorContext, bundle_location: Optional[str]) -> List[CheckResult]:
    """The deployed bundle (``--bundle`` or ``spark.emr_bundle_uri``) against each application."""
    from connectors.errors import SparkPgError
    from submission.bundle import load_bundle

    location = bundle_location or ctx.settings.spark.emr_bundle_uri
    if not location or not ctx.applications:
        return []
    try:
        bundle = load_bundle(location, ctx.reader.client("s3"))
    except SparkPgError as exc:
        return [
            CheckResult(
                "bundle-fit",
                WARN,
                f"{location}: {exc}",
                "deploy the bundle (./build.sh, sparkpg deploy) and set spark.emr_bundle_uri",
                "emr-application",
            )
        ]
    return [
        evaluate_bundle_fit(f"bundle-fit:{name}", bundle.runtime, application)
        for name, application in ctx.applications.items()
    ]
