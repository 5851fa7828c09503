"""The module on an existing network and an existing execution role, as the infrastructure note has them.

On moto (``devtools.moto_server``): a VPC whose private subnets put two in one Availability Zone
(a common layout), and the note's ``EMRServerlessExecutionRole`` with its own inline policies
``EMRServerlessS3Policy`` and ``EMRSecretsManagerPolicy``. The module must create its interface
endpoints with one subnet per zone (AWS refuses two in one zone), leave the role's own policies
alone on apply and on destroy, and refuse a VPC without DNS host names before creating anything.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List

import pytest

from devtools.moto_server import moto_server
from tests.infra.conftest import MotoRoot, Terraform, write_moto_root
from tests.note_account import ROLE_NAME, create_note_role, inline_policies, note_policies

pytestmark = [pytest.mark.infra, pytest.mark.slow]

REGION = "us-east-1"
# The note's existing inline policies (section 2.3 and 2.2), which jobs already depend on.
EXISTING_POLICIES = note_policies(
    "123456789012", ["arn:aws:s3:::spark-data-*", "arn:aws:s3:::spark-data-*/*"]
)
MODULE_POLICIES = {"sparkpg-reuse-secrets", "sparkpg-reuse-s3", "sparkpg-reuse-logs"}

MODULE_CALL = """\
module "sparkpg" {
  source = "./sparkpg"

  name_prefix                    = "reuse"
  vpc_id                         = var.vpc_id
  subnet_ids                     = var.subnet_ids
  create_execution_role          = false
  execution_role_arn             = var.execution_role_arn
  create_database_ingress_rule   = false
  jdbc_jar_source                = var.jdbc_jar_source
  force_destroy_bucket           = true
  secret_recovery_window_in_days = 0
  connection                     = { host = "db.example.internal" }
  postgres_username              = "spark"
  postgres_password              = "not-a-real-password"
}

output "endpoint_subnet_ids" {
  value = module.sparkpg.endpoint_subnet_ids
}

output "vpc_endpoint_ids" {
  value = module.sparkpg.vpc_endpoint_ids
}

output "postgres_application_id" {
  value = module.sparkpg.postgres_application_id
}

output "settings_json" {
  value = module.sparkpg.settings_json
}
"""


@dataclass
class Reuse(MotoRoot):
    """The applied root: its directory, environment, network and outputs."""

    network: Dict[str, str] = field(default_factory=dict)
    role_arn: str = ""
    outputs: Dict[str, Any] = field(default_factory=dict)
    destroyed: bool = False


def _network(ec2: Any, cidr: str, *, dns_hostnames: bool) -> Dict[str, str]:
    """A VPC with subnets a1, a2 (both in us-east-1a) and b1 (us-east-1b)."""
    vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": dns_hostnames})
    network = {"vpc": vpc}
    for name, octet, zone in (
        ("a1", 1, "us-east-1a"),
        ("a2", 2, "us-east-1a"),
        ("b1", 3, "us-east-1b"),
    ):
        network[name] = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"{cidr}.{octet}.0/24", AvailabilityZone=zone
        )["Subnet"]["SubnetId"]
    return network


def _tfvars(network: Dict[str, str]) -> List[str]:
    subnets = json.dumps([network["a1"], network["a2"], network["b1"]])
    return ["-var", f"vpc_id={network['vpc']}", "-var", f"subnet_ids={subnets}"]


@pytest.fixture(scope="module")
def reuse(terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reuse]:
    workdir = tmp_path_factory.mktemp("moto-reuse")
    jar = write_moto_root(workdir, MODULE_CALL)

    with contextlib.ExitStack() as resources:
        endpoint_url = resources.enter_context(moto_server())
        clients = Reuse(terraform, workdir, {}, endpoint_url, {}, "")
        network = _network(clients.client("ec2"), "10.8", dns_hostnames=True)
        role_arn = create_note_role(clients.client("iam"), EXISTING_POLICIES)
        env = {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "TF_VAR_execution_role_arn": role_arn,
            "TF_VAR_jdbc_jar_source": str(jar),
        }
        stack = Reuse(terraform, workdir, env, endpoint_url, network, role_arn)
        terraform.init(workdir)
        try:
            stack.tf("apply", "-auto-approve", "-input=false", "-no-color", *_tfvars(network))
            raw = json.loads(stack.tf("output", "-json", "-no-color").stdout)
            stack.outputs = {name: item["value"] for name, item in raw.items()}
            yield stack
        finally:
            if not stack.destroyed:
                stack.tf("destroy", "-auto-approve", "-input=false", "-no-color", *_tfvars(network))


def test_interface_endpoints_take_one_subnet_per_zone(reuse: Reuse) -> None:
    net = reuse.network
    lowest_in_a = min(net["a1"], net["a2"])
    assert reuse.outputs["endpoint_subnet_ids"] == [lowest_in_a, net["b1"]]
    ec2 = reuse.client("ec2")
    ids = reuse.outputs["vpc_endpoint_ids"]
    endpoints = ec2.describe_vpc_endpoints(VpcEndpointIds=[ids["logs"], ids["secretsmanager"]])
    for endpoint in endpoints["VpcEndpoints"]:
        assert sorted(endpoint["SubnetIds"]) == sorted([lowest_in_a, net["b1"]])
        assert endpoint["PrivateDnsEnabled"] is True
    # The application itself keeps every subnet.
    app = reuse.client("emr-serverless").get_application(
        applicationId=reuse.outputs["postgres_application_id"]
    )["application"]
    assert sorted(app["networkConfiguration"]["subnetIds"]) == sorted(
        [net["a1"], net["a2"], net["b1"]]
    )


def test_existing_role_keeps_its_own_policies(reuse: Reuse) -> None:
    policies = inline_policies(reuse.client("iam"))
    assert set(policies) == set(EXISTING_POLICIES) | MODULE_POLICIES
    for name, document in EXISTING_POLICIES.items():
        assert policies[name] == document, f"{name} was changed"
    settings = json.loads(reuse.outputs["settings_json"])
    assert settings["spark"]["emr_execution_role_arn"] == reuse.role_arn


def test_a_vpc_without_dns_hostnames_is_refused_at_plan(reuse: Reuse) -> None:
    other = _network(reuse.client("ec2"), "10.9", dns_hostnames=False)
    result = reuse.tf("plan", "-input=false", "-no-color", *_tfvars(other), ok_codes=(1,))
    message = " ".join(result.stderr.split())
    assert f"VPC {other['vpc']} must have enableDnsSupport and enableDnsHostnames" in message


def test_destroy_leaves_the_existing_role_as_it_was(reuse: Reuse) -> None:
    reuse.tf("destroy", "-auto-approve", "-input=false", "-no-color", *_tfvars(reuse.network))
    reuse.destroyed = True
    assert inline_policies(reuse.client("iam")) == EXISTING_POLICIES
    assert reuse.client("iam").get_role(RoleName=ROLE_NAME)["Role"]["Arn"] == reuse.role_arn
