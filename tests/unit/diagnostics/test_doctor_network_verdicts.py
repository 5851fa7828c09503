"""The doctor's network verdicts in accounts like the infrastructure note's (pure, no AWS).

Egress to AWS services can leave a private subnet through a NAT gateway, a Transit Gateway, a NAT
instance or a firewall endpoint; a blackhole route leads nowhere; an S3 interface endpoint serves
the SDK's default S3 names only with private DNS; in China the service names start with
``cn.com.amazonaws.``.
"""

from __future__ import annotations

from typing import Any, Dict

import pytest

from diagnostics.network import (
    evaluate_interface_endpoint,
    evaluate_s3_reachability,
    service_name,
)
from diagnostics.vpc import egress_routes
from tests.unit.diagnostics.test_doctor_eval import APP, GROUPS, REGION, SUBNETS, endpoint


def tables(route: Dict[str, Any]) -> list:
    """One route table for both application subnets with a default route ``route``."""
    return [
        {
            "RouteTableId": "rtb-private",
            "Associations": [{"Main": True}],
            "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "State": "active", **route}],
        }
    ]


@pytest.mark.parametrize(
    ("route", "via"),
    [
        ({"NatGatewayId": "nat-1"}, "NAT gateway nat-1"),
        ({"TransitGatewayId": "tgw-1"}, "transit gateway tgw-1"),
        ({"InstanceId": "i-1", "NetworkInterfaceId": "eni-1"}, "NAT instance i-1"),
        ({"NetworkInterfaceId": "eni-1"}, "network interface eni-1"),
        ({"GatewayId": "vpce-0fw1"}, "firewall endpoint vpce-0fw1"),
    ],
    ids=["nat-gateway", "transit-gateway", "nat-instance", "eni", "firewall-endpoint"],
)
def test_every_kind_of_egress_counts(route: Dict[str, Any], via: str) -> None:
    routes = tables(route)
    assert egress_routes(APP, routes) == {"subnet-a": via, "subnet-b": via}
    egress = egress_routes(APP, routes)
    logs = evaluate_interface_endpoint("logs", REGION, APP, [], GROUPS, SUBNETS, egress)
    assert logs.status == "warn", logs
    assert via in logs.evidence
    s3 = evaluate_s3_reachability(REGION, APP, [], routes)
    assert s3.status == "pass", s3
    assert f"route table rtb-private -> {via}" in s3.evidence


@pytest.mark.parametrize(
    "route",
    [
        {"NatGatewayId": "nat-1", "State": "blackhole"},
        {"GatewayId": "igw-1"},  # a job's interfaces have no public address
        {"GatewayId": "local"},
    ],
    ids=["blackhole-nat", "internet-gateway", "local"],
)
def test_routes_that_lead_nowhere_do_not_count(route: Dict[str, Any]) -> None:
    routes = tables(route)
    assert egress_routes(APP, routes) == {}
    egress = egress_routes(APP, routes)
    logs = evaluate_interface_endpoint("logs", REGION, APP, [], GROUPS, SUBNETS, egress)
    assert logs.status == "fail"
    assert evaluate_s3_reachability(REGION, APP, [], routes).status == "fail"


def test_s3_interface_endpoint_counts_only_with_private_dns() -> None:
    routes = tables({"GatewayId": "local"})
    s3 = endpoint("s3", PrivateDnsEnabled=False, VpcEndpointId="vpce-s3i")
    without = evaluate_s3_reachability(REGION, APP, [s3], routes)
    assert without.status == "fail", without
    assert "vpce-s3i" in without.evidence and "private DNS" in without.evidence
    with_dns = evaluate_s3_reachability(REGION, APP, [dict(s3, PrivateDnsEnabled=True)], routes)
    assert with_dns.status == "pass"
    assert "interface endpoint vpce-s3i" in with_dns.evidence


def test_service_names_follow_the_partition() -> None:
    assert service_name("us-east-1", "logs") == "com.amazonaws.us-east-1.logs"
    assert service_name("cn-north-1", "logs") == "cn.com.amazonaws.cn-north-1.logs"
    assert service_name("us-gov-west-1", "s3") == "com.amazonaws.us-gov-west-1.s3"
    china = endpoint("logs", ServiceName="cn.com.amazonaws.cn-north-1.logs")
    result = evaluate_interface_endpoint("logs", "cn-north-1", APP, [china], GROUPS, SUBNETS, {})
    assert result.status == "pass", result
    assert "cn.com.amazonaws.cn-north-1.logs" in result.evidence
