"""``sparkpg doctor`` for a connection with ``auth_method: "iam"``, on the moto server.

The healthy deployment of tests/diagnostics/environment.py with its connection switched to IAM
(the way docs/auth.md describes): the cluster's IAM database authentication, the role's
``rds-db:connect`` and the connection's TLS are checked; the printed fixes are run with the AWS
CLI and leave the role's own policies as they were.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

from entrypoints.cli import main
from entrypoints.errors import EXIT_CHECKS_FAILED, EXIT_OK
from tests.diagnostics.environment import ACCOUNT, REGION, ROLE_NAME, Environment, build_healthy
from tests.diagnostics.test_doctor_note_account import commands, run_aws
from tests.note_account import inline_policies

USER = "spark_reader"


def switch_to_iam(env: Environment, **fields: Any) -> None:
    """The settings' connection as docs/auth.md switches it: no secret, a user, verify-full."""
    settings = json.loads(json.dumps(env.settings))
    connection = settings["postgres"]["connections"][0]
    connection.pop("secret_arn", None)
    connection.update(
        {
            "auth_method": "iam",
            "username": USER,
            "ssl_mode": "verify-full",
            "ssl_root_cert": "/etc/pki/rds/global-bundle.pem",
            **fields,
        }
    )
    env.write_settings(settings)


def cluster(env: Environment) -> Dict[str, Any]:
    return dict(env.client("rds").describe_db_clusters()["DBClusters"][0])


def dbuser_arn(env: Environment) -> str:
    resource_id = cluster(env)["DbClusterResourceId"]
    return f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:{resource_id}/{USER}"


def grant_connect(env: Environment) -> None:
    env.client("iam").put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="RdsConnect",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "rds-db:connect", "Resource": dbuser_arn(env)}
                ],
            }
        ),
    )


def enable_iam_auth(env: Environment) -> None:
    env.client("rds").modify_db_cluster(
        DBClusterIdentifier="pg-database",
        EnableIAMDatabaseAuthentication=True,
        ApplyImmediately=True,
    )


def doctor(env: Environment, capsys: pytest.CaptureFixture[str]) -> tuple[int, Dict[str, Any]]:
    capsys.readouterr()
    code = main(
        ["doctor", "--settings", str(env.settings_path), "--role-arn", env.role_arn, "--json"]
    )
    report = json.loads(capsys.readouterr().out)
    return code, {check["name"]: check for check in report["checks"]}


@pytest.fixture
def iam_env(moto_env: str, tmp_path: Path) -> Environment:
    """The healthy deployment with its connection switched to IAM; nothing granted or enabled."""
    env = build_healthy(moto_env, tmp_path)
    switch_to_iam(env)
    return env


@pytest.fixture
def ready(iam_env: Environment) -> Environment:
    """:func:`iam_env` with IAM authentication on the cluster and rds-db:connect for the user."""
    enable_iam_auth(iam_env)
    grant_connect(iam_env)
    return iam_env


def test_healthy_iam_connection_passes_without_reading_a_secret(
    ready: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = doctor(ready, capsys)
    assert code == EXIT_OK, checks
    assert {c["status"] for c in checks.values()} == {"pass"}, checks
    # No secret step for an IAM connection (it has none; a stand-in would warn).
    assert not [name for name in checks if name.startswith(("secret:", "role-secret:"))]
    names = list(checks)
    assert names[names.index("role-jar") + 1 : names.index("role-jar") + 4] == [
        "iam-auth-enabled:aurora",
        "role-rds-connect:aurora",
        "iam-tls:aurora",
    ]
    assert checks["settings-connections"]["evidence"] == f"enabled: aurora (iam-token:{USER})"
    assert checks["iam-auth-enabled:aurora"]["evidence"] == (
        f"{ready.db_host} is cluster pg-database: IAM database authentication enabled"
    )
    connect = checks["role-rds-connect:aurora"]["evidence"]
    assert f"rds-db:connect on {dbuser_arn(ready)}: allowed by inline RdsConnect/#0" in connect
    assert "simulation unavailable (NotImplemented)" in connect
    assert checks["db-ingress:aurora"]["status"] == "pass"


def test_iam_auth_off_fails_and_the_printed_command_turns_it_on(
    iam_env: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    grant_connect(iam_env)
    code, checks = doctor(iam_env, capsys)
    check = checks["iam-auth-enabled:aurora"]
    assert code == EXIT_CHECKS_FAILED
    assert check["status"] == "fail", check
    assert "IAM database authentication is off" in check["evidence"]
    assert check["fix"].startswith(
        "aws rds modify-db-cluster --db-cluster-identifier pg-database "
        "--enable-iam-database-authentication --apply-immediately"
    )
    assert [n for n, c in checks.items() if c["status"] == "fail"] == ["iam-auth-enabled:aurora"]
    # The AWS CLI v1 sends rds commands to rds.amazonaws.com unless told the endpoint itself.
    argv = check["fix"].split(" (")[0].split()
    run_aws(iam_env, [*argv, "--endpoint-url", iam_env.endpoint_url])
    assert cluster(iam_env)["IAMDatabaseAuthenticationEnabled"] is True
    code, checks = doctor(iam_env, capsys)
    assert code == EXIT_OK, checks


def test_missing_rds_connect_fails_and_the_fix_keeps_the_roles_own_policies(
    iam_env: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    enable_iam_auth(iam_env)
    iam = iam_env.client("iam")
    before = inline_policies(iam)
    _, checks = doctor(iam_env, capsys)
    check = checks["role-rds-connect:aurora"]
    assert check["status"] == "fail", check
    assert f"rds-db:connect on {dbuser_arn(iam_env)}: implicit-deny" in check["evidence"]
    (argv,) = commands(check["fix"])
    assert argv[:7] == [
        "aws",
        "iam",
        "put-role-policy",
        "--role-name",
        ROLE_NAME,
        "--policy-name",
        "sparkpg-doctor-rds-connect-aurora",
    ]
    run_aws(iam_env, argv)
    after = inline_policies(iam)
    assert {k: v for k, v in after.items() if k in before} == before
    assert after["sparkpg-doctor-rds-connect-aurora"] == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "rds-db:connect", "Resource": dbuser_arn(iam_env)}
        ],
    }
    assert doctor(iam_env, capsys)[1]["role-rds-connect:aurora"]["status"] == "pass"


def test_connect_for_another_user_is_not_enough(
    ready: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    switch_to_iam(ready, username="spark_writer")
    check = doctor(ready, capsys)[1]["role-rds-connect:aurora"]
    assert check["status"] == "fail", check
    assert "/spark_writer: implicit-deny" in check["evidence"]


def test_sslmode_require_is_a_warning(
    ready: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    switch_to_iam(ready, ssl_mode="require")
    code, checks = doctor(ready, capsys)
    check = checks["iam-tls:aurora"]
    assert code == EXIT_OK
    assert check["status"] == "warn", check
    assert "sslmode=require" in check["evidence"]
    assert '"ssl_mode": "verify-full"' in check["fix"]


def test_a_tunnel_is_looked_up_by_the_endpoint_the_tokens_are_signed_for(
    ready: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    switch_to_iam(ready, host="localhost", port=15432, iam_host=ready.db_host, iam_port=5432)
    checks = doctor(ready, capsys)[1]
    assert checks["iam-auth-enabled:aurora"]["status"] == "pass", checks
    assert checks["role-rds-connect:aurora"]["status"] == "pass", checks


def test_an_endpoint_no_cluster_answers_at_is_a_warning(
    iam_env: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "other.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com"
    switch_to_iam(iam_env, host=other)
    checks = doctor(iam_env, capsys)[1]
    assert checks["iam-auth-enabled:aurora"]["status"] == "warn"
    assert (
        f"no DB cluster in this account and region answers at {other}"
        in (checks["iam-auth-enabled:aurora"]["evidence"])
    )
    assert checks["role-rds-connect:aurora"]["status"] == "skip"
