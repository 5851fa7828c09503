"""Apply the complete example to a local moto server, check what it made, re-plan, destroy.

The session's moto server (tests/conftest.py; ``devtools.moto_server`` with its documented
corrections), emptied first, serves the whole module; the tests run in order: apply -> resources
-> second plan -> settings.json -> deploy and submit with the rendered settings -> destroy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator

import boto3
import pytest

from connectors.settings import load_settings
from devtools.moto_server import cloudwatch_driver_stream
from entrypoints.errors import EXIT_JOB_FAILED, EXIT_OK
from tests import REPO
from tests.infra.conftest import EXAMPLE_DIR, Terraform
from tests.moto_support import reset_moto

pytestmark = [pytest.mark.infra, pytest.mark.slow]

REGION = "us-east-1"
PASSWORD = "p@ss:w/rd with spaces & 'quotes'"
DATABASE_HOST = "pg-database.cluster-ro-example.us-east-1.rds.amazonaws.com"

# Points the example's provider at moto: a Terraform override file, merged into the provider
# block; the endpoint itself comes from AWS_ENDPOINT_URL.
PROVIDER_OVERRIDE = """\
provider "aws" {
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
}
"""

SEED_SPARK_KEYS = {"emr_application_id", "emr_postgres_application_id", "supervisor_arn"}
# What the module adds so that `sparkpg submit --settings <rendered>` needs no other flag.
SUBMIT_SPARK_KEYS = {
    "emr_execution_role_arn",
    "emr_cloudwatch_log_group",
    "emr_log_uri",
    "emr_bundle_uri",
    "emr_initial_capacity",
}
POLICY_NAMES = {"sparkpg-sparkpg-secrets", "sparkpg-sparkpg-s3", "sparkpg-sparkpg-logs"}
SEED_POSTGRES_KEYS = {"jdbc_driver_path", "connections"}
SEED_CONNECTION_KEYS = {
    "name",
    "secret_arn",
    "host",
    "port",
    "database",
    "auth_method",
    "enabled",
}


@dataclass
class Stack:
    """An applied example: where it runs, its outputs, and clients for the moto server."""

    terraform: Terraform
    workdir: Path
    env: Dict[str, str]
    endpoint_url: str
    outputs: Dict[str, Any]
    jar_bytes: bytes
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


def _fake_jar(path: Path) -> bytes:
    with zipfile.ZipFile(path, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: sparkpg tests\n")
        jar.writestr("org/postgresql/Driver.class", b"\xca\xfe\xba\xbe")
    return path.read_bytes()


@pytest.fixture(scope="module")
def stack(
    terraform: Terraform, tmp_path_factory: pytest.TempPathFactory, moto_server_url: str
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("moto-apply") / "terraform"
    shutil.copytree(
        REPO / "infra" / "terraform",
        root,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"),
    )
    workdir = root / EXAMPLE_DIR
    (workdir / "moto_override.tf").write_text(PROVIDER_OVERRIDE, encoding="utf-8")
    jar = root / "postgresql-42.7.13.jar"
    jar_bytes = _fake_jar(jar)

    reset_moto(moto_server_url)  # the session's server (tests/conftest.py), emptied
    endpoint_url = moto_server_url
    env = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "TF_VAR_region": REGION,
        "TF_VAR_jdbc_jar_source": str(jar),
        "TF_VAR_database_host": DATABASE_HOST,
        "TF_VAR_postgres_username": "spark_reader",
        "TF_VAR_postgres_password": PASSWORD,
        "TF_VAR_secret_recovery_window_in_days": "0",
        "TF_VAR_force_destroy_bucket": "true",
    }
    terraform.init(workdir)
    stack = Stack(terraform, workdir, env, endpoint_url, {}, jar_bytes)
    try:
        stack.tf("apply", "-auto-approve", "-input=false", "-no-color")
        raw = json.loads(stack.tf("output", "-json", "-no-color").stdout)
        stack.outputs = {name: item["value"] for name, item in raw.items()}
        yield stack
    finally:
        if not stack.destroyed:
            stack.tf("destroy", "-auto-approve", "-input=false", "-no-color")


def test_emr_serverless_applications(stack: Stack) -> None:
    emr = stack.client("emr-serverless")
    app = emr.get_application(applicationId=stack.outputs["postgres_application_id"])["application"]
    assert app["name"] == "sparkpg-postgres"
    assert app["releaseLabel"] == "emr-7.0.0"
    assert app["type"].upper() == "SPARK"
    assert app["architecture"] == "X86_64"
    assert app["state"] == "CREATED"
    capacity = {
        kind: (
            cfg["workerCount"],
            cfg["workerConfiguration"]["cpu"],
            cfg["workerConfiguration"]["memory"],
            cfg["workerConfiguration"]["disk"],
        )
        for kind, cfg in app["initialCapacity"].items()
    }
    assert capacity == {
        "Driver": (1, "2 vCPU", "4 GB", "20 GB"),
        "Executor": (2, "4 vCPU", "8 GB", "20 GB"),
    }
    assert app["maximumCapacity"] == {"cpu": "400 vCPU", "memory": "1000 GB", "disk": "400000 GB"}
    assert app["autoStartConfiguration"] == {"enabled": True}
    assert app["autoStopConfiguration"] == {"enabled": True, "idleTimeoutMinutes": 15}
    network = app["networkConfiguration"]
    assert sorted(network["subnetIds"]) == sorted(stack.outputs["subnet_ids"])
    assert network["securityGroupIds"] == [stack.outputs["security_group_id"]]

    plain = emr.get_application(applicationId=stack.outputs["emr_application_id"])["application"]
    assert plain["name"] == "sparkpg-spark"
    assert plain["releaseLabel"] == "emr-7.0.0"
    assert not plain.get("networkConfiguration")
    assert not plain.get("initialCapacity")


def test_execution_role_and_policies(stack: Stack) -> None:
    iam = stack.client("iam")
    account = stack.client("sts").get_caller_identity()["Account"]
    role_arn = stack.outputs["execution_role_arn"]
    assert role_arn == f"arn:aws:iam::{account}:role/sparkpg-emr-serverless-execution"
    role = iam.get_role(RoleName="sparkpg-emr-serverless-execution")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert [s["Principal"] for s in trust["Statement"]] == [
        {"Service": "emr-serverless.amazonaws.com"}
    ]
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}

    names = set(iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"])
    assert names == POLICY_NAMES
    secrets = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="sparkpg-sparkpg-secrets")
    document = secrets["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"] == [
        {
            "Sid": "ReadPostgresSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": [f"arn:aws:secretsmanager:{REGION}:{account}:secret:spark/postgres/*"],
        }
    ]
    s3_policy = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="sparkpg-sparkpg-s3")
    s3_document = s3_policy["PolicyDocument"]
    s3_document = json.loads(s3_document) if isinstance(s3_document, str) else s3_document
    bucket_arn = f"arn:aws:s3:::{stack.outputs['bucket_name']}"
    resources = [r for s in s3_document["Statement"] for r in s["Resource"]]
    assert resources and all(r == bucket_arn or r.startswith(bucket_arn + "/") for r in resources)


def test_secret_holds_the_seed_format(stack: Stack) -> None:
    sm = stack.client("secretsmanager")
    secret = sm.get_secret_value(SecretId=stack.outputs["secret_arn"])
    assert secret["Name"] == "spark/postgres/aurora"
    assert json.loads(secret["SecretString"]) == {"username": "spark_reader", "password": PASSWORD}


def test_jar_and_bucket(stack: Stack) -> None:
    s3 = stack.client("s3")
    bucket = stack.outputs["bucket_name"]
    account = stack.client("sts").get_caller_identity()["Account"]
    assert bucket == f"sparkpg-artifacts-{account}-{REGION}"
    assert stack.outputs["jdbc_driver_s3_uri"] == f"s3://{bucket}/jars/postgresql-42.7.13.jar"
    body = s3.get_object(Bucket=bucket, Key="jars/postgresql-42.7.13.jar")["Body"].read()
    assert body == stack.jar_bytes
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_network(stack: Stack) -> None:
    ec2 = stack.client("ec2")
    endpoint_ids = stack.outputs["vpc_endpoint_ids"]
    assert set(endpoint_ids) == {"logs", "secretsmanager", "s3"}
    endpoints = {
        e["VpcEndpointId"]: e
        for e in ec2.describe_vpc_endpoints(VpcEndpointIds=list(endpoint_ids.values()))[
            "VpcEndpoints"
        ]
    }
    for service in ("logs", "secretsmanager"):
        endpoint = endpoints[endpoint_ids[service]]
        assert endpoint["ServiceName"] == f"com.amazonaws.{REGION}.{service}"
        assert endpoint["VpcEndpointType"] == "Interface"
        assert endpoint["PrivateDnsEnabled"] is True
        assert endpoint["VpcId"] == stack.outputs["vpc_id"]
        assert sorted(endpoint["SubnetIds"]) == sorted(stack.outputs["subnet_ids"])
        assert [g["GroupId"] for g in endpoint["Groups"]] == [stack.outputs["security_group_id"]]
    s3_endpoint = endpoints[endpoint_ids["s3"]]
    assert s3_endpoint["VpcEndpointType"] == "Gateway"
    assert s3_endpoint["ServiceName"] == f"com.amazonaws.{REGION}.s3"
    assert len(s3_endpoint["RouteTableIds"]) == 1

    emr_sg = stack.outputs["security_group_id"]
    db_sg = stack.outputs["database_security_group_id"]
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [emr_sg, db_sg]}]
    )["SecurityGroupRules"]

    def shape(rule: Dict[str, Any]) -> tuple:
        peer = rule.get("ReferencedGroupInfo", {}).get("GroupId") or rule.get("CidrIpv4")
        ports = (None, None) if rule["IpProtocol"] == "-1" else (rule["FromPort"], rule["ToPort"])
        return (rule["GroupId"], rule["IsEgress"], rule["IpProtocol"], *ports, peer)

    shapes = {shape(r) for r in rules}
    assert (emr_sg, False, "-1", None, None, emr_sg) in shapes, "self ingress"
    assert (emr_sg, True, "-1", None, None, "0.0.0.0/0") in shapes, "egress to everywhere"
    database_ingress = {s for s in shapes if s[0] == db_sg and not s[1]}
    assert database_ingress == {(db_sg, False, "tcp", 5432, 5432, emr_sg)}, shapes


def test_log_group(stack: Stack) -> None:
    logs = stack.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/emr-serverless/sparkpg")
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups["logGroups"]] == [
        ("/aws/emr-serverless/sparkpg", 365)
    ]
    monitoring = stack.outputs["job_monitoring_configuration"]
    assert monitoring["cloudWatchLoggingConfiguration"]["logGroupName"] == (
        "/aws/emr-serverless/sparkpg"
    )


def test_second_plan_has_no_changes(stack: Stack) -> None:
    result = stack.tf("plan", "-detailed-exitcode", "-input=false", "-no-color", ok_codes=(0, 2))
    assert result.returncode == 0, f"a second plan wants changes:\n{result.stdout[-6000:]}"


def _rendered_settings(stack: Stack, tmp_path: Path) -> Path:
    rendered = stack.tf("output", "-raw", "settings_json").stdout
    path = tmp_path / "settings.json"
    path.write_text(rendered, encoding="utf-8")
    return path


def test_rendered_settings_json(stack: Stack, tmp_path: Path) -> None:
    """The settings.json output: the seed's format, the submission keys, this stack's values."""
    path = _rendered_settings(stack, tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"spark", "postgres"}
    assert set(data["spark"]) == SEED_SPARK_KEYS | SUBMIT_SPARK_KEYS
    assert set(data["postgres"]) == SEED_POSTGRES_KEYS
    assert len(data["postgres"]["connections"]) == 1
    connection = data["postgres"]["connections"][0]
    assert set(connection) == SEED_CONNECTION_KEYS
    assert data["spark"]["emr_application_id"] == stack.outputs["emr_application_id"]
    assert data["spark"]["emr_postgres_application_id"] == stack.outputs["postgres_application_id"]
    assert data["spark"]["supervisor_arn"] is None
    assert data["postgres"]["jdbc_driver_path"] == stack.outputs["jdbc_driver_s3_uri"]
    assert connection == {
        "name": "aurora",
        "secret_arn": stack.outputs["secret_arn"],
        "host": DATABASE_HOST,
        "port": 5432,
        "database": "postgres",
        "auth_method": "user_password",
        "enabled": True,
    }
    assert PASSWORD not in path.read_text(encoding="utf-8")

    # The project's own loader accepts it as it is.
    settings = load_settings(path, environ={})
    assert settings.spark.emr_postgres_application_id == stack.outputs["postgres_application_id"]
    assert settings.spark.emr_application_id == stack.outputs["emr_application_id"]
    assert settings.postgres.jdbc_driver_path == stack.outputs["jdbc_driver_s3_uri"]
    assert settings.postgres.connections[0].secret_arn == stack.outputs["secret_arn"]
    assert settings.postgres.connections[0].host == DATABASE_HOST
    assert settings.postgres.connections[0].port == 5432
    bucket = stack.outputs["bucket_name"]
    assert settings.spark.emr_execution_role_arn == stack.outputs["execution_role_arn"]
    assert settings.spark.emr_cloudwatch_log_group == "/aws/emr-serverless/sparkpg"
    assert settings.spark.emr_log_uri == f"s3://{bucket}/logs/"
    assert settings.spark.emr_bundle_uri == f"s3://{bucket}/bundle/manifests/latest.json"
    assert stack.outputs["bundle_root"] == f"s3://{bucket}/bundle"
    # The initial capacity in GetApplication's shape: what the service itself reports.
    app = stack.client("emr-serverless").get_application(
        applicationId=stack.outputs["postgres_application_id"]
    )["application"]
    assert data["spark"]["emr_initial_capacity"] == app["initialCapacity"]
    assert data["spark"]["emr_initial_capacity"]["Driver"] == {
        "workerCount": 1,
        "workerConfiguration": {"cpu": "2 vCPU", "memory": "4 GB", "disk": "20 GB"},
    }


def _sparkpg(stack: Stack, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The ``sparkpg`` CLI in its own process, its AWS clients pointed at the moto server."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("AWS_ENDPOINT_URL")
    }
    env.update(
        AWS_ENDPOINT_URL=stack.endpoint_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        PYTHONPATH=str(REPO),
    )
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _permitted(policies: Dict[str, Any], action: str, resource: str) -> bool:
    """Whether the role's inline policies allow ``action`` on ``resource`` (moto's evaluator)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    results = [IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource) for doc in policies]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


def test_apply_deploy_submit_with_the_rendered_settings(
    stack: Stack, bundle_dist: Path, tmp_path: Path
) -> None:
    """terraform apply -> settings.json -> sparkpg deploy -> sparkpg submit --settings, no other flag.

    The run fails (scripted), so submit has to find the driver's traceback where the jobs log;
    the logs must be where the execution role may write them.
    """
    bucket = stack.outputs["bucket_name"]
    dist = tmp_path / "dist"
    shutil.copytree(bundle_dist, dist)
    deployed = _sparkpg(
        stack, "deploy", "--dist", str(dist), "--to", stack.outputs["bundle_root"], cwd=tmp_path
    )
    assert deployed.returncode == EXIT_OK, deployed.stderr

    # The job on EMR reads the settings from S3: the rendered file, copied as it is.
    rendered = _rendered_settings(stack, tmp_path)
    stack.client("s3").put_object(Bucket=bucket, Key="settings.json", Body=rendered.read_bytes())
    settings_uri = f"s3://{bucket}/settings.json"
    output_uri = f"s3://{bucket}/output/orders/"
    job = ["--table", "aurora.public.orders", "--output", output_uri]
    scripted = ["--tag", "moto:states=SUBMITTED/RUNNING/FAILED"]
    fast = ["--poll-interval", "0.05", "--max-poll-interval", "0.1"]
    submitted = _sparkpg(
        stack,
        "submit",
        "--settings",
        settings_uri,
        *job,
        "--wait",
        "--json",
        *scripted,
        *fast,
        cwd=tmp_path,
    )
    assert submitted.returncode == EXIT_JOB_FAILED, submitted.stderr
    result = json.loads(submitted.stdout)
    app, run = stack.outputs["postgres_application_id"], result["jobRunId"]
    assert result["applicationId"] == app
    log_key = f"logs/applications/{app}/jobs/{run}/SPARK_DRIVER/stderr.gz"
    assert result["driverLog"] == f"s3://{bucket}/{log_key}"
    assert result["driverError"].startswith("Traceback (most recent call last):")

    job_run = stack.client("emr-serverless").get_job_run(applicationId=app, jobRunId=run)["jobRun"]
    assert job_run["executionRole"] == stack.outputs["execution_role_arn"]
    driver = job_run["jobDriver"]["sparkSubmit"]
    assert driver["entryPointArguments"][:2] == ["--settings", settings_uri]
    jars = driver["sparkSubmitParameters"].split("--jars ", 1)[1].split(" ", 1)[0].split(",")
    assert jars[0] == stack.outputs["jdbc_driver_s3_uri"]  # the JAR the module uploaded
    assert jars[1].endswith("/sparkpg-engine.jar")  # and the deployed engine
    monitoring = job_run["configurationOverrides"]["monitoringConfiguration"]
    group = monitoring["cloudWatchLoggingConfiguration"]["logGroupName"]
    assert group == stack.outputs["log_group_name"]
    assert monitoring["s3MonitoringConfiguration"]["logUri"] == f"s3://{bucket}/logs/"
    stream = cloudwatch_driver_stream(app, run, "stderr")
    streams = stack.client("logs").describe_log_streams(logGroupName=group)["logStreams"]
    assert stream in {s["logStreamName"] for s in streams}

    # The execution role may write exactly there: the log stream of its group and the S3 key.
    iam = stack.client("iam")
    role = stack.outputs["execution_role_arn"].rsplit("/", 1)[-1]
    policies = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    policies = [json.loads(p) if isinstance(p, str) else p for p in policies]
    account = stack.client("sts").get_caller_identity()["Account"]
    group_arn = f"arn:aws:logs:{REGION}:{account}:log-group:{group}"
    for action in ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"):
        assert _permitted(policies, action, f"{group_arn}:log-stream:{stream}"), action
    assert _permitted(policies, "s3:PutObject", f"arn:aws:s3:::{bucket}/{log_key}")
    assert _permitted(policies, "s3:PutObject", f"arn:aws:s3:::{bucket}/output/orders/part-0")
    assert _permitted(
        policies, "s3:GetObject", f"arn:aws:s3:::{bucket}/bundle/manifests/latest.json"
    )
    # ... and nowhere else: not EMR Serverless' default group, not the artifacts.
    default_group = f"arn:aws:logs:{REGION}:{account}:log-group:/aws/emr-serverless"
    assert not _permitted(policies, "logs:PutLogEvents", f"{default_group}:log-stream:{stream}")
    assert not _permitted(policies, "s3:PutObject", f"arn:aws:s3:::{bucket}/jars/x.jar")


def test_destroy_removes_everything(stack: Stack) -> None:
    stack.tf("destroy", "-auto-approve", "-input=false", "-no-color")
    stack.destroyed = True
    assert stack.tf("state", "list", ok_codes=(0, 1)).stdout.strip() == ""

    apps = stack.client("emr-serverless").list_applications()["applications"]
    assert {a["state"] for a in apps} <= {"TERMINATED"}, apps
    assert stack.client("secretsmanager").list_secrets()["SecretList"] == []
    assert stack.client("s3").list_buckets()["Buckets"] == []
    roles = stack.client("iam").list_roles()["Roles"]
    assert not [r for r in roles if r["RoleName"].startswith("sparkpg")]
    endpoints = stack.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    assert {e["State"].lower() for e in endpoints} <= {"deleted"}, endpoints
    groups = stack.client("logs").describe_log_groups()["logGroups"]
    assert groups == []
