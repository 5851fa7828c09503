"""The VPC model of the checks: the application's network, security-group rules, route tables. Pure."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple


@dataclass(frozen=True)
class AppNetwork:
    """The PostgreSQL-enabled application's place in the VPC, from its subnets and groups."""

    vpc_id: str
    subnet_ids: Tuple[str, ...]
    security_group_ids: Tuple[str, ...]
    zones: Tuple[str, ...]
    cidrs: Tuple[str, ...]

    @classmethod
    def from_subnets(
        cls, subnets: Sequence[Mapping[str, Any]], security_group_ids: Sequence[str]
    ) -> AppNetwork:
        """Build from the application's described subnets (all must be in one VPC)."""
        vpcs = sorted({str(s["VpcId"]) for s in subnets})
        if len(vpcs) != 1:
            raise ValueError(f"the application's subnets span {len(vpcs)} VPCs: {vpcs}")
        return cls(
            vpc_id=vpcs[0],
            subnet_ids=tuple(str(s["SubnetId"]) for s in subnets),
            security_group_ids=tuple(security_group_ids),
            zones=tuple(sorted({str(s["AvailabilityZone"]) for s in subnets})),
            cidrs=tuple(str(s["CidrBlock"]) for s in subnets if s.get("CidrBlock")),
        )


def one_subnet_per_zone(
    subnet_ids: Sequence[str], vpc_subnets: Mapping[str, Mapping[str, Any]]
) -> Tuple[str, ...]:
    """The subnets an interface endpoint may take: the lowest subnet id of each zone.

    AWS refuses an interface endpoint with two subnets in one Availability Zone
    (``DuplicateSubnetsInSameZone``); the Terraform module picks the same subnets. A subnet whose
    zone is unknown is kept.

    >>> subnets = {"subnet-b": {"AvailabilityZone": "z1"}, "subnet-a": {"AvailabilityZone": "z1"},
    ...            "subnet-c": {"AvailabilityZone": "z2"}}
    >>> one_subnet_per_zone(["subnet-b", "subnet-a", "subnet-c"], subnets)
    ('subnet-a', 'subnet-c')
    """
    chosen: Dict[str, str] = {}
    for subnet in sorted(subnet_ids):
        zone = str(vpc_subnets.get(subnet, {}).get("AvailabilityZone") or subnet)
        chosen.setdefault(zone, subnet)
    return tuple(sorted(chosen.values(), key=list(subnet_ids).index))


def _rule_covers_port(rule: Mapping[str, Any], port: int) -> bool:
    protocol = str(rule.get("IpProtocol", ""))
    if protocol == "-1":
        return True
    if protocol not in ("tcp", "6"):
        return False
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if low is None or high is None or int(low) == -1:
        return True
    return int(low) <= port <= int(high)


def _cidrs_within(cidrs: Sequence[str], rule_cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(rule_cidr, strict=False)
        if network.prefixlen == 0:
            return True  # 0.0.0.0/0 covers any peer, even one whose addresses are unknown
        return bool(cidrs) and all(
            ipaddress.ip_network(c, strict=False).subnet_of(network)  # type: ignore[arg-type]
            for c in cidrs
        )
    except (ValueError, TypeError):
        return False


def find_rule(
    groups: Sequence[Mapping[str, Any]],
    port: int,
    peer_group_ids: Sequence[str],
    peer_cidrs: Sequence[str],
    *,
    egress: bool = False,
) -> Optional[str]:
    """The first rule of ``groups`` that lets TCP ``port`` in from (or, ``egress``, out to) a peer.

    A peer is one of ``peer_group_ids`` (a security-group reference) or a CIDR rule that contains
    every one of ``peer_cidrs``. Returns a description of the rule, or None.

    >>> sg = {"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 5432,
    ...       "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": "sg-emr"}]}]}
    >>> find_rule([sg], 5432, ["sg-emr"], [])
    'sg-db inbound tcp/5432 from sg-emr'
    """
    key = "IpPermissionsEgress" if egress else "IpPermissions"
    direction, preposition = ("outbound", "to") if egress else ("inbound", "from")
    for group in groups:
        for rule in group.get(key) or []:
            if not _rule_covers_port(rule, port):
                continue
            ports = "all traffic" if str(rule.get("IpProtocol")) == "-1" else f"tcp/{port}"
            for pair in rule.get("UserIdGroupPairs") or []:
                if pair.get("GroupId") in peer_group_ids:
                    return f"{group['GroupId']} {direction} {ports} {preposition} {pair['GroupId']}"
            for ip_range in rule.get("IpRanges") or []:
                cidr = str(ip_range.get("CidrIp", ""))
                if _cidrs_within(peer_cidrs, cidr):
                    return f"{group['GroupId']} {direction} {ports} {preposition} {cidr}"
    return None


def route_table_for(
    subnet_id: str, route_tables: Sequence[Mapping[str, Any]]
) -> Optional[Mapping[str, Any]]:
    """The route table a subnet uses: its explicit association, else the VPC's main table."""
    main = None
    for table in route_tables:
        for association in table.get("Associations") or []:
            if association.get("SubnetId") == subnet_id:
                return table
            if association.get("Main"):
                main = table
    return main


def _egress_target(route: Mapping[str, Any]) -> Optional[str]:
    """What a default route leads to, if it can carry a job's traffic to AWS services, else None.

    A NAT gateway, a Transit Gateway (to a shared egress VPC), a NAT instance or appliance (an
    instance or network interface) and an AWS Network Firewall endpoint (a ``vpce-`` gateway id)
    count; a ``blackhole`` route (its target deleted), the ``local`` route and an internet gateway
    do not (EMR Serverless gives a job's network interfaces no public address).
    """
    if str(route.get("State", "active")).lower() != "active":
        return None
    if route.get("NatGatewayId"):
        return f"NAT gateway {route['NatGatewayId']}"
    if route.get("TransitGatewayId"):
        return f"transit gateway {route['TransitGatewayId']}"
    if route.get("InstanceId"):
        return f"NAT instance {route['InstanceId']}"
    if route.get("NetworkInterfaceId"):
        return f"network interface {route['NetworkInterfaceId']}"
    if route.get("CoreNetworkArn"):
        return f"core network {route['CoreNetworkArn']}"
    gateway = str(route.get("GatewayId") or "")
    if gateway.startswith("vpce-"):
        return f"firewall endpoint {gateway}"
    return None


def egress_routes(app: AppNetwork, route_tables: Sequence[Mapping[str, Any]]) -> Dict[str, str]:
    """Application subnets whose default route leads out of the VPC: subnet -> what it leads to.

    >>> app = AppNetwork("vpc-1", ("subnet-a",), ("sg-1",), ("z1",), ())
    >>> egress_routes(app, [{"Associations": [{"Main": True}], "Routes": [
    ...     {"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": "tgw-1", "State": "active"}]}])
    {'subnet-a': 'transit gateway tgw-1'}
    """
    found: Dict[str, str] = {}
    for subnet in app.subnet_ids:
        table = route_table_for(subnet, route_tables)
        for route in (table or {}).get("Routes") or []:
            if route.get("DestinationCidrBlock") != "0.0.0.0/0":
                continue
            target = _egress_target(route)
            if target:
                found[subnet] = target
    return found
