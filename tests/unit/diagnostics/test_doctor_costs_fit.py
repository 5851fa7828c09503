"""The doctor's fixed-cost line and bundle-fit check (issue 11, items 7 and 15). Pure."""

from __future__ import annotations

import re

from diagnostics.applications import evaluate_bundle_fit
from diagnostics.costs import (
    ENDPOINT_AZ_HOUR,
    GB_HOUR,
    HOURS_PER_MONTH,
    VCPU_HOUR,
    evaluate_fixed_cost,
    warm_pool_per_hour,
)
from submission.bundle import Runtime
from tests import REPO

README = REPO / "infra/terraform/modules/sparkpg/README.md"
SEED_CAPACITY = {
    "Driver": {"workerCount": 1, "workerConfiguration": {"cpu": "2 vCPU", "memory": "4 GB"}},
    "Executor": {"workerCount": 2, "workerConfiguration": {"cpu": "4 vCPU", "memory": "8 GB"}},
}


def _endpoint(zones: int) -> dict:
    return {
        "VpcEndpointType": "Interface",
        "State": "available",
        "SubnetIds": [f"subnet-{i}" for i in range(zones)],
    }


def test_the_price_constants_are_the_module_readmes() -> None:
    text = README.read_text(encoding="utf-8")
    cost = text[text.index("## Cost") :]
    assert f"${ENDPOINT_AZ_HOUR} per endpoint, **per availability zone**, per hour" in cost
    assert f"vCPU-hours (${VCPU_HOUR})" in cost and f"GB-hours (${GB_HOUR})" in cost
    assert re.search(rf"\({HOURS_PER_MONTH} h\)", cost)


def test_the_readmes_default_stack_costs_what_the_readme_says() -> None:
    assert round(warm_pool_per_hour(SEED_CAPACITY), 2) == 0.64
    result = evaluate_fixed_cost(
        {"app-postgres": {"applicationId": "app1", "initialCapacity": SEED_CAPACITY}},
        [_endpoint(3), _endpoint(3), {"VpcEndpointType": "Gateway", "SubnetIds": []}],
    )
    assert result.status == "pass"
    assert result.evidence.startswith("about $44/month fixed (endpoints)")
    assert "2 interface endpoints in 6 endpoint-zones" in result.evidence
    # 0.6418 $/h x 730 h = $469 (the README rounds the hourly price first: about $467)
    assert "app1 warm pool $0.64/h while started ($469/month if never stopped" in result.evidence
    assert evaluate_fixed_cost({}, []).evidence == "no interface endpoints or warm pools found"


def test_the_doctor_refuses_a_bundle_that_does_not_fit() -> None:
    x86 = Runtime()
    app = {"applicationId": "app1", "releaseLabel": "emr-7.0.0", "architecture": "ARM64"}
    result = evaluate_bundle_fit("bundle-fit:app-postgres", x86, app)
    assert result.status == "fail" and "./build.sh --arch arm64" in result.fix
    fits = evaluate_bundle_fit("bundle-fit:app-postgres", x86, {**app, "architecture": "X86_64"})
    assert fits.status == "pass" and "fits application app1" in fits.evidence
