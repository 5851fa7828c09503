"""The doctor's pure evaluation functions: AWS descriptions in, a CheckResult out (no AWS)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any, Dict, List, Optional

import pytest

from connectors.hosts import is_rds_host
from connectors.settings import settings_from_dict
from diagnostics.applications import evaluate_application
from diagnostics.databases import evaluate_database_ingress, find_database
from diagnostics.iam import decision_from_simulation, evaluate_role_permission
from diagnostics.jar import evaluate_jar
from diagnostics.network import evaluate_interface_endpoint, evaluate_s3_reachability
from diagnostics.probe_run import evaluate_probe, fix_for_error, parse_probe_output
from diagnostics.results import CheckResult, passed, render_json, render_table
from diagnostics.run import evaluate_settings_content
from diagnostics.vpc import AppNetwork, find_rule, route_table_for
from spark_jobs.job.connection_probe import ConnectionProbe
from tests import REPO
from tests.unit.diagnostics.doctor_data import SECRET

REGION = "us-east-1"
APP = AppNetwork(
    vpc_id="vpc-1",
    subnet_ids=("subnet-a", "subnet-b"),
    security_group_ids=("sg-emr",),
    zones=("us-east-1a", "us-east-1b"),
    cidrs=("10.0.1.0/24", "10.0.2.0/24"),
)
SUBNETS = {
    "subnet-a": {
        "SubnetId": "subnet-a",
        "AvailabilityZone": "us-east-1a",
        "CidrBlock": "10.0.1.0/24",
    },
    "subnet-b": {
        "SubnetId": "subnet-b",
        "AvailabilityZone": "us-east-1b",
        "CidrBlock": "10.0.2.0/24",
    },
}
EGRESS_ALL = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def sg(
    group_id: str, ingress: Optional[List[Dict[str, Any]]] = None, **extra: Any
) -> Dict[str, Any]:
    return {
        "GroupId": group_id,
        "VpcId": "vpc-1",
        "IpPermissions": ingress or [],
        "IpPermissionsEgress": extra.pop("egress", EGRESS_ALL),
        **extra,
    }


def from_group(port: int, source: str) -> Dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "UserIdGroupPairs": [{"GroupId": source}],
    }


def endpoint(service: str = "logs", **overrides: Any) -> Dict[str, Any]:
    data = {
        "VpcEndpointId": f"vpce-{service}",
        "VpcEndpointType": "Interface",
        "VpcId": "vpc-1",
        "ServiceName": f"com.amazonaws.{REGION}.{service}",
        "State": "available",
        "PrivateDnsEnabled": True,
        "SubnetIds": ["subnet-a", "subnet-b"],
        "Groups": [{"GroupId": "sg-vpce"}],
    }
    data.update(overrides)
    return data


GROUPS = {"sg-emr": sg("sg-emr"), "sg-vpce": sg("sg-vpce", [from_group(443, "sg-emr")])}


def jar(entries: Dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


PGJDBC = {
    "org/postgresql/Driver.class": "x",
    "META-INF/services/java.sql.Driver": "org.postgresql.Driver\n",
    "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nBundle-Version: 42.7.13\n",
}


# --- result model and output -----------------------------------------------------------------


def test_check_result_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="status"):
        CheckResult("x", "ok", "evidence")


def test_passed_ignores_warnings_and_skips() -> None:
    assert passed(
        [CheckResult("a", "pass", ""), CheckResult("b", "warn", ""), CheckResult("c", "skip", "")]
    )
    assert not passed([CheckResult("a", "pass", ""), CheckResult("b", "fail", "", "fix it")])


def test_render_table_and_json() -> None:
    results = [
        CheckResult("settings", "pass", "settings.json: valid", ref="settings"),
        CheckResult(
            "endpoint-logs",
            "fail",
            "no endpoint",
            "Verify CloudWatch Logs VPC endpoint",
            "cloudwatch-logs-timeout",
        ),
    ]
    table = render_table(results)
    assert table.splitlines()[0].split() == ["STATUS", "CHECK", "EVIDENCE"]
    assert "FAIL   endpoint-logs" in table
    assert "fix: Verify CloudWatch Logs VPC endpoint" in table
    assert table.endswith("FAILED: 1 passed, 0 warnings, 1 failed, 0 skipped")
    report = json.loads(render_json(results))
    assert report["ok"] is False
    assert report["summary"] == {"pass": 1, "warn": 0, "fail": 1, "skip": 0}
    assert report["checks"][1] == {
        "name": "endpoint-logs",
        "status": "fail",
        "evidence": "no endpoint",
        "fix": "Verify CloudWatch Logs VPC endpoint",
        "ref": "cloudwatch-logs-timeout",
    }
    assert results[1].doc == "docs/troubleshooting.md#cloudwatch-logs-timeout"


# --- settings and JAR ------------------------------------------------------------------------


def test_settings_content_needs_both_application_ids_and_a_connection() -> None:
    settings = settings_from_dict({"spark": {"emr_application_id": "a"}}, source="s.json")
    apps, connections = evaluate_settings_content(settings)
    assert apps.status == "fail" and "emr_postgres_application_id" in apps.fix
    assert connections.status == "fail"


def test_jar_is_pgjdbc_with_version() -> None:
    result = evaluate_jar(jar(PGJDBC), "s3://b/pg.jar")
    assert result.status == "pass"
    assert "version 42.7.13" in result.evidence


def test_old_jar_warns_about_cves() -> None:
    old = dict(PGJDBC, **{"META-INF/MANIFEST.MF": "Implementation-Version: 42.7.8\n"})
    result = evaluate_jar(jar(old), "s3://b/pg.jar")
    assert result.status == "warn"
    assert "42.7.12" in result.evidence


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"not a zip", "is not a JAR"),
        (jar({"com/example/Other.class": "x"}), "no org/postgresql/Driver.class"),
        (
            jar({"org/postgresql/Driver.class": "x"}),
            "META-INF/services/java.sql.Driver does not name org.postgresql.Driver",
        ),
    ],
)
def test_jar_that_is_not_pgjdbc_fails_with_the_fix(data: bytes, needle: str) -> None:
    result = evaluate_jar(data, "s3://b/pg.jar")
    assert result.status == "fail"
    assert needle in result.evidence
    assert "ClassNotFoundException: org.postgresql.Driver" in result.evidence
    assert result.fix.startswith("Verify JDBC JAR exists in S3")


# --- IAM -------------------------------------------------------------------------------------


def test_simulation_results() -> None:
    allowed = decision_from_simulation(
        [
            {
                "EvalActionName": "secretsmanager:GetSecretValue",
                "EvalResourceName": SECRET,
                "EvalDecision": "allowed",
                "MatchedStatements": [{"SourcePolicyId": "EMRSecretsManagerPolicy"}],
            }
        ]
    )
    assert allowed.allowed and allowed.matched == ("EMRSecretsManagerPolicy",)
    denied = decision_from_simulation(
        [{"EvalActionName": "a", "EvalResourceName": "r", "EvalDecision": "explicitDeny"}]
    )
    result = evaluate_role_permission(
        "role-secret:aurora",
        "arn:aws:iam::1:role/R",
        denied,
        "IAM policy simulation",
        "the fix",
        "secrets-manager-access-denied",
    )
    assert result.status == "fail" and "explicit-deny" in result.evidence
    assert "[evidence: IAM policy simulation]" in result.evidence


# --- applications ----------------------------------------------------------------------------


def application(**overrides: Any) -> Dict[str, Any]:
    data = {
        "applicationId": "00g0oddl52n83r09",
        "name": "spark-postgres-interpreter-app",
        "state": "CREATED",
        "type": "Spark",
        "releaseLabel": "emr-7.0.0",
        "architecture": "X86_64",
        "networkConfiguration": {"subnetIds": ["subnet-a"], "securityGroupIds": ["sg-emr"]},
        "autoStartConfiguration": {"enabled": True},
    }
    data.update(overrides)
    return data


def test_application_states() -> None:
    assert evaluate_application("app-postgres", application(), needs_network=True).status == "pass"
    no_vpc = evaluate_application(
        "app-postgres", application(networkConfiguration=None), needs_network=True
    )
    assert no_vpc.status == "fail"
    assert "EMR Serverless application created with VPC configuration" in no_vpc.fix
    assert (
        evaluate_application(
            "app-default", application(networkConfiguration=None), needs_network=False
        ).status
        == "pass"
    )
    assert (
        evaluate_application("a", application(state="TERMINATED"), needs_network=False).status
        == "fail"
    )
    assert evaluate_application("a", application(type="Hive"), needs_network=False).status == "fail"
    no_autostart = application(state="STOPPED", autoStartConfiguration={"enabled": False})
    assert evaluate_application("a", no_autostart, needs_network=False).status == "warn"


# --- network ---------------------------------------------------------------------------------


def test_find_rule_by_group_cidr_and_port_range() -> None:
    by_cidr = sg(
        "sg-db",
        [
            {
                "IpProtocol": "tcp",
                "FromPort": 5000,
                "ToPort": 6000,
                "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
            }
        ],
    )
    assert (
        find_rule([by_cidr], 5432, ["sg-other"], APP.cidrs)
        == "sg-db inbound tcp/5432 from 10.0.0.0/16"
    )
    assert find_rule([by_cidr], 443, ["sg-emr"], APP.cidrs) is None
    narrow = sg(
        "sg-db",
        [
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "IpRanges": [{"CidrIp": "10.0.1.0/24"}],
            }
        ],
    )
    assert find_rule([narrow], 5432, [], APP.cidrs) is None  # subnet-b is not covered
    udp = sg(
        "sg-db",
        [
            {
                "IpProtocol": "udp",
                "FromPort": 0,
                "ToPort": 65535,
                "UserIdGroupPairs": [{"GroupId": "sg-emr"}],
            }
        ],
    )
    assert find_rule([udp], 5432, ["sg-emr"], []) is None
    assert (
        find_rule([sg("sg-emr")], 443, [], ["10.0.1.0/24"], egress=True)
        == "sg-emr outbound all traffic to 0.0.0.0/0"
    )


def test_interface_endpoint_healthy() -> None:
    result = evaluate_interface_endpoint("logs", REGION, APP, [endpoint()], GROUPS, SUBNETS, {})
    assert result.status == "pass", result
    assert "sg-vpce inbound tcp/443 from sg-emr" in result.evidence


@pytest.mark.parametrize(
    ("endpoints", "groups", "status", "evidence", "fix"),
    [
        (
            [],
            GROUPS,
            "fail",
            "no com.amazonaws.us-east-1.logs interface endpoint",
            "Verify CloudWatch Logs VPC endpoint exists and is available",
        ),
        (
            [endpoint(State="pending")],
            GROUPS,
            "fail",
            "state is pending",
            "Verify CloudWatch Logs VPC endpoint exists and is available",
        ),
        ([endpoint(State="Failed")], GROUPS, "fail", "state is Failed", "recreate"),
        (
            [endpoint(PrivateDnsEnabled=False)],
            GROUPS,
            "fail",
            "private DNS is off",
            "--private-dns-enabled",
        ),
        (
            [endpoint(VpcId="vpc-other")],
            GROUPS,
            "fail",
            "no com.amazonaws.us-east-1.logs",
            "create-vpc-endpoint",
        ),
        (
            [endpoint(SubnetIds=["subnet-a"])],
            GROUPS,
            "warn",
            "no endpoint network interface in us-east-1b",
            "--add-subnet-ids subnet-b",
        ),
        (
            [endpoint()],
            dict(GROUPS, **{"sg-vpce": sg("sg-vpce")}),
            "fail",
            "do not admit HTTPS",
            "Check security group allows traffic to VPC endpoint",
        ),
        (
            [endpoint()],
            dict(GROUPS, **{"sg-emr": sg("sg-emr", egress=[])}),
            "fail",
            "do not let HTTPS out",
            "authorize-security-group-egress",
        ),
    ],
)
def test_interface_endpoint_problems(
    endpoints: List[Dict[str, Any]], groups: Dict[str, Any], status: str, evidence: str, fix: str
) -> None:
    result = evaluate_interface_endpoint("logs", REGION, APP, endpoints, groups, SUBNETS, {})
    assert result.status == status, result
    assert evidence in result.evidence
    assert fix in result.fix
    assert result.ref == "cloudwatch-logs-timeout"


def test_secretsmanager_endpoint_missing_points_at_the_secrets_entry() -> None:
    result = evaluate_interface_endpoint("secretsmanager", REGION, APP, [], GROUPS, SUBNETS, {})
    assert result.status == "fail" and result.ref == "secrets-manager-access-denied"
    assert result.fix.startswith("Ensure Secrets Manager VPC endpoint exists")


def test_missing_endpoint_with_nat_everywhere_is_a_warning() -> None:
    nat = {"subnet-a": "NAT gateway nat-1", "subnet-b": "NAT gateway nat-1"}
    result = evaluate_interface_endpoint("logs", REGION, APP, [], GROUPS, SUBNETS, nat)
    assert result.status == "warn" and "(NAT gateway nat-1)" in result.evidence
    half = evaluate_interface_endpoint(
        "logs", REGION, APP, [], GROUPS, SUBNETS, {"subnet-a": "NAT gateway nat-1"}
    )
    assert half.status == "fail"


ROUTES = [
    {"RouteTableId": "rtb-main", "Associations": [{"Main": True}], "Routes": []},
    {
        "RouteTableId": "rtb-private",
        "Associations": [{"SubnetId": "subnet-a"}],
        "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}],
    },
]


def test_route_table_for_subnet_falls_back_to_main() -> None:
    assert route_table_for("subnet-a", ROUTES)["RouteTableId"] == "rtb-private"  # type: ignore[index]
    assert route_table_for("subnet-b", ROUTES)["RouteTableId"] == "rtb-main"  # type: ignore[index]


def test_s3_reachability() -> None:
    gateway = endpoint(
        "s3", VpcEndpointType="Gateway", RouteTableIds=["rtb-main"], VpcEndpointId="vpce-s3"
    )
    ok = evaluate_s3_reachability(REGION, APP, [gateway], ROUTES)
    assert ok.status == "pass"
    assert "subnet-a: route table rtb-private -> NAT gateway nat-1" in ok.evidence
    assert "subnet-b: route table rtb-main -> gateway endpoint vpce-s3" in ok.evidence
    missing = evaluate_s3_reachability(REGION, APP, [], ROUTES)
    assert missing.status == "fail" and "subnet-b (route table rtb-main)" in missing.evidence
    assert "--vpc-endpoint-type Gateway" in missing.fix and "rtb-main" in missing.fix
    elsewhere = dict(gateway, RouteTableIds=["rtb-other"])
    assert (
        "modify-vpc-endpoint --vpc-endpoint-id vpce-s3 --add-route-table-ids"
        in evaluate_s3_reachability(REGION, APP, [elsewhere], ROUTES).fix
    )


CLUSTER = {
    "DBClusterIdentifier": "pg-database",
    "Endpoint": "pg-database.cluster-c8lobwtocefp.us-east-1.rds.amazonaws.com",
    "ReaderEndpoint": "pg-database.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com",
    "Port": 5432,
    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-db"}],
}


def test_find_database_by_cluster_reader_or_instance_endpoint() -> None:
    host = "PG-DATABASE.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com"
    assert find_database(host, [CLUSTER], []) == ("cluster pg-database", ["sg-db"], 5432)
    instance = {
        "DBInstanceIdentifier": "pg-1",
        "Endpoint": {"Address": "pg-1.abc.us-east-1.rds.amazonaws.com", "Port": 5433},
        "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-i"}],
    }
    assert find_database("pg-1.abc.us-east-1.rds.amazonaws.com", [CLUSTER], [instance]) == (
        "instance pg-1",
        ["sg-i"],
        5433,
    )
    assert find_database("other.rds.amazonaws.com", [CLUSTER], [instance]) is None
    assert is_rds_host(host) and not is_rds_host("db.internal.example.com")


def test_database_ingress() -> None:
    host = str(CLUSTER["ReaderEndpoint"])
    database = find_database(host, [CLUSTER], [])
    open_db = dict(GROUPS, **{"sg-db": sg("sg-db", [from_group(5432, "sg-emr")])})
    ok = evaluate_database_ingress("aurora", host, 5432, database, APP, open_db, ["10.0.0.0/16"])
    assert ok.status == "pass" and "sg-db inbound tcp/5432 from sg-emr" in ok.evidence
    closed = dict(GROUPS, **{"sg-db": sg("sg-db")})
    failed = evaluate_database_ingress("aurora", host, 5432, database, APP, closed, ["10.0.0.0/16"])
    assert failed.status == "fail" and failed.ref == "postgresql-connection-timeout"
    assert failed.fix == (
        "Verify RDS security group allows inbound from EMR security group "
        "(docs/troubleshooting.md#postgresql-connection-timeout): aws ec2 "
        "authorize-security-group-ingress --group-id sg-db --protocol tcp --port 5432 --source-group sg-emr"
    )
    other_port = evaluate_database_ingress(
        "aurora", host, 5433, database, APP, open_db, ["10.0.0.0/16"]
    )
    assert other_port.status == "fail"  # the rule admits 5432, the connection uses 5433
    unknown = evaluate_database_ingress("aurora", host, 5432, None, APP, open_db, [])
    assert unknown.status == "warn"
    other_vpc = dict(open_db, **{"sg-db": sg("sg-db", [from_group(5432, "sg-emr")], VpcId="vpc-2")})
    assert (
        evaluate_database_ingress("aurora", host, 5432, database, APP, other_vpc, []).status
        == "warn"
    )


# --- probe -----------------------------------------------------------------------------------


def test_probe_output_round_trip_and_evaluation() -> None:
    lines = "noise\n" + "\n".join(
        p.to_line()
        for p in (
            ConnectionProbe("aurora", True, "connect", "connected"),
            ConnectionProbe(
                "reporting", False, "connect", "java.net.SocketTimeoutException: connect timed out"
            ),
        )
    )
    probes = parse_probe_output(lines + "\nSPARKPG-PROBE {broken")
    assert set(probes) == {"aurora", "reporting"}
    results = evaluate_probe(
        "run r", "FAILED", "", ["aurora", "reporting", "third"], lines, None, "s3://logs/stdout.gz"
    )
    assert [r.status for r in results] == ["pass", "fail", "fail"]
    assert "Verify RDS security group allows inbound from EMR security group" in results[1].fix
    assert "ended FAILED before probing third" in results[2].evidence


def test_probe_without_output_uses_driver_stderr() -> None:
    stderr = 'INFO start\nException in thread "main" java.lang.ClassNotFoundException: org.postgresql.Driver\n\tat x.y\n'
    [result] = evaluate_probe(
        "run r", "FAILED", "Job failed", ["aurora"], "", stderr, "cloudwatch:/aws/emr-serverless:s"
    )
    assert result.status == "fail"
    assert "java.lang.ClassNotFoundException: org.postgresql.Driver" in result.evidence
    assert result.fix.startswith("Ensure `jdbc_driver_path` is configured in backend settings")
    [silent] = evaluate_probe("run r", "SUCCESS", "", ["aurora"], "hello", None, "")
    assert silent.status == "fail" and "no probe line" in silent.evidence


@pytest.mark.parametrize(
    ("error", "anchor"),
    [
        (
            "com.amazonaws...AccessDeniedException: not authorized to GetSecretValue",
            "secrets-manager-access-denied",
        ),
        ("Connect to logs.us-east-1.amazonaws.com:443 timed out", "cloudwatch-logs-timeout"),
        ("FATAL: password authentication failed for user spark (28P01)", "credentials"),
        ("java.net.SocketTimeoutException: connect timed out", "postgresql-connection-timeout"),
        ("java.lang.ClassNotFoundException: org.postgresql.Driver", "jdbc-driver-not-found"),
    ],
)
def test_fix_for_error_points_at_the_troubleshooting_entry(error: str, anchor: str) -> None:
    fix = fix_for_error(error)
    assert f"docs/troubleshooting.md#{anchor}" in fix
    assert "seed" not in fix


def test_every_doc_reference_is_an_anchor_of_the_troubleshooting_page() -> None:
    page = (REPO / "docs" / "troubleshooting.md").read_text()
    anchors = set(re.findall(r'<a id="([a-z-]+)"></a>', page))
    cited = set()
    for module in (REPO / "diagnostics").glob("*.py"):
        cited |= set(re.findall(r"troubleshooting\.md#([a-z-]+)", module.read_text()))
    for module in (REPO / "connectors").glob("*.py"):
        cited |= set(re.findall(r"troubleshooting\.md#([a-z-]+)", module.read_text()))
    assert cited and cited <= anchors, cited - anchors


def test_cli_reports_invalid_settings_without_aws(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from entrypoints.cli import main
    from entrypoints.errors import EXIT_CHECKS_FAILED

    code = main(["doctor", "--settings", str(tmp_path / "missing.json"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == EXIT_CHECKS_FAILED
    assert [(c["name"], c["status"]) for c in report["checks"]] == [("settings", "fail")]
    assert "settings file not found" in report["checks"][0]["evidence"]
