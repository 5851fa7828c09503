"""The pure parts of the doctor's IAM database authentication checks (diagnostics/iam_auth.py)."""

from __future__ import annotations

import json
import shlex

import pytest

from connectors.iam import IamSigning
from diagnostics.databases import find_cluster
from diagnostics.iam_auth import (
    dbuser_arn,
    evaluate_iam_auth_enabled,
    evaluate_tls,
    rds_connect_policy_fix,
)

HOST = "pg-database.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com"
SIGNING = IamSigning(HOST, 5432, "us-east-1", "spark_reader")
CLUSTER = {
    "DBClusterIdentifier": "pg-database",
    "DBClusterArn": "arn:aws-cn:rds:cn-north-1:260005718447:cluster:pg-database",
    "DbClusterResourceId": "cluster-ABCDEFGHIJKL01234",
    "Endpoint": "pg-database.cluster-c8lobwtocefp.us-east-1.rds.amazonaws.com",
    "ReaderEndpoint": HOST,
    "CustomEndpoints": ["analytics.cluster-custom-c8lobwtocefp.us-east-1.rds.amazonaws.com"],
    "IAMDatabaseAuthenticationEnabled": True,
}


def test_dbuser_arn_takes_partition_region_and_account_from_the_cluster_arn() -> None:
    assert dbuser_arn(CLUSTER, "spark_reader") == (
        "arn:aws-cn:rds-db:cn-north-1:260005718447:dbuser:cluster-ABCDEFGHIJKL01234/spark_reader"
    )


@pytest.mark.parametrize("host", [HOST, CLUSTER["Endpoint"], CLUSTER["CustomEndpoints"][0]])
def test_find_cluster_by_any_of_its_endpoints(host: str) -> None:
    assert find_cluster(host.upper() + ".", [{"Endpoint": "other"}, CLUSTER]) is CLUSTER
    assert find_cluster("other.example.com", [CLUSTER]) is None


def test_iam_auth_enabled_passes() -> None:
    result = evaluate_iam_auth_enabled("aurora", SIGNING, CLUSTER)
    assert (result.name, result.status, result.fix) == ("iam-auth-enabled:aurora", "pass", "")
    assert result.evidence == f"{HOST} is cluster pg-database: IAM database authentication enabled"


def test_iam_auth_off_fails_with_the_modify_command() -> None:
    result = evaluate_iam_auth_enabled(
        "aurora", SIGNING, {**CLUSTER, "IAMDatabaseAuthenticationEnabled": False}
    )
    assert result.status == "fail"
    assert "IAM database authentication is off" in result.evidence
    assert result.fix == (
        "aws rds modify-db-cluster --db-cluster-identifier pg-database "
        "--enable-iam-database-authentication --apply-immediately "
        "(docs/troubleshooting.md#iam-database-auth)"
    )
    assert result.doc == "docs/troubleshooting.md#iam-database-auth"


def test_no_cluster_at_the_endpoint_is_a_warning_naming_it() -> None:
    result = evaluate_iam_auth_enabled("aurora", SIGNING, None)
    assert result.status == "warn"
    assert f"no DB cluster in this account and region answers at {HOST}" in result.evidence
    assert "us-east-1" in result.fix


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        ("verify-full", "pass"),
        ("verify-ca", "warn"),
        ("require", "warn"),
        ("prefer", "fail"),
        ("disable", "fail"),
    ],
)
def test_tls(mode: str, status: str) -> None:
    result = evaluate_tls("aurora", mode)
    assert (result.name, result.status) == ("iam-tls:aurora", status)
    assert f"sslmode={mode}" in result.evidence
    if status != "pass":
        assert '"ssl_mode": "verify-full"' in result.fix and "ssl_root_cert" in result.fix


def test_rds_connect_fix_adds_a_policy_of_sparkpgs_own() -> None:
    resource = dbuser_arn(CLUSTER, "spark_reader")
    fix = rds_connect_policy_fix(
        "arn:aws:iam::260005718447:role/service/EMRServerlessExecutionRole", resource, "aurora"
    )
    argv = shlex.split(fix.split(" (docs/")[0])
    assert argv[:7] == [
        "aws",
        "iam",
        "put-role-policy",
        "--role-name",
        "EMRServerlessExecutionRole",
        "--policy-name",
        "sparkpg-doctor-rds-connect-aurora",
    ]
    assert argv[7] == "--policy-document"
    assert json.loads(argv[8]) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "rds-db:connect", "Resource": resource}],
    }
