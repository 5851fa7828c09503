"""The module in the infrastructure note's own account: adopt sparkpg without changing what is there.

On moto (``devtools.moto_server``), the note's account as its sections 1, 2 and 7 describe it: a VPC
whose three private subnets share one security group (self ingress, all egress), the CloudWatch
Logs and Secrets Manager interface endpoints with private DNS in all three subnets, the execution
role ``EMRServerlessExecutionRole`` with its inline ``EMRServerlessS3Policy`` and
``EMRSecretsManagerPolicy``, and the secret ``spark/postgres/aurora-...``.

AWS refuses a second private-DNS endpoint for a service in one VPC (the moto server too, patch
17), so the module must reuse the note's endpoints by id (``logs_endpoint_id``,
``secretsmanager_endpoint_id``); apply adds only its own resources and one HTTPS rule on the
endpoints' group, and destroy leaves the account exactly as it was.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List

import pytest

from connectors.settings import load_settings
from devtools.moto_server import moto_server
from diagnostics.policy import evaluate_policies
from tests.infra.conftest import MotoRoot, Terraform, write_moto_root
from tests.infra.test_moto_existing_role import EXISTING_POLICIES
from tests.note_account import create_note_role, inline_policies

pytestmark = [pytest.mark.infra, pytest.mark.slow]

REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")

MODULE_CALL = """\
variable "secret_arn" {
  type = string
}

variable "logs_endpoint_id" {
  type    = string
  default = null
}

variable "secretsmanager_endpoint_id" {
  type    = string
  default = null
}

variable "connection" {
  type    = any
  default = { host = "pg-database.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com" }
}

variable "iam_database_users" {
  type    = list(object({ cluster_resource_id = string, user = string }))
  default = []
}

module "sparkpg" {
  source = "./sparkpg"

  name_prefix                    = "note"
  vpc_id                         = var.vpc_id
  subnet_ids                     = var.subnet_ids
  logs_endpoint_id               = var.logs_endpoint_id
  secretsmanager_endpoint_id     = var.secretsmanager_endpoint_id
  create_execution_role          = false
  execution_role_arn             = var.execution_role_arn
  create_secret                  = false
  secret_arn                     = var.secret_arn
  postgres_username              = null
  postgres_password              = null
  create_database_ingress_rule   = false
  jdbc_jar_source                = var.jdbc_jar_source
  force_destroy_bucket           = true
  connection                     = var.connection
  iam_database_users             = var.iam_database_users
}

output "settings_json" {
  value = module.sparkpg.settings_json
}

output "vpc_endpoint_ids" {
  value = module.sparkpg.vpc_endpoint_ids
}

output "security_group_id" {
  value = module.sparkpg.security_group_id
}
"""


@dataclass
class NoteAccount(MotoRoot):
    """The note's account on a moto server, and the module's root configuration beside it."""

    ids: Dict[str, Any] = field(default_factory=dict)

    def snapshot(self) -> Dict[str, Any]:
        """What the note's account has: endpoints, the shared group's rules, the role's policies."""
        ec2, iam = self.client("ec2"), self.client("iam")
        endpoints = ec2.describe_vpc_endpoints(
            Filters=[{"Name": "vpc-id", "Values": [self.ids["vpc"]]}]
        )["VpcEndpoints"]
        rules = ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [self.ids["sg"]]}]
        )["SecurityGroupRules"]
        policies = inline_policies(iam)
        return {
            "endpoints": sorted(
                (
                    e["VpcEndpointId"],
                    e["ServiceName"],
                    e["State"],
                    bool(e.get("PrivateDnsEnabled")),
                    tuple(sorted(e.get("SubnetIds") or [])),
                    tuple(sorted(g["GroupId"] for g in e.get("Groups") or [])),
                )
                for e in endpoints
                if e["State"] != "deleted"
            ),
            "rules": sorted(
                json.dumps(
                    {k: v for k, v in r.items() if k != "SecurityGroupRuleId"}, sort_keys=True
                )
                for r in rules
            ),
            "policies": policies,
        }

    def vars(self, *, reuse: bool = True) -> List[str]:
        args = [
            "-var",
            f"vpc_id={self.ids['vpc']}",
            "-var",
            f"subnet_ids={json.dumps(self.ids['subnets'])}",
        ]
        if reuse:
            args += [
                "-var",
                f"logs_endpoint_id={self.ids['logs']}",
                "-var",
                f"secretsmanager_endpoint_id={self.ids['secretsmanager']}",
            ]
        return args


def _build_note_account(account: NoteAccount) -> None:
    ec2, iam, sm = account.client("ec2"), account.client("iam"), account.client("secretsmanager")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i + 1}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate(ZONES)
    ]
    sg = ec2.create_security_group(GroupName="note-shared", Description="note 6.1", VpcId=vpc)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}]
    )
    endpoints = {
        service: ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=f"com.amazonaws.{REGION}.{service}",
            VpcEndpointType="Interface",
            SubnetIds=subnets,
            SecurityGroupIds=[sg],
            PrivateDnsEnabled=True,
        )["VpcEndpoint"]["VpcEndpointId"]
        for service in ("logs", "secretsmanager")
    }
    role_arn = create_note_role(iam, EXISTING_POLICIES)
    secret_arn = sm.create_secret(
        Name="spark/postgres/aurora-e9d9d867",
        SecretString=json.dumps({"username": "spark", "password": "not-a-real-password"}),
    )["ARN"]
    account.ids.update(vpc=vpc, subnets=subnets, sg=sg, role_arn=role_arn, secret_arn=secret_arn)
    account.ids.update(endpoints)


@pytest.fixture(scope="module")
def note(terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NoteAccount]:
    workdir = tmp_path_factory.mktemp("moto-note")
    jar = write_moto_root(workdir, MODULE_CALL)
    with contextlib.ExitStack() as resources:
        account = NoteAccount(terraform, workdir, {}, resources.enter_context(moto_server()))
        _build_note_account(account)
        account.env = {
            "AWS_ENDPOINT_URL": account.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "TF_VAR_execution_role_arn": account.ids["role_arn"],
            "TF_VAR_secret_arn": account.ids["secret_arn"],
            "TF_VAR_jdbc_jar_source": str(jar),
        }
        terraform.init(workdir)
        yield account


def assert_module_policies_beside_the_roles(policies: Dict[str, Any], *more: str) -> None:
    """The role's own policies unchanged, the module's (and ``more``) beside them, nothing else."""
    for name, document in EXISTING_POLICIES.items():
        assert policies[name] == document
    assert set(policies) - set(EXISTING_POLICIES) == {
        "sparkpg-note-secrets",
        "sparkpg-note-s3",
        "sparkpg-note-logs",
        *more,
    }


def test_new_endpoints_in_the_notes_vpc_are_refused(note: NoteAccount) -> None:
    """Without the endpoint ids the module would create a second private-DNS endpoint: AWS says no."""
    target = ["-target=module.sparkpg.aws_vpc_endpoint.logs"]
    before = note.snapshot()
    try:
        result = note.tf(
            "apply", "-auto-approve", "-no-color", *target, *note.vars(reuse=False), ok_codes=(1,)
        )
        message = " ".join(result.stderr.split())
        assert "private-dns-enabled cannot be set because there is already a conflicting DNS" in (
            message
        )
        assert f"logs.{REGION}.amazonaws.com in the VPC {note.ids['vpc']}" in message
    finally:
        note.tf("destroy", "-auto-approve", "-no-color", *target, *note.vars(reuse=False))
    assert note.snapshot() == before


def test_apply_and_destroy_leave_the_notes_account_as_it_was(note: NoteAccount) -> None:
    before = note.snapshot()
    ec2 = note.client("ec2")
    note.tf("apply", "-auto-approve", "-no-color", *note.vars())
    try:
        raw = json.loads(note.tf("output", "-json", "-no-color").stdout)
        outputs = {name: item["value"] for name, item in raw.items()}
        assert outputs["vpc_endpoint_ids"] == {
            "logs": note.ids["logs"],
            "secretsmanager": note.ids["secretsmanager"],
        }
        after = note.snapshot()
        # The note's endpoints: the same two, unchanged; no endpoint was added.
        assert after["endpoints"] == before["endpoints"]
        assert_module_policies_beside_the_roles(after["policies"])
        secrets = after["policies"]["sparkpg-note-secrets"]["Statement"][0]["Resource"]
        assert note.ids["secret_arn"] in secrets
        # The endpoints' group: its rules, plus HTTPS from the jobs' new group, nothing else.
        emr_sg = outputs["security_group_id"]
        assert emr_sg != note.ids["sg"]
        added = [json.loads(r) for r in after["rules"] if r not in before["rules"]]
        assert [(r["IsEgress"], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in added] == [
            (False, "tcp", 443, 443)
        ]
        assert added[0]["ReferencedGroupInfo"]["GroupId"] == emr_sg
        assert not [r for r in before["rules"] if r not in after["rules"]]
    finally:
        note.tf("destroy", "-auto-approve", "-no-color", *note.vars())
    assert note.snapshot() == before
    assert ec2.describe_security_groups(GroupIds=[note.ids["sg"]])["SecurityGroups"]


def test_iam_connection_adds_only_the_rds_connect_policy(note: NoteAccount) -> None:
    """Switch the connection to IAM: one more policy of the module's own, settings with iam."""
    cluster = note.client("rds").create_db_cluster(
        DBClusterIdentifier="pg-database",
        Engine="aurora-postgresql",
        MasterUsername="postgres",
        MasterUserPassword="not-a-real-password",
        EnableIAMDatabaseAuthentication=True,
    )["DBCluster"]
    resource_id = cluster["DbClusterResourceId"]
    host = cluster["ReaderEndpoint"]
    connection = {
        "host": host,
        "auth_method": "iam",
        "username": "spark_reader",
        "ssl_mode": "verify-full",
        "ssl_root_cert": "/etc/pki/rds/global-bundle.pem",
    }
    users = [{"cluster_resource_id": resource_id, "user": "spark_reader"}]
    args = [
        *note.vars(),
        "-var",
        f"connection={json.dumps(connection)}",
        "-var",
        f"iam_database_users={json.dumps(users)}",
    ]
    before = note.snapshot()
    note.tf("apply", "-auto-approve", "-no-color", *args)
    try:
        after = note.snapshot()
        assert_module_policies_beside_the_roles(after["policies"], "sparkpg-note-rds-connect")
        dbuser = f"arn:aws:rds-db:{REGION}:123456789012:dbuser:{resource_id}/spark_reader"
        assert after["policies"]["sparkpg-note-rds-connect"] == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ConnectAsDatabaseUsers",
                    "Effect": "Allow",
                    "Action": ["rds-db:connect"],
                    "Resource": [dbuser],
                }
            ],
        }
        assert evaluate_policies(list(after["policies"].items()), "rds-db:connect", dbuser).allowed
        assert after["endpoints"] == before["endpoints"]
        settings = json.loads(
            json.loads(note.tf("output", "-json", "-no-color").stdout)["settings_json"]["value"]
        )
        assert settings["postgres"]["connections"] == [
            {
                "name": "aurora",
                "host": host,
                "port": 5432,
                "database": "postgres",
                "auth_method": "iam",
                "username": "spark_reader",
                "ssl_mode": "verify-full",
                "ssl_root_cert": "/etc/pki/rds/global-bundle.pem",
                "enabled": True,
            }
        ]
        path = note.workdir / "settings.json"
        path.write_text(json.dumps(settings), encoding="utf-8")
        loaded = load_settings(path).postgres.connections[0]
        assert (loaded.auth_method, loaded.username, loaded.secret_arn) == (
            "iam",
            "spark_reader",
            None,
        )
    finally:
        note.tf("destroy", "-auto-approve", "-no-color", *args)
    assert note.snapshot() == before
