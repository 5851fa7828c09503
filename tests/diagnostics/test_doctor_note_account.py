"""``sparkpg doctor`` in an account like the infrastructure note's: its fixes never damage it.

The note's role has inline policies of its own (``EMRServerlessS3Policy`` with S3 and Logs
permissions, ``EMRSecretsManagerPolicy`` on ``spark/postgres/*``), its VPC keeps several subnets
per zone, and its egress may be a Transit Gateway or a NAT instance. The doctor's printed fix
commands are run here, on the moto server, with the AWS CLI, and what the account had is checked
afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from entrypoints.cli import main
from tests import REPO
from tests.diagnostics.environment import REGION, Environment, build_healthy
from tests.note_account import ROLE_NAME, inline_policies, note_policies, put_inline_policies

# The note's own inline policies (section 2), in another bucket and account than the deployment
# the doctor checks, so the role cannot read the deployment's secret or JAR.
NOTE_POLICIES = note_policies(
    "260005718447",
    [
        "arn:aws:s3:::spark-data-260005718447-us-east-1",
        "arn:aws:s3:::spark-data-260005718447-us-east-1/*",
    ],
)


@pytest.fixture
def healthy(moto_env: str, tmp_path: Path) -> Environment:
    return build_healthy(moto_env, tmp_path)


def doctor(env: Environment, capsys: pytest.CaptureFixture[str]) -> Dict[str, Dict[str, str]]:
    capsys.readouterr()
    main(
        [
            "doctor",
            "--settings",
            str(env.settings_path),
            "--role-arn",
            env.role_arn,
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    return {check["name"]: check for check in report["checks"]}


def commands(fix: str) -> List[List[str]]:
    """The ``aws ...`` commands in a fix text: each runs to its last argument (quoted or not)."""
    found = []
    pattern = r"aws (?:iam|ec2) [a-z-]+(?: --[a-z-]+(?: '[^']*'| (?!--|\()[^\s'|()]+)*)+"
    for match in re.finditer(pattern, fix):
        found.append(shlex.split(match.group(0)))
    return found


def run_aws(env: Environment, argv: List[str]) -> None:
    """Run a printed AWS CLI command against the moto server, as an operator would."""
    if shutil.which("aws") is None:
        pytest.fail("the AWS CLI (aws) is needed to run the doctor's printed commands")
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": env.endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    result = subprocess.run(
        argv, env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{argv}: {result.stderr}"


def test_role_fixes_keep_the_roles_own_policies(
    healthy: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    iam = healthy.client("iam")
    for name in list(inline_policies(iam)):
        iam.delete_role_policy(RoleName=ROLE_NAME, PolicyName=name)
    put_inline_policies(iam, NOTE_POLICIES)
    checks = doctor(healthy, capsys)
    printed = []
    for name in ("role-secret:aurora", "role-jar"):
        assert checks[name]["status"] == "fail", checks[name]
        found = commands(checks[name]["fix"])
        assert [argv[:3] for argv in found] == [["aws", "iam", "put-role-policy"]], checks[name]
        printed.extend(found)
    for argv in printed:
        run_aws(healthy, argv)
    after = inline_policies(iam)
    for name, document in NOTE_POLICIES.items():
        assert after[name] == document, f"the doctor's fix changed the role's own {name}"
    assert len(after) == len(NOTE_POLICIES) + 2
    checks = doctor(healthy, capsys)
    assert checks["role-secret:aurora"]["status"] == "pass", checks["role-secret:aurora"]
    assert checks["role-jar"]["status"] == "pass", checks["role-jar"]


def test_trust_fix_keeps_the_roles_own_trust_statements(
    healthy: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    iam = healthy.client("iam")
    glue = {
        "Effect": "Allow",
        "Principal": {"Service": "glue.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    iam.update_assume_role_policy(
        RoleName=ROLE_NAME,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [glue]}),
    )
    checks = doctor(healthy, capsys)
    assert checks["role-trust"]["status"] == "fail"
    (argv,) = commands(checks["role-trust"]["fix"])
    assert argv[:3] == ["aws", "iam", "update-assume-role-policy"]
    run_aws(healthy, argv)
    trust = iam.get_role(RoleName=ROLE_NAME)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0] == glue
    assert doctor(healthy, capsys)["role-trust"]["status"] == "pass"


def add_second_subnet_in_first_zone(env: Environment) -> str:
    """A second application subnet in us-east-1a (the note's layout allows several per zone)."""
    ec2, emr = env.client("ec2"), env.client("emr-serverless")
    extra = ec2.create_subnet(
        VpcId=env.vpc_id, CidrBlock="10.20.9.0/24", AvailabilityZone="us-east-1a"
    )["Subnet"]["SubnetId"]
    ec2.associate_route_table(RouteTableId=env.route_table_id, SubnetId=extra)
    emr.update_application(
        applicationId=env.postgres_app,
        clientToken="second-subnet",
        networkConfiguration={
            "subnetIds": [*env.subnet_ids, extra],
            "securityGroupIds": [env.emr_sg],
        },
    )
    return str(extra)


def test_endpoint_fix_takes_one_subnet_per_zone(
    healthy: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    add_second_subnet_in_first_zone(healthy)
    healthy.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[healthy.endpoints["logs"]])
    checks = doctor(healthy, capsys)
    assert checks["endpoint-logs"]["status"] == "fail"
    (argv,) = commands(checks["endpoint-logs"]["fix"])
    assert argv[:3] == ["aws", "ec2", "create-vpc-endpoint"]
    run_aws(healthy, argv)
    assert doctor(healthy, capsys)["endpoint-logs"]["status"] == "pass"


def test_missing_zone_fix_adds_one_subnet_per_zone(
    healthy: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = add_second_subnet_in_first_zone(healthy)
    ec2 = healthy.client("ec2")
    ec2.modify_vpc_endpoint(
        VpcEndpointId=healthy.endpoints["secretsmanager"], RemoveSubnetIds=[healthy.subnet_ids[0]]
    )
    check = doctor(healthy, capsys)["endpoint-secretsmanager"]
    assert check["status"] == "warn", check
    (argv,) = commands(check["fix"])
    assert argv[:3] == ["aws", "ec2", "modify-vpc-endpoint"]
    run_aws(healthy, argv)
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[healthy.endpoints["secretsmanager"]])
    subnets = endpoint["VpcEndpoints"][0]["SubnetIds"]
    zones = [s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=subnets)["Subnets"]]
    assert sorted(zones) == ["us-east-1a", "us-east-1b", "us-east-1c"], subnets
    assert min(healthy.subnet_ids[0], extra) in subnets  # the lowest id of the zone
    assert doctor(healthy, capsys)["endpoint-secretsmanager"]["status"] == "pass"


def test_unreachable_aws_is_named_and_nothing_passes_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No AWS at all (a new user's laptop): the fixes say so, and no check passes on nothing."""
    from connectors.aws import aws_client
    from devtools.moto_server import free_port

    example = REPO / "examples" / "settings.json"
    settings = tmp_path / "settings.json"
    settings.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    aws_client.cache_clear()
    capsys.readouterr()
    role = "arn:aws:iam::260005718447:role/EMRServerlessExecutionRole"
    main(["doctor", "--settings", str(settings), "--role-arn", role, "--json"])
    report = json.loads(capsys.readouterr().out)
    checks = {check["name"]: check for check in report["checks"]}
    for check in checks.values():
        assert "check --role-arn" not in check["fix"], check
        assert "check the id in the settings" not in check["fix"], check
    assert "AWS did not answer" in checks["role-trust"]["fix"], checks["role-trust"]
    assert checks["fixed-cost"]["status"] == "skip", checks["fixed-cost"]


def test_a_transit_gateway_is_egress_too(
    healthy: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shared egress VPC behind a Transit Gateway reaches Logs and S3 like a NAT gateway does."""
    ec2 = healthy.client("ec2")
    ec2.delete_vpc_endpoints(VpcEndpointIds=[healthy.endpoints["logs"], healthy.endpoints["s3"]])
    tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw, VpcId=healthy.vpc_id, SubnetIds=healthy.subnet_ids
    )
    ec2.create_route(
        RouteTableId=healthy.route_table_id, DestinationCidrBlock="0.0.0.0/0", TransitGatewayId=tgw
    )
    checks = doctor(healthy, capsys)
    assert checks["endpoint-logs"]["status"] == "warn", checks["endpoint-logs"]
    assert f"transit gateway {tgw}" in checks["endpoint-logs"]["evidence"]
    assert checks["s3-reachable"]["status"] == "pass", checks["s3-reachable"]
    assert f"transit gateway {tgw}" in checks["s3-reachable"]["evidence"]
