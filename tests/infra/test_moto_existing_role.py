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
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List

import boto3
import pytest

from devtools.moto_server import moto_server
from tests.infra.conftest import MODULE_DIR, TERRAFORM_ROOT, Terraform

pytestmark = [pytest.mark.infra, pytest.mark.slow]

REGION = "us-east-1"
ROLE_NAME = "EMRServerlessExecutionRole"
# The note's existing inline policies (section 2.3 and 2.2), which jobs already depend on.
EXISTING_POLICIES: Dict[str, Dict[str, Any]] = {
    "EMRServerlessS3Policy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::spark-data-*", "arn:aws:s3:::spark-data-*/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            },
        ],
    },
    "EMRSecretsManagerPolicy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:spark/postgres/*",
            }
        ],
    },
}
MODULE_POLICIES = {"sparkpg-reuse-secrets", "sparkpg-reuse-s3", "sparkpg-reuse-logs"}

ROOT_CONFIG = """\
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "execution_role_arn" {
  type = string
}

variable "jdbc_jar_source" {
  type = string
}

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
class Reuse:
    """The applied root: its directory, environment, network and outputs."""

    terraform: Terraform
    workdir: Path
    env: Dict[str, str]
    endpoint_url: str
    network: Dict[str, str]
    role_arn: str
    outputs: Dict[str, Any] = field(default_factory=dict)
    destroyed: bool = False

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def tf(self, *args: str, ok_codes: tuple = (0,)) -> Any:
        return self.terraform.run(list(args), self.workdir, env=self.env, ok_codes=ok_codes)


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


def _existing_role(iam: Any) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "emr-serverless.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    for name, document in EXISTING_POLICIES.items():
        iam.put_role_policy(
            RoleName=ROLE_NAME, PolicyName=name, PolicyDocument=json.dumps(document)
        )
    return str(arn)


def _inline_policies(iam: Any) -> Dict[str, Any]:
    found = {}
    for name in iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=ROLE_NAME, PolicyName=name)["PolicyDocument"]
        found[name] = json.loads(document) if isinstance(document, str) else document
    return found


def _tfvars(network: Dict[str, str]) -> List[str]:
    subnets = json.dumps([network["a1"], network["a2"], network["b1"]])
    return ["-var", f"vpc_id={network['vpc']}", "-var", f"subnet_ids={subnets}"]


@pytest.fixture(scope="module")
def reuse(terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reuse]:
    workdir = tmp_path_factory.mktemp("moto-reuse")
    shutil.copytree(
        TERRAFORM_ROOT / MODULE_DIR,
        workdir / "sparkpg",
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "tests"),
    )
    (workdir / "main.tf").write_text(ROOT_CONFIG, encoding="utf-8")
    jar = workdir / "postgresql-42.7.13.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")

    with contextlib.ExitStack() as resources:
        endpoint_url = resources.enter_context(moto_server())
        clients = Reuse(terraform, workdir, {}, endpoint_url, {}, "")
        network = _network(clients.client("ec2"), "10.8", dns_hostnames=True)
        role_arn = _existing_role(clients.client("iam"))
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
    policies = _inline_policies(reuse.client("iam"))
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
    assert _inline_policies(reuse.client("iam")) == EXISTING_POLICIES
    assert reuse.client("iam").get_role(RoleName=ROLE_NAME)["Role"]["Arn"] == reuse.role_arn
