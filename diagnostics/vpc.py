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


def nat_subnets(app: AppNetwork, route_tables: Sequence[Mapping[str, Any]]) -> Dict[str, str]:
    """Application subnets whose default route goes to a NAT gateway: subnet -> NAT id."""
    found: Dict[str, str] = {}
    for subnet in app.subnet_ids:
        table = route_table_for(subnet, route_tables)
        for route in (table or {}).get("Routes") or []:
            if route.get("DestinationCidrBlock") == "0.0.0.0/0" and route.get("NatGatewayId"):
                found[subnet] = str(route["NatGatewayId"])
    return found
