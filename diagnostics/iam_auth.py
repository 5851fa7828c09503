"""The IAM database authentication checks of connections with ``auth_method: "iam"`` (docs/auth.md).

For each such connection: the cluster answering at the endpoint the tokens are signed for has IAM
database authentication enabled (``rds:DescribeDBClusters``); the execution role may
``rds-db:connect`` as the connection's user on that cluster's resource id; the connection uses TLS
(``verify-full`` recommended). The ``evaluate_*`` functions are pure; :func:`check_iam_auth`
fetches.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from connectors.endpoints import resolve_endpoint
from connectors.errors import AwsRequestError
from connectors.iam import IamSigning, iam_signing
from connectors.jdbc import effective_ssl_mode
from connectors.settings import ConnectionSettings
from diagnostics.context import DoctorContext, lookup_failed
from diagnostics.databases import find_cluster
from diagnostics.iam import decide_permission, evaluate_role_permission, inline_policy_command
from diagnostics.results import FAIL, PASS, SKIP, WARN, CheckResult

REF = "iam-database-auth"
CONNECT_ACTION = "rds-db:connect"


def dbuser_arn(cluster: Mapping[str, Any], user: str) -> str:
    """``arn:<partition>:rds-db:<region>:<account>:dbuser:<cluster-resource-id>/<user>``, the
    resource of ``rds-db:connect``, from the cluster's ARN and resource id.

    >>> dbuser_arn({"DBClusterArn": "arn:aws:rds:us-east-1:123456789012:cluster:pg",
    ...             "DbClusterResourceId": "cluster-ABC123"}, "spark_reader")
    'arn:aws:rds-db:us-east-1:123456789012:dbuser:cluster-ABC123/spark_reader'
    """
    _, partition, _, region, account = str(cluster["DBClusterArn"]).split(":")[:5]
    return (
        f"arn:{partition}:rds-db:{region}:{account}:dbuser:{cluster['DbClusterResourceId']}/{user}"
    )


def evaluate_iam_auth_enabled(
    connection_name: str, signing: IamSigning, cluster: Optional[Mapping[str, Any]]
) -> CheckResult:
    """The cluster answering at the tokens' endpoint has IAM database authentication enabled."""
    name = f"iam-auth-enabled:{connection_name}"
    if cluster is None:
        return CheckResult(
            name,
            WARN,
            f"no DB cluster in this account and region answers at {signing.host} (the endpoint "
            "the tokens are signed for): IAM database authentication was not checked",
            "check host / iam_host (the cluster's writer, reader or custom endpoint) and run the "
            f"doctor with credentials of the cluster's account in {signing.region} "
            "(docs/troubleshooting.md#iam-database-auth)",
            REF,
        )
    identifier = cluster.get("DBClusterIdentifier")
    facts = f"{signing.host} is cluster {identifier}"
    if cluster.get("IAMDatabaseAuthenticationEnabled"):
        return CheckResult(name, PASS, f"{facts}: IAM database authentication enabled", ref=REF)
    return CheckResult(
        name,
        FAIL,
        f"{facts}: IAM database authentication is off, so RDS refuses every token "
        "(PAM authentication failed)",
        f"aws rds modify-db-cluster --db-cluster-identifier {identifier} "
        "--enable-iam-database-authentication --apply-immediately "
        "(docs/troubleshooting.md#iam-database-auth)",
        REF,
    )


def rds_connect_policy_fix(role_arn: str, resource: str, connection_name: str) -> str:
    """An inline policy of sparkpg's own allowing ``rds-db:connect`` on one database user."""
    command = inline_policy_command(
        role_arn, f"rds-connect-{connection_name}", CONNECT_ACTION, resource
    )
    return f"{command} (docs/troubleshooting.md#iam-database-auth)"


def evaluate_tls(connection_name: str, ssl_mode: str) -> CheckResult:
    """TLS of an IAM connection: ``verify-full`` passes, ``require``/``verify-ca`` warn, weaker fails."""
    name = f"iam-tls:{connection_name}"
    fix = (
        'set "ssl_mode": "verify-full" and "ssl_root_cert" to the RDS CA bundle '
        "(global-bundle.pem) on the driver and the executors (docs/troubleshooting.md#iam-database-auth)"
    )
    if ssl_mode == "verify-full":
        return CheckResult(
            name,
            PASS,
            "sslmode=verify-full: the token goes only to the endpoint's certified host",
            ref=REF,
        )
    if ssl_mode in ("require", "verify-ca"):
        unchecked = "the server's certificate" if ssl_mode == "require" else "the host name"
        return CheckResult(
            name,
            WARN,
            f"sslmode={ssl_mode}: encrypted, but {unchecked} is not verified, so a server "
            "impersonating the endpoint would receive a token valid for 15 minutes",
            fix,
            REF,
        )
    return CheckResult(
        name,
        FAIL,
        f"sslmode={ssl_mode}: the token could travel without TLS, and RDS refuses IAM logins "
        "over plain TCP",
        fix,
        REF,
    )


def _connect_check(
    ctx: DoctorContext, connection: ConnectionSettings, cluster: Optional[Mapping[str, Any]]
) -> CheckResult:
    name = f"role-rds-connect:{connection.name}"
    user = str(connection.username)
    if ctx.role_arn is None:
        return CheckResult(
            name, SKIP, "no execution role given (see role-trust): rds-db:connect not checked"
        )
    if cluster is None:
        return CheckResult(
            name,
            SKIP,
            "the cluster's resource id is unknown (see iam-auth-enabled): rds-db:connect not checked",
        )
    resource = dbuser_arn(cluster, user)
    try:
        decision, method = decide_permission(ctx, ctx.role_arn, CONNECT_ACTION, resource)
    except AwsRequestError as exc:
        return lookup_failed(name, exc, REF)
    return evaluate_role_permission(
        name,
        ctx.role_arn,
        decision,
        method,
        rds_connect_policy_fix(ctx.role_arn, resource, connection.name),
        REF,
    )


def check_iam_auth(ctx: DoctorContext) -> List[CheckResult]:
    """The three checks of every enabled connection with ``auth_method: "iam"``."""
    results: List[CheckResult] = []
    clusters: Optional[Sequence[Dict[str, Any]]] = None
    for connection in ctx.settings.enabled_connections:
        if connection.auth_method != "iam":
            continue
        endpoint = ctx.endpoints.get(connection.name) or resolve_endpoint(connection)
        signing = iam_signing(connection, endpoint)
        try:
            if clusters is None:
                clusters = ctx.reader.db_clusters()
            cluster = find_cluster(signing.host, clusters)
        except AwsRequestError as exc:
            results.append(lookup_failed(f"iam-auth-enabled:{connection.name}", exc, REF))
            cluster = None
        else:
            results.append(evaluate_iam_auth_enabled(connection.name, signing, cluster))
        results.append(_connect_check(ctx, connection, cluster))
        results.append(evaluate_tls(connection.name, effective_ssl_mode(connection, endpoint.host)))
    return results
