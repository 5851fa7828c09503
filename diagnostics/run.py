"""``sparkpg doctor``: the deployment checklist and the common failures of docs/troubleshooting.md,
checked against the AWS account before a job runs.

Three layers, so that everything but the AWS calls is testable without AWS:

- :class:`~diagnostics.aws_reader.AwsReader` makes every AWS call of the doctor (one place);
- ``evaluate_*`` functions (in :mod:`diagnostics.jar`, ``iam``, ``applications``, ``network``,
  ``databases``, ``iam_auth``, ``probe``) are pure: AWS descriptions (the dicts boto3 returns) in, a
  :class:`~diagnostics.results.CheckResult` out;
- :func:`run_doctor` fetches, evaluates and returns the results in a stable order.

>>> results = run_doctor("examples/settings.json", role_arn=None)  # doctest: +SKIP
>>> [r.name for r in results if r.status == "fail"]  # doctest: +SKIP
[]
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional, Union

from connectors.endpoints import resolve_endpoint
from connectors.errors import AwsRequestError, CredentialsError, SettingsError
from connectors.settings import ConnectionSettings, Settings, load_settings
from diagnostics.applications import check_applications, check_bundle_fit
from diagnostics.aws_reader import AwsReader
from diagnostics.context import DoctorContext
from diagnostics.costs import evaluate_fixed_cost
from diagnostics.iam import check_role
from diagnostics.iam_auth import check_iam_auth
from diagnostics.jar import check_jar
from diagnostics.network import check_network
from diagnostics.results import FAIL, PASS, SKIP, WARN, CheckResult

ProbeRunner = Callable[[Settings, Optional[str]], List[CheckResult]]


def evaluate_settings_content(settings: Settings) -> List[CheckResult]:
    """The application ids and the enabled connections the backend's settings.json needs."""
    spark = settings.spark
    missing = [
        key
        for key in ("emr_application_id", "emr_postgres_application_id")
        if not getattr(spark, key)
    ]
    if missing:
        apps = CheckResult(
            "settings-applications",
            FAIL,
            f"{settings.source}: spark.{' and spark.'.join(missing)} not set",
            "Backend settings.json configured with correct ARNs and paths (docs/troubleshooting.md#settings): set "
            + " and ".join(f"spark.{m}" for m in missing)
            + " to the EMR Serverless application ids (docs/troubleshooting.md#settings)",
            "settings",
        )
    else:
        apps = CheckResult(
            "settings-applications",
            PASS,
            f"emr_application_id={spark.emr_application_id}, "
            f"emr_postgres_application_id={spark.emr_postgres_application_id}",
            ref="settings",
        )
    enabled = settings.enabled_connections
    if not enabled:
        disabled = [c.name for c in settings.postgres.connections]
        conns = CheckResult(
            "settings-connections",
            FAIL,
            f"{settings.source}: no enabled connection"
            + (f" (disabled: {', '.join(disabled)})" if disabled else ""),
            'add a connection to postgres.connections with "enabled": true (docs/troubleshooting.md#settings)',
            "settings",
        )
    else:
        described = ", ".join(f"{c.name} ({c.credential_source})" for c in enabled)
        conns = CheckResult("settings-connections", PASS, f"enabled: {described}", ref="settings")
    return [apps, conns]


def check_secret(ctx: DoctorContext, connection: ConnectionSettings) -> CheckResult:
    """The connection's secret exists and has the expected keys, read with the caller's permissions."""
    from connectors.secrets import resolve_credentials

    name = f"secret:{connection.name}"
    try:
        caller = ctx.reader.caller_arn()
    except AwsRequestError:
        caller = "the caller"
    try:
        credentials = resolve_credentials(connection, refresh=True)
    except CredentialsError as exc:
        return CheckResult(
            name,
            FAIL,
            f"{connection.credential_source} read as {caller}: {type(exc).__name__}",
            str(exc),
            "secrets-manager-access-denied" if connection.secret_arn else "credentials",
        )
    if connection.host or credentials.host:
        ctx.endpoints[connection.name] = resolve_endpoint(connection, credentials)
    keys = ["username", "password"] + [
        k for k in ("host", "port", "database", "engine") if getattr(credentials, k) is not None
    ]
    evidence = f"{credentials.source} read as {caller}: keys {', '.join(keys)}"
    if connection.secret_arn is None:
        return CheckResult(
            name,
            WARN,
            f"{evidence}; local credentials do not reach an EMR job",
            "store the credentials in Secrets Manager and set secret_arn (docs/troubleshooting.md#credentials)",
            "credentials",
        )
    try:
        ctx.secret_arns[connection.name] = ctx.reader.secret_arn(connection.secret_arn)
    except AwsRequestError:
        ctx.secret_arns[connection.name] = connection.secret_arn
    return CheckResult(name, PASS, evidence, ref="credentials")


def run_doctor(
    settings_source: Union[str, Path],
    *,
    role_arn: Optional[str] = None,
    reader: Optional[AwsReader] = None,
    probe: Optional[ProbeRunner] = None,
    bundle_location: Optional[str] = None,
) -> List[CheckResult]:
    """Run every check; the results in a stable order. ``probe`` runs the ``--probe`` job.

    The role ARN defaults to ``spark.emr_execution_role_arn`` from the settings; the bundle
    checked against the applications to ``spark.emr_bundle_uri``.
    """
    try:
        settings = load_settings(settings_source)
    except SettingsError as exc:
        return [
            CheckResult(
                "settings",
                FAIL,
                str(exc),
                "Backend settings.json configured with correct ARNs and paths (docs/troubleshooting.md#settings); "
                "fix the fields named above (docs/troubleshooting.md#settings)",
                "settings",
            )
        ]
    results = [CheckResult("settings", PASS, f"{settings.source}: valid", ref="settings")]
    results.extend(evaluate_settings_content(settings))
    role = role_arn or getattr(settings.spark, "emr_execution_role_arn", None)
    ctx = DoctorContext(settings=settings, reader=reader or AwsReader(), role_arn=role)
    results.append(check_jar(ctx))
    for connection in settings.enabled_connections:
        if connection.auth_method == "iam":
            # No secret to read: each login signs a token (docs/auth.md); the host is in the settings.
            ctx.endpoints[connection.name] = resolve_endpoint(connection)
        else:
            results.append(check_secret(ctx, connection))
    results.extend(check_role(ctx))
    results.extend(check_iam_auth(ctx))
    results.extend(check_applications(ctx))
    results.extend(check_bundle_fit(ctx, bundle_location))
    if settings.spark.emr_postgres_application_id:
        results.extend(check_network(ctx))
    if ctx.applications or ctx.vpc_endpoints_read:
        results.append(evaluate_fixed_cost(ctx.applications, ctx.vpc_endpoints))
    else:
        results.append(
            CheckResult(
                "fixed-cost",
                SKIP,
                "nothing to price: neither the applications nor the VPC endpoints could be read",
            )
        )
    if probe is not None:
        if any(r.status == FAIL for r in results):
            results.append(
                CheckResult(
                    "probe",
                    SKIP,
                    "not submitted: fix the failing checks first (a probe would fail)",
                )
            )
        else:
            results.extend(probe(settings, role))
    return results
