"""The network checks: VPC interface endpoints (CloudWatch Logs, Secrets Manager), S3 reachability,
then the database ingress checks (:mod:`diagnostics.databases`) on the same security groups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from connectors.errors import AwsRequestError
from diagnostics.context import DoctorContext, lookup_failed
from diagnostics.databases import check_databases
from diagnostics.results import FAIL, PASS, SKIP, WARN, CheckResult
from diagnostics.vpc import (
    AppNetwork,
    egress_routes,
    find_rule,
    one_subnet_per_zone,
    route_table_for,
)

HTTPS = 443

FIX_LOGS_ENDPOINT = "Verify CloudWatch Logs VPC endpoint exists and is available"

FIX_ENDPOINT_SG = "Check security group allows traffic to VPC endpoint"

FIX_SECRETS_ENDPOINT = "Ensure Secrets Manager VPC endpoint exists"


def service_name(region: str, service: str) -> str:
    """The VPC endpoint service name of an AWS service in ``region``: ``cn.com.amazonaws.`` in China.

    AWS PrivateLink guide, "AWS services that integrate with AWS PrivateLink": service names are
    ``com.amazonaws.<region>.<service>``, in the China regions ``cn.com.amazonaws.<region>.<service>``.

    >>> service_name("cn-northwest-1", "logs")
    'cn.com.amazonaws.cn-northwest-1.logs'
    """
    prefix = "cn.com.amazonaws" if region.startswith("cn-") else "com.amazonaws"
    return f"{prefix}.{region}.{service}"


def evaluate_interface_endpoint(
    service: str,
    region: str,
    app: AppNetwork,
    endpoints: Sequence[Mapping[str, Any]],
    security_groups: Mapping[str, Mapping[str, Any]],
    vpc_subnets: Mapping[str, Mapping[str, Any]],
    nat: Mapping[str, str],
) -> CheckResult:
    """The interface endpoint for ``service`` (``logs`` or ``secretsmanager``) serves the application.

    It must exist in the application's VPC, be available, have private DNS, sit in the
    application's availability zones (warn otherwise) and admit HTTPS from the application's
    security groups, which must let HTTPS out (docs/troubleshooting.md#private-subnet-routes).
    """
    name = f"endpoint-{service}"
    label = {"logs": "CloudWatch Logs", "secretsmanager": "Secrets Manager"}.get(service, service)
    ref = {
        "logs": "cloudwatch-logs-timeout",
        "secretsmanager": "secrets-manager-access-denied",
    }.get(service, "private-subnet-routes")
    endpoint_service = service_name(region, service)
    endpoint_fix = FIX_LOGS_ENDPOINT if service == "logs" else FIX_SECRETS_ENDPOINT
    candidates = [
        e
        for e in endpoints
        if e.get("ServiceName") == endpoint_service
        and str(e.get("VpcEndpointType", "")).lower() == "interface"
        and e.get("VpcId") == app.vpc_id
        and str(e.get("State", "")).lower() not in ("deleted", "deleting")
    ]
    create = (
        f"aws ec2 create-vpc-endpoint --vpc-id {app.vpc_id} --vpc-endpoint-type Interface "
        f"--service-name {endpoint_service} --subnet-ids "
        f"{' '.join(one_subnet_per_zone(app.subnet_ids, vpc_subnets))} "
        f"--security-group-ids {' '.join(app.security_group_ids)} --private-dns-enabled"
    )
    if not candidates:
        evidence = f"no {endpoint_service} interface endpoint in {app.vpc_id}"
        if nat and set(nat) == set(app.subnet_ids):
            return CheckResult(
                name,
                WARN,
                f"{evidence}; the application's subnets reach {label} through their default route "
                f"({', '.join(sorted(set(nat.values())))}), so jobs work, at that route's data prices",
                f"optional (docs/troubleshooting.md#private-subnet-routes): {create}",
                ref,
            )
        timeout = (
            "connect timeout to CloudWatch Logs"
            if service == "logs"
            else ("Secrets Manager unreachable (connect timeout / AccessDeniedException)")
        )
        return CheckResult(
            name,
            FAIL,
            f"{evidence} and no default route out of the VPC (NAT, transit gateway, firewall) from "
            f"every application subnet: jobs fail with {timeout}",
            f"{endpoint_fix} (docs/troubleshooting.md#{ref}): {create}",
            ref,
        )
    candidates.sort(key=lambda e: str(e.get("State", "")).lower() != "available")
    endpoint = candidates[0]
    endpoint_id = str(endpoint.get("VpcEndpointId", "?"))
    findings = _Findings()
    problems, fixes, warnings = findings.problems, findings.fixes, findings.warnings
    state = str(endpoint.get("State", "?"))
    if state.lower() != "available":
        problems.append(f"state is {state}, not available")
        fixes.append(
            f"{endpoint_fix} (docs/troubleshooting.md#{ref}): the endpoint is {state}; recreate it: {create}"
        )
    if not endpoint.get("PrivateDnsEnabled"):
        problems.append("private DNS is off, so the SDK resolves the public endpoint and times out")
        fixes.append(
            f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --private-dns-enabled "
            "(docs/troubleshooting.md#private-subnet-routes)"
        )
    endpoint_subnets = [str(s) for s in endpoint.get("SubnetIds") or []]
    endpoint_zones = _check_zones(endpoint_id, endpoint_subnets, app, vpc_subnets, findings)
    ingress, egress = _check_https(
        endpoint, endpoint_subnets, app, security_groups, vpc_subnets, ref, findings
    )
    facts = (
        f"{endpoint_id} ({endpoint_service}) {state}, private DNS "
        f"{'on' if endpoint.get('PrivateDnsEnabled') else 'off'}, zones "
        f"{', '.join(sorted(endpoint_zones)) or '-'}"
    )
    if ingress:
        facts += f"; {ingress}"
    if egress:
        facts += f"; {egress}"
    if problems:
        return CheckResult(
            name, FAIL, f"{facts}: {'; '.join(problems + warnings)}", " | ".join(fixes), ref
        )
    if warnings:
        return CheckResult(name, WARN, f"{facts}: {'; '.join(warnings)}", " | ".join(fixes), ref)
    return CheckResult(name, PASS, facts, ref=ref)


@dataclass
class _Findings:
    """What is wrong with an endpoint (fails), what is only risky (warns) and the fixes of both."""

    problems: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    fixes: List[str] = field(default_factory=list)


def _check_zones(
    endpoint_id: str,
    endpoint_subnets: List[str],
    app: AppNetwork,
    vpc_subnets: Mapping[str, Mapping[str, Any]],
    findings: _Findings,
) -> Set[str]:
    """The endpoint's zones; no subnets fails, a missing application zone warns."""
    endpoint_zones = {
        str(vpc_subnets[s]["AvailabilityZone"]) for s in endpoint_subnets if s in vpc_subnets
    }
    missing_zones = [z for z in app.zones if z not in endpoint_zones]
    if not endpoint_subnets:
        findings.problems.append("it has no subnets")
        findings.fixes.append(
            f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --add-subnet-ids "
            + " ".join(one_subnet_per_zone(app.subnet_ids, vpc_subnets))
        )
    elif missing_zones:
        findings.warnings.append(
            f"no endpoint network interface in {', '.join(missing_zones)} (jobs there cross zones "
            "and lose it when its zone fails)"
        )
        findings.fixes.append(
            f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --add-subnet-ids "
            + " ".join(
                one_subnet_per_zone(
                    [
                        s
                        for s in app.subnet_ids
                        if vpc_subnets.get(s, {}).get("AvailabilityZone") in missing_zones
                    ],
                    vpc_subnets,
                )
            )
        )
    return endpoint_zones


def _check_https(
    endpoint: Mapping[str, Any],
    endpoint_subnets: List[str],
    app: AppNetwork,
    security_groups: Mapping[str, Mapping[str, Any]],
    vpc_subnets: Mapping[str, Mapping[str, Any]],
    ref: str,
    findings: _Findings,
) -> Tuple[Optional[str], Optional[str]]:
    """The rules that let HTTPS in to the endpoint and out of the application (None: missing)."""
    endpoint_groups = [
        str(g.get("GroupId")) for g in endpoint.get("Groups") or [] if g.get("GroupId")
    ]
    described = [security_groups[g] for g in endpoint_groups if g in security_groups]
    ingress = find_rule(described, HTTPS, app.security_group_ids, app.cidrs)
    if ingress is None:
        findings.problems.append(
            f"its security groups ({', '.join(endpoint_groups) or 'none'}) do not admit HTTPS "
            f"(tcp/443) from the application's ({', '.join(app.security_group_ids)})"
        )
        target = endpoint_groups[0] if endpoint_groups else "<endpoint security group>"
        findings.fixes.append(
            f"{FIX_ENDPOINT_SG} (docs/troubleshooting.md#{ref}): aws ec2 authorize-security-group-ingress --group-id "
            f"{target} --protocol tcp --port 443 --source-group {app.security_group_ids[0]}"
        )
    endpoint_cidrs = [
        str(vpc_subnets[s]["CidrBlock"]) for s in endpoint_subnets if s in vpc_subnets
    ]
    app_groups = [security_groups[g] for g in app.security_group_ids if g in security_groups]
    egress = find_rule(app_groups, HTTPS, endpoint_groups, endpoint_cidrs, egress=True)
    if egress is None:
        findings.problems.append(
            f"the application's security groups ({', '.join(app.security_group_ids)}) do not "
            f"let HTTPS out to the endpoint"
        )
        findings.fixes.append(
            f"{FIX_ENDPOINT_SG} (docs/troubleshooting.md#{ref}): aws ec2 "
            f"authorize-security-group-egress --group-id {app.security_group_ids[0]} "
            "--ip-permissions 'IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]'"
        )
    return ingress, egress


def evaluate_s3_reachability(
    region: str,
    app: AppNetwork,
    endpoints: Sequence[Mapping[str, Any]],
    route_tables: Sequence[Mapping[str, Any]],
) -> CheckResult:
    """Every application subnet reaches S3: gateway endpoint on its route table, interface endpoint
    with private DNS, or a default route out of the VPC (NAT, transit gateway, firewall)."""
    endpoint_service = service_name(region, "s3")
    s3_endpoints = [
        e
        for e in endpoints
        if e.get("ServiceName") == endpoint_service
        and e.get("VpcId") == app.vpc_id
        and str(e.get("State", "available")).lower() == "available"
    ]
    # An S3 interface endpoint serves the SDK's default S3 names only with private DNS; without
    # it, only its own endpoint-specific names reach it, which jobs do not use.
    interfaces = [
        e for e in s3_endpoints if str(e.get("VpcEndpointType", "")).lower() == "interface"
    ]
    interface = [e for e in interfaces if e.get("PrivateDnsEnabled")]
    no_dns = [str(e.get("VpcEndpointId")) for e in interfaces if not e.get("PrivateDnsEnabled")]
    gateway = [e for e in s3_endpoints if str(e.get("VpcEndpointType", "")).lower() == "gateway"]
    nat = egress_routes(app, route_tables)
    how: Dict[str, List[str]] = {}
    unreachable: List[str] = []
    for subnet in app.subnet_ids:
        table = route_table_for(subnet, route_tables)
        table_id = str((table or {}).get("RouteTableId", "none"))
        via = [e["VpcEndpointId"] for e in gateway if table_id in (e.get("RouteTableIds") or [])]
        if via:
            how.setdefault(f"route table {table_id} -> gateway endpoint {via[0]}", []).append(
                subnet
            )
        elif subnet in nat:
            how.setdefault(f"route table {table_id} -> {nat[subnet]}", []).append(subnet)
        elif interface:
            how.setdefault(f"interface endpoint {interface[0]['VpcEndpointId']}", []).append(subnet)
        else:
            unreachable.append(f"{subnet} (route table {table_id})")
    if unreachable:
        tables = sorted(
            {
                str((route_table_for(s, route_tables) or {}).get("RouteTableId", "?"))
                for s in app.subnet_ids
            }
        )
        fix = (
            f"add an S3 gateway endpoint on the subnets' route tables: aws ec2 create-vpc-endpoint "
            f"--vpc-id {app.vpc_id} --vpc-endpoint-type Gateway --service-name {endpoint_service} "
            f"--route-table-ids {' '.join(tables)}"
        )
        if gateway:
            fix = (
                f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {gateway[0]['VpcEndpointId']} "
                f"--add-route-table-ids {' '.join(tables)}"
            )
        return CheckResult(
            "s3-reachable",
            FAIL,
            f"no S3 gateway endpoint, S3 interface endpoint with private DNS or default route out of "
            f"the VPC for "
            f"{', '.join(unreachable)}: jobs cannot fetch the JAR, code or write logs to S3"
            + (
                f" (S3 interface endpoint {', '.join(no_dns)} has private DNS off, so the default "
                "S3 names the jobs use do not reach it)"
                if no_dns
                else ""
            ),
            fix,
            "private-subnet-routes",
        )
    evidence = "; ".join(f"{', '.join(subnets)}: {path}" for path, subnets in how.items())
    return CheckResult("s3-reachable", PASS, evidence, ref="private-subnet-routes")


def check_network(ctx: DoctorContext) -> List[CheckResult]:
    """VPC endpoints, S3 reachability and database ingress for the PostgreSQL application's VPC."""
    app = ctx.app
    connections = ctx.settings.enabled_connections
    if app is None:
        reason = "the PostgreSQL application's network configuration could not be read"
        skipped = ["endpoint-logs", "endpoint-secretsmanager", "s3-reachable"]
        skipped += [f"db-ingress:{c.name}" for c in connections]
        return [CheckResult(name, SKIP, reason) for name in skipped]
    region = ctx.reader.region_name
    results: List[CheckResult] = []
    try:
        endpoints = ctx.reader.vpc_endpoints(app.vpc_id)
        route_tables = ctx.reader.route_tables(app.vpc_id)
        vpc_subnets = {str(s["SubnetId"]): s for s in ctx.reader.vpc_subnets(app.vpc_id)}
        group_ids: Set[str] = set(app.security_group_ids)
        for endpoint in endpoints:
            group_ids.update(str(g["GroupId"]) for g in endpoint.get("Groups") or [])
        groups = {str(g["GroupId"]): g for g in ctx.reader.security_groups(sorted(group_ids))}
    except AwsRequestError as exc:
        return [lookup_failed("vpc", exc, "private-subnet-routes")]
    ctx.vpc_endpoints = list(endpoints)
    ctx.vpc_endpoints_read = True
    nat = egress_routes(app, route_tables)
    for service in ("logs", "secretsmanager"):
        results.append(
            evaluate_interface_endpoint(service, region, app, endpoints, groups, vpc_subnets, nat)
        )
    results.append(evaluate_s3_reachability(region, app, endpoints, route_tables))
    results.extend(
        check_databases(ctx, app, groups, [str(s["CidrBlock"]) for s in vpc_subnets.values()])
    )
    return results
