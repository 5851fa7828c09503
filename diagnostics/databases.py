"""The database ingress checks: the RDS/Aurora security groups admit the application's port."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from connectors.endpoints import resolve_endpoint
from connectors.errors import AwsRequestError
from connectors.hosts import is_rds_host
from diagnostics.context import DoctorContext, lookup_failed
from diagnostics.results import FAIL, PASS, SKIP, WARN, CheckResult
from diagnostics.vpc import AppNetwork, find_rule

FIX_DB_SG = "Verify RDS security group allows inbound from EMR security group"

FIX_DB_NETWORK = "Check network connectivity between VPC subnets"


def find_cluster(host: str, clusters: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The DB cluster whose writer, reader or custom endpoint is ``host`` (any case)."""
    wanted = host.lower().rstrip(".")
    for cluster in clusters:
        names = [cluster.get("Endpoint"), cluster.get("ReaderEndpoint")]
        names += list(cluster.get("CustomEndpoints") or [])
        if wanted in {str(n).lower() for n in names if n}:
            return cluster
    return None


def find_database(
    host: str, clusters: Sequence[Mapping[str, Any]], instances: Sequence[Mapping[str, Any]]
) -> Optional[Tuple[str, List[str], Optional[int]]]:
    """The cluster or instance answering at ``host``: (description, security group ids, port)."""
    wanted = host.lower().rstrip(".")
    cluster = find_cluster(host, clusters)
    if cluster is not None:
        groups = [str(g["VpcSecurityGroupId"]) for g in cluster.get("VpcSecurityGroups") or []]
        return f"cluster {cluster.get('DBClusterIdentifier')}", groups, cluster.get("Port")
    for instance in instances:
        address = str((instance.get("Endpoint") or {}).get("Address", "")).lower()
        if address == wanted:
            groups = [str(g["VpcSecurityGroupId"]) for g in instance.get("VpcSecurityGroups") or []]
            port = (instance.get("Endpoint") or {}).get("Port")
            return f"instance {instance.get('DBInstanceIdentifier')}", groups, port
    return None


def evaluate_database_ingress(
    connection_name: str,
    host: str,
    port: int,
    database: Optional[Tuple[str, List[str], Optional[int]]],
    app: AppNetwork,
    security_groups: Mapping[str, Mapping[str, Any]],
    vpc_cidrs: Sequence[str],
) -> CheckResult:
    """The database's security groups admit ``port`` from the application's (docs/troubleshooting.md#postgresql-connection-timeout)."""
    name = f"db-ingress:{connection_name}"
    if database is None:
        return CheckResult(
            name,
            WARN,
            f"{host} looks like an RDS endpoint but no DB cluster or instance in this account and "
            "region answers at it; its security groups were not checked",
            f"check that the host is right, or run the doctor with credentials of the database's "
            f"account and region; then: {FIX_DB_SG} (docs/troubleshooting.md#postgresql-connection-timeout)",
            "postgresql-connection-timeout",
        )
    description, group_ids, db_port = database
    groups = [security_groups[g] for g in group_ids if g in security_groups]
    facts = f"{host} is {description} with security groups {', '.join(group_ids) or '-'}"
    notes: List[str] = []
    if db_port and int(db_port) != port:
        notes.append(f"the database listens on {db_port} but the connection uses {port}")
    other_vpcs = sorted(
        {str(g.get("VpcId")) for g in groups if g.get("VpcId") not in (None, app.vpc_id)}
    )
    ingress = find_rule(groups, port, app.security_group_ids, app.cidrs)
    app_groups = [security_groups[g] for g in app.security_group_ids if g in security_groups]
    egress = find_rule(app_groups, port, group_ids, vpc_cidrs, egress=True)
    if ingress is None:
        target = group_ids[0] if group_ids else "<database security group>"
        return CheckResult(
            name,
            FAIL,
            f"{facts}; none admits tcp/{port} from the application's security groups "
            f"({', '.join(app.security_group_ids)}) or subnets: the job fails with a PostgreSQL "
            "connection timeout",
            f"{FIX_DB_SG} (docs/troubleshooting.md#postgresql-connection-timeout): aws ec2 authorize-security-group-ingress --group-id "
            f"{target} --protocol tcp --port {port} --source-group {app.security_group_ids[0]}",
            "postgresql-connection-timeout",
        )
    if egress is None:
        return CheckResult(
            name,
            FAIL,
            f"{facts}; {ingress}, but the application's security groups do not let tcp/{port} out",
            f"{FIX_DB_NETWORK} (docs/troubleshooting.md#postgresql-connection-timeout): aws ec2 "
            f"authorize-security-group-egress --group-id {app.security_group_ids[0]} --protocol "
            f"tcp --port {port} --source-group {group_ids[0] if group_ids else '<database sg>'}",
            "postgresql-connection-timeout",
        )
    if other_vpcs:
        notes.append(
            f"the database is in {', '.join(other_vpcs)}, not the application's {app.vpc_id}: "
            "routes (peering or transit gateway) were not checked"
        )
    if notes:
        return CheckResult(
            name,
            WARN,
            f"{facts}; {ingress}; {'; '.join(notes)}",
            f"{FIX_DB_NETWORK} (docs/troubleshooting.md#postgresql-connection-timeout)",
            "postgresql-connection-timeout",
        )
    return CheckResult(
        name, PASS, f"{facts}; {ingress}; {egress}", ref="postgresql-connection-timeout"
    )


def check_databases(
    ctx: DoctorContext,
    app: AppNetwork,
    groups: Dict[str, Dict[str, Any]],
    vpc_cidrs: List[str],
) -> List[CheckResult]:
    results: List[CheckResult] = []
    clusters: Optional[List[Dict[str, Any]]] = None
    instances: List[Dict[str, Any]] = []
    for connection in ctx.settings.enabled_connections:
        name = f"db-ingress:{connection.name}"
        endpoint = ctx.endpoints.get(connection.name) or (
            resolve_endpoint(connection) if connection.host else None
        )
        if endpoint is None:
            results.append(
                CheckResult(name, SKIP, "host unknown (not in the settings, secret unread)")
            )
            continue
        host, port = endpoint.host, endpoint.port
        if not is_rds_host(host):
            results.append(
                CheckResult(
                    name,
                    SKIP,
                    f"{host} is not an RDS/Aurora endpoint name: its security groups cannot be "
                    "looked up",
                    ref="postgresql-connection-timeout",
                )
            )
            continue
        try:
            if clusters is None:
                clusters = ctx.reader.db_clusters()
                instances = ctx.reader.db_instances()
            database = find_database(host, clusters, instances)
            if database is not None:
                missing = [g for g in database[1] if g not in groups]
                if missing:
                    groups.update(
                        {str(g["GroupId"]): g for g in ctx.reader.security_groups(missing)}
                    )
        except AwsRequestError as exc:
            results.append(lookup_failed(name, exc, "postgresql-connection-timeout"))
            continue
        results.append(
            evaluate_database_ingress(connection.name, host, port, database, app, groups, vpc_cidrs)
        )
    return results
