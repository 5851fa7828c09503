"""``sparkpg doctor`` against a moto server: a healthy deployment passes; each of the common
failures of docs/troubleshooting.md and each deployment checklist item, broken one at a time, is
reported as exactly that failing check with its fix, and nothing else fails."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

from diagnostics.aws_reader import AwsReader
from diagnostics.run import run_doctor
from entrypoints.cli import main
from entrypoints.errors import EXIT_CHECKS_FAILED, EXIT_OK
from tests.diagnostics.environment import (
    BUCKET,
    JAR_KEY,
    ROLE_NAME,
    Environment,
    build_healthy,
    fake_driver_jar,
)

HEALTHY_CHECKS = [
    "settings",
    "settings-applications",
    "settings-connections",
    "jdbc-jar",
    "secret:aurora",
    "role-trust",
    "role-secret:aurora",
    "role-jar",
    "app-postgres",
    "app-default",
    "endpoint-logs",
    "endpoint-secretsmanager",
    "s3-reachable",
    "db-ingress:aurora",
    "fixed-cost",
]


@pytest.fixture(scope="module")
def moto_url(moto_server_url: str) -> str:
    """The session's moto server (tests/conftest.py)."""
    return moto_server_url


@pytest.fixture
def aws(moto_env: str) -> str:
    """An empty moto account, and sparkpg's clients pointed at it (``moto_env``)."""
    return moto_env


@pytest.fixture
def healthy(aws: str, tmp_path: Path) -> Environment:
    """The seed's deployment, healthy (tests/diagnostics/environment.py)."""
    return build_healthy(aws, tmp_path)


def doctor_json(
    env: Environment, capsys: pytest.CaptureFixture[str], role_arn: Optional[str] = None
) -> tuple[int, Dict[str, Any]]:
    """Run ``sparkpg doctor --json`` on the environment; the exit code and the parsed report."""
    capsys.readouterr()
    code = main(
        [
            "doctor",
            "--settings",
            str(env.settings_path),
            "--role-arn",
            role_arn or env.role_arn,
            "--json",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def by_name(report: Dict[str, Any]) -> Dict[str, Dict[str, str]]:
    return {check["name"]: check for check in report["checks"]}


def test_healthy_deployment_passes(
    healthy: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = doctor_json(healthy, capsys)
    checks = by_name(report)
    assert code == EXIT_OK, report
    assert report["ok"] is True
    assert list(checks) == HEALTHY_CHECKS
    assert {c["status"] for c in checks.values()} == {"pass"}, report
    # moto has no iam:SimulatePrincipalPolicy: the permission checks say what they used instead.
    for name in ("role-secret:aurora", "role-jar"):
        assert "simulation unavailable (NotImplemented)" in checks[name]["evidence"]
        assert "policy documents inline EMRSecretsManagerPolicy" in checks[name]["evidence"]
    assert "inline EMRSecretsManagerPolicy" in checks["role-secret:aurora"]["evidence"]
    assert "version 42.7.13" in checks["jdbc-jar"]["evidence"]
    assert healthy.db_sg in checks["db-ingress:aurora"]["evidence"]
    cost = checks["fixed-cost"]["evidence"]
    assert "2 interface endpoints in" in cost and "x $0.01/h x 730 h" in cost


def test_healthy_table_output(healthy: Environment, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code = main(
        ["doctor", "--settings", str(healthy.settings_path), "--role-arn", healthy.role_arn]
    )
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert out.splitlines()[0].split() == ["STATUS", "CHECK", "EVIDENCE"]
    assert "OK: 15 passed, 0 warnings, 0 failed, 0 skipped" in out


# --- one breakage at a time -----------------------------------------------------------------


def _settings(env: Environment, change: Callable[[Dict[str, Any]], None]) -> None:
    settings = copy.deepcopy(env.settings)
    change(settings)
    env.write_settings(settings)


def delete_jar(env: Environment) -> None:
    env.client("s3").delete_object(Bucket=BUCKET, Key=JAR_KEY)


def jar_not_a_driver(env: Environment) -> None:
    env.client("s3").put_object(Bucket=BUCKET, Key=JAR_KEY, Body=fake_driver_jar(driver=False))


def no_driver_path(env: Environment) -> None:
    _settings(env, lambda s: s["postgres"].pop("jdbc_driver_path"))


def delete_endpoint(service: str) -> Callable[[Environment], None]:
    def breaker(env: Environment) -> None:
        env.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[env.endpoints[service]])

    return breaker


def close_endpoint_sg(env: Environment) -> None:
    env.client("ec2").revoke_security_group_ingress(
        GroupId=env.endpoint_sgs["logs"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "UserIdGroupPairs": [{"GroupId": env.emr_sg}],
            }
        ],
    )


def delete_role_policy(name: str) -> Callable[[Environment], None]:
    def breaker(env: Environment) -> None:
        env.client("iam").delete_role_policy(RoleName=ROLE_NAME, PolicyName=name)

    return breaker


def close_db_sg(env: Environment) -> None:
    env.client("ec2").revoke_security_group_ingress(
        GroupId=env.db_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": env.emr_sg}],
            }
        ],
    )


def secret_without_password(env: Environment) -> None:
    env.client("secretsmanager").put_secret_value(
        SecretId=env.secret_arn, SecretString=json.dumps({"username": "spark"})
    )


def delete_secret(env: Environment) -> None:
    env.client("secretsmanager").delete_secret(
        SecretId=env.secret_arn, ForceDeleteWithoutRecovery=True
    )


def trust_ec2(env: Environment) -> None:
    env.client("iam").update_assume_role_policy(
        RoleName=ROLE_NAME,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )


def postgres_app_without_network(env: Environment) -> None:
    app = env.client("emr-serverless").create_application(
        name="no-vpc", releaseLabel="emr-7.0.0", type="Spark"
    )["applicationId"]
    _settings(env, lambda s: s["spark"].update(emr_postgres_application_id=app))


def unknown_app(key: str) -> Callable[[Environment], None]:
    return lambda env: _settings(env, lambda s: s["spark"].update({key: "00fv6g7rptsov009"}))


def terminate_postgres_app(env: Environment) -> None:
    env.client("emr-serverless").delete_application(applicationId=env.postgres_app)


def delete_s3_gateway(env: Environment) -> None:
    delete_endpoint("s3")(env)


def missing_app_id(env: Environment) -> None:
    _settings(env, lambda s: s["spark"].pop("emr_application_id"))


def no_enabled_connection(env: Environment) -> None:
    _settings(env, lambda s: s["postgres"]["connections"][0].update(enabled=False))


def invalid_settings(env: Environment) -> None:
    env.settings_path.write_text('{"postgres": {"connections": [{"name": "aurora"}]}}')


BREAKAGES = [
    # Seed 10.1: ClassNotFoundException: org.postgresql.Driver
    pytest.param(delete_jar, "jdbc-jar", "Verify JDBC JAR exists in S3", id="10.1-jar-missing"),
    pytest.param(
        no_driver_path,
        "jdbc-jar",
        "Ensure `jdbc_driver_path` is configured in backend settings",
        id="10.1-driver-path-unset",
    ),
    pytest.param(
        jar_not_a_driver, "jdbc-jar", "Verify JDBC JAR exists in S3", id="10.1-not-pgjdbc"
    ),
    # Seed 10.2: connect timeout to CloudWatch Logs
    pytest.param(
        delete_endpoint("logs"),
        "endpoint-logs",
        "Verify CloudWatch Logs VPC endpoint exists and is available",
        id="10.2-logs-endpoint-missing",
    ),
    pytest.param(
        close_endpoint_sg,
        "endpoint-logs",
        "Check security group allows traffic to VPC endpoint",
        id="10.2-endpoint-sg-closed",
    ),
    # Seed 10.3: AccessDeniedException for Secrets Manager
    pytest.param(
        delete_role_policy("EMRSecretsManagerPolicy"),
        "role-secret:aurora",
        "Verify EMR execution role has `EMRSecretsManagerPolicy`",
        id="10.3-role-policy-missing",
    ),
    pytest.param(
        delete_endpoint("secretsmanager"),
        "endpoint-secretsmanager",
        "Ensure Secrets Manager VPC endpoint exists",
        id="10.3-secretsmanager-endpoint-missing",
    ),
    # Seed 10.4: PostgreSQL connection timeout
    pytest.param(
        close_db_sg,
        "db-ingress:aurora",
        "Verify RDS security group allows inbound from EMR security group",
        id="10.4-db-sg-closed",
    ),
    # Seed 8: the deployment checklist
    pytest.param(
        delete_role_policy("EMRServerlessS3Policy"),
        "role-jar",
        "s3:GetObject",
        id="8-role-cannot-read-jar",
    ),
    pytest.param(trust_ec2, "role-trust", "emr-serverless.amazonaws.com", id="8-role-trust"),
    pytest.param(
        postgres_app_without_network,
        "app-postgres",
        "EMR Serverless application created with VPC configuration",
        id="8-app-without-vpc",
    ),
    pytest.param(
        unknown_app("emr_postgres_application_id"),
        "app-postgres",
        "spark.emr_postgres_application_id",
        id="8-postgres-app-unknown",
    ),
    pytest.param(
        unknown_app("emr_application_id"),
        "app-default",
        "spark.emr_application_id",
        id="8-default-app-unknown",
    ),
    pytest.param(terminate_postgres_app, "app-postgres", "TERMINATED", id="8-app-terminated"),
    pytest.param(
        delete_s3_gateway, "s3-reachable", "--service-name com.amazonaws.us-east-1.s3", id="8-no-s3"
    ),
    pytest.param(
        missing_app_id,
        "settings-applications",
        "Backend settings.json configured with correct ARNs and paths",
        id="8-settings-app-id-missing",
    ),
    pytest.param(
        no_enabled_connection, "settings-connections", '"enabled": true', id="8-no-connection"
    ),
    pytest.param(invalid_settings, "settings", "Backend settings.json", id="8-settings-invalid"),
    pytest.param(
        secret_without_password, "secret:aurora", "missing key(s) password", id="8-secret-keys"
    ),
    pytest.param(delete_secret, "secret:aurora", "not found", id="8-secret-missing"),
]


@pytest.mark.parametrize(("breaker", "failing", "fix"), BREAKAGES)
def test_one_breakage_is_one_failing_check(
    healthy: Environment,
    capsys: pytest.CaptureFixture[str],
    breaker: Callable[[Environment], None],
    failing: str,
    fix: str,
) -> None:
    breaker(healthy)
    code, report = doctor_json(healthy, capsys)
    failed = [c["name"] for c in report["checks"] if c["status"] == "fail"]
    assert failed == [failing], json.dumps(report, indent=2)
    assert code == EXIT_CHECKS_FAILED
    assert report["ok"] is False
    assert fix in by_name(report)[failing]["fix"], by_name(report)[failing]


def test_private_dns_off_is_reported(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = build_healthy(aws, tmp_path, private_dns_off=("secretsmanager",))
    code, report = doctor_json(env, capsys)
    assert code == EXIT_CHECKS_FAILED
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == ["endpoint-secretsmanager"]
    assert "private DNS is off" in failed[0]["evidence"]
    assert (
        f"--vpc-endpoint-id {env.endpoints['secretsmanager']} --private-dns-enabled"
        in (failed[0]["fix"])
    )


def test_nat_instead_of_logs_endpoint_is_a_warning(
    healthy: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2 = healthy.client("ec2")
    delete_endpoint("logs")(healthy)
    public = ec2.create_subnet(
        VpcId=healthy.vpc_id, CidrBlock="10.20.100.0/24", AvailabilityZone="us-east-1a"
    )["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"]
    ec2.create_route(
        RouteTableId=healthy.route_table_id,
        DestinationCidrBlock="0.0.0.0/0",
        NatGatewayId=nat["NatGatewayId"],
    )
    code, report = doctor_json(healthy, capsys)
    checks = by_name(report)
    assert code == EXIT_OK, report
    assert checks["endpoint-logs"]["status"] == "warn"
    assert nat["NatGatewayId"] in checks["endpoint-logs"]["evidence"]


def test_role_not_found(healthy: Environment, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = doctor_json(
        healthy, capsys, role_arn="arn:aws:iam::123456789012:role/NoSuchRole"
    )
    assert code == EXIT_CHECKS_FAILED
    failed = [c["name"] for c in report["checks"] if c["status"] == "fail"]
    assert failed == ["role-trust"]
    assert "no such role" in by_name(report)["role-trust"]["evidence"]


class SimulatingReader(AwsReader):
    """moto has no iam:SimulatePrincipalPolicy; answer it as IAM does, from a fixed table."""

    def __init__(self, denied: List[str]) -> None:
        super().__init__()
        self.denied = denied
        self.calls: List[str] = []

    def simulate(self, role_arn: str, action: str, resource: str) -> List[Dict[str, Any]]:
        self.calls.append(action)
        allowed = action not in self.denied
        return [
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": "allowed" if allowed else "implicitDeny",
                "MatchedStatements": [{"SourcePolicyId": "EMRSecretsManagerPolicy"}]
                if allowed
                else [],
            }
        ]


def test_policy_simulation_is_used_when_available(healthy: Environment) -> None:
    reader = SimulatingReader(denied=["secretsmanager:GetSecretValue"])
    results = {
        r.name: r
        for r in run_doctor(str(healthy.settings_path), role_arn=healthy.role_arn, reader=reader)
    }
    assert reader.calls == ["secretsmanager:GetSecretValue", "s3:GetObject"]
    secret = results["role-secret:aurora"]
    assert secret.status == "fail"
    assert "[evidence: IAM policy simulation (iam:SimulatePrincipalPolicy)]" in secret.evidence
    assert "implicit-deny" in secret.evidence
    assert results["role-jar"].status == "pass"


# --- --probe ----------------------------------------------------------------------------------


def deploy_probe_bundle(env: Environment, entry_points: tuple[str, ...] = ("probe",)) -> str:
    """A deployed bundle manifest in S3 (artifacts need not exist: moto runs no code)."""
    root = f"s3://{BUCKET}/sparkpg"

    def artifact(name: str) -> Dict[str, Any]:
        return {"file": name, "sha256": "0" * 64, "size": 1, "uri": f"{root}/{name}"}

    manifest = {
        "format": 1,
        "version": "0.1.0",
        "code": artifact("sparkpg-0.1.0-code.zip"),
        "environment": artifact("sparkpg-0.1.0-env.tar.gz"),
        "jdbc_driver": artifact("postgresql-42.7.13.jar"),
        "entrypoints": {name: artifact(f"{name}.py") for name in entry_points},
        "artifact_root": root,
    }
    key = "sparkpg/deployment.json"
    env.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(manifest).encode())
    return f"s3://{BUCKET}/{key}"


def run_probe(env: Environment, tags: Dict[str, str], **kwargs: Any) -> Dict[str, Any]:
    from diagnostics.probe_run import probe_runner

    reader = AwsReader()
    probe = probe_runner(reader, tags=tags, sleep=lambda seconds: None, **kwargs)
    results = run_doctor(str(env.settings_path), role_arn=env.role_arn, reader=reader, probe=probe)
    return {r.name: r for r in results}


def test_probe_reports_each_connection(healthy: Environment) -> None:
    from spark_jobs.job.connection_probe import ConnectionProbe

    bundle = deploy_probe_bundle(healthy)
    line = ConnectionProbe("aurora", True, "connect", "connected to the reader as spark").to_line()
    from devtools.moto_server import scripted_stdout

    results = run_probe(healthy, {"moto:stdout": scripted_stdout(line)}, bundle_location=bundle)
    probe = results["probe:aurora"]
    assert probe.status == "pass", probe
    assert "connected to the reader as spark" in probe.evidence
    assert all(r.status != "fail" for r in results.values())
    runs = healthy.client("emr-serverless").list_job_runs(applicationId=healthy.postgres_app)
    [run] = runs["jobRuns"]
    assert run["name"] == "sparkpg-doctor-probe"
    job = healthy.client("emr-serverless").get_job_run(
        applicationId=healthy.postgres_app, jobRunId=run["id"]
    )["jobRun"]
    arguments = job["jobDriver"]["sparkSubmit"]["entryPointArguments"]
    assert arguments[0] == "--settings-b64"
    assert job["jobDriver"]["sparkSubmit"]["entryPoint"].endswith("/probe.py")
    assert (
        f"--jars s3://{BUCKET}/{JAR_KEY}"
        in job["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
    )
    assert job["executionRole"] == healthy.role_arn


def test_probe_failure_names_the_exact_error_and_the_fix(healthy: Environment) -> None:
    _settings(healthy, lambda s: s["spark"].update(emr_bundle_uri=deploy_probe_bundle(healthy)))
    results = run_probe(
        healthy, {"moto:states": "SUBMITTED/RUNNING/FAILED", "moto:failure": "java"}
    )
    probe = results["probe:aurora"]
    assert probe.status == "fail"
    assert "ClassNotFoundException: org.postgresql.Driver" in probe.evidence
    assert "Verify JDBC JAR exists in S3" in probe.fix
    assert [r.name for r in results.values() if r.status == "fail"] == ["probe:aurora"]


def test_probe_needs_the_probe_entry_point(healthy: Environment) -> None:
    bundle = deploy_probe_bundle(healthy, entry_points=("read_tables",))
    results = run_probe(healthy, {}, bundle_location=bundle)
    assert results["probe"].status == "fail"
    assert "no 'probe' entry point" in results["probe"].evidence


def test_probe_is_not_submitted_when_a_check_fails(healthy: Environment) -> None:
    close_db_sg(healthy)
    results = run_probe(healthy, {}, bundle_location=deploy_probe_bundle(healthy))
    assert results["probe"].status == "skip"
    runs = healthy.client("emr-serverless").list_job_runs(applicationId=healthy.postgres_app)
    assert runs["jobRuns"] == []


def test_the_deployed_bundle_is_checked_against_the_applications(
    healthy: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = deploy_probe_bundle(healthy)
    capsys.readouterr()
    args = ["doctor", "--settings", str(healthy.settings_path), "--role-arn", healthy.role_arn]
    assert main([*args, "--bundle", bundle, "--json"]) == EXIT_OK
    checks = by_name(json.loads(capsys.readouterr().out))
    for name in ("bundle-fit:app-postgres", "bundle-fit:app-default"):
        assert checks[name]["status"] == "pass", checks[name]
        assert "Python 3.9, X86_64" in checks[name]["evidence"]
    arm = healthy.client("emr-serverless").create_application(
        name="arm", releaseLabel="emr-7.0.0", type="Spark", architecture="ARM64"
    )["applicationId"]
    settings = json.loads(healthy.settings_path.read_text())
    settings["spark"]["emr_application_id"] = arm
    arm_settings = healthy.settings_path.with_name("arm-settings.json")
    arm_settings.write_text(json.dumps(settings))
    args[2] = str(arm_settings)
    assert main([*args, "--bundle", bundle, "--json"]) == EXIT_CHECKS_FAILED
    failed = by_name(json.loads(capsys.readouterr().out))["bundle-fit:app-default"]
    assert failed["status"] == "fail" and "./build.sh --arch arm64" in failed["fix"]
