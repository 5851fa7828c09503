"""The fixed monthly cost of what the doctor found: interface endpoints and the warm pool.

The price constants are the us-east-1 list prices the Terraform module's README states
(infra/terraform/modules/sparkpg/README.md, "Cost"); this is their one place in the code, and a
test keeps the two in step. Other regions differ; the formulas stay the same.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping

from diagnostics.results import PASS, CheckResult
from submission.resources import parse_quantity

#: An interface VPC endpoint, per Availability Zone, per hour (USD).
ENDPOINT_AZ_HOUR = 0.01
#: EMR Serverless, per vCPU-hour and per GB-hour of memory (USD).
VCPU_HOUR = 0.052624
GB_HOUR = 0.0057785
#: Hours in the README's month.
HOURS_PER_MONTH = 730


def warm_pool_per_hour(initial_capacity: Mapping[str, Any]) -> float:
    """What the pre-initialised workers of ``initialCapacity`` bill per hour while started."""
    total = 0.0
    for kind, config in initial_capacity.items():
        count = int((config or {}).get("workerCount") or 0)
        worker = (config or {}).get("workerConfiguration") or {}
        cpu = parse_quantity(worker.get("cpu", "0"), f"{kind}.cpu", {"": 1, "vcpu": 1})
        memory = parse_quantity(
            worker.get("memory", "0"), f"{kind}.memory", {"gb": 1, "mb": 1 / 1024, "": 1}
        )
        total += count * (cpu * VCPU_HOUR + memory * GB_HOUR)
    return total


def evaluate_fixed_cost(
    applications: Mapping[str, Mapping[str, Any]], vpc_endpoints: Iterable[Mapping[str, Any]]
) -> CheckResult:
    """Interface endpoints bill per zone-hour whether jobs run or not; warm pools while started."""
    parts: List[str] = []
    monthly = 0.0
    interface = [
        e
        for e in vpc_endpoints
        if str(e.get("VpcEndpointType", "")).lower() == "interface"
        and str(e.get("State", "available")).lower() not in ("deleted", "deleting")
    ]
    if interface:
        zones = sum(max(1, len(e.get("SubnetIds") or [])) for e in interface)
        endpoints_month = zones * ENDPOINT_AZ_HOUR * HOURS_PER_MONTH
        monthly += endpoints_month
        parts.append(
            f"{len(interface)} interface endpoints in {zones} endpoint-zones: {zones} x "
            f"${ENDPOINT_AZ_HOUR}/h x {HOURS_PER_MONTH} h = ${endpoints_month:.0f}/month"
        )
    for name, application in sorted(applications.items()):
        capacity = application.get("initialCapacity") or {}
        if not capacity:
            continue
        hourly = warm_pool_per_hour(capacity)
        parts.append(
            f"{application.get('applicationId', name)} warm pool ${hourly:.2f}/h while started "
            f"(${hourly * HOURS_PER_MONTH:.0f}/month if never stopped; about ${hourly / 4:.2f} per "
            "job for the default 15 idle minutes before auto-stop)"
        )
    if not parts:
        return CheckResult("fixed-cost", PASS, "no interface endpoints or warm pools found")
    evidence = f"about ${monthly:.0f}/month fixed (endpoints), plus: " if monthly else ""
    return CheckResult("fixed-cost", PASS, evidence + "; ".join(parts))
