"""The pure IAM policy evaluator (diagnostics/policy.py) and the role checks built on it."""

from __future__ import annotations

import json
from urllib.parse import quote

from diagnostics.iam import evaluate_role_permission, evaluate_trust
from diagnostics.policy import evaluate_policies, matches, trust_allows_service
from tests.unit.diagnostics.doctor_data import SECRET, SECRETS_POLICY


def test_policy_wildcards_and_case() -> None:
    assert matches("secretsmanager:Get*", "SecretsManager:GetSecretValue", case_sensitive=False)
    assert not matches("arn:aws:s3:::b/jars/*", "arn:aws:s3:::b/other.jar")
    assert matches(
        "arn:aws:s3:::b/jars/postgresql-42.7.?.jar", "arn:aws:s3:::b/jars/postgresql-42.7.8.jar"
    )


def test_secrets_manager_policy_allows_the_secret() -> None:
    decision = evaluate_policies(
        [("EMRSecretsManagerPolicy", SECRETS_POLICY)], "secretsmanager:GetSecretValue", SECRET
    )
    assert decision.allowed and decision.matched == ("EMRSecretsManagerPolicy/#0",)


def test_policy_documents_url_encoded_strings_are_read() -> None:

    decision = evaluate_policies(
        [("p", quote(json.dumps(SECRETS_POLICY)))], "secretsmanager:GetSecretValue", SECRET
    )
    assert decision.allowed


def test_explicit_deny_wins_and_other_secrets_are_implicitly_denied() -> None:
    deny = {"Statement": [{"Effect": "Deny", "Action": "secretsmanager:*", "Resource": "*"}]}
    assert (
        evaluate_policies(
            [("a", SECRETS_POLICY), ("d", deny)], "secretsmanager:GetSecretValue", SECRET
        ).decision
        == "explicit-deny"
    )
    other = "arn:aws:secretsmanager:us-east-1:1:secret:prod/db-xyz"
    assert (
        evaluate_policies([("a", SECRETS_POLICY)], "secretsmanager:GetSecretValue", other).decision
        == "implicit-deny"
    )


def test_not_action_and_conditions() -> None:
    admin_but = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert evaluate_policies([("p", admin_but)], "s3:GetObject", "arn:aws:s3:::b/k").allowed
    conditional = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}},
            }
        ]
    }
    decision = evaluate_policies([("p", conditional)], "s3:GetObject", "arn:aws:s3:::b/k")
    assert decision.allowed and decision.conditional
    result = evaluate_role_permission(
        "role-jar",
        "arn:aws:iam::1:role/R",
        decision,
        "policy documents",
        "fix",
        "jdbc-driver-not-found",
    )
    assert result.status == "warn"


def test_trust_policy() -> None:
    role = {
        "Arn": "arn:aws:iam::1:role/R",
        "RoleName": "R",
        "AssumeRolePolicyDocument": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["emr-serverless.amazonaws.com"]},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": {"StringEquals": {"aws:SourceAccount": "1"}},
                }
            ]
        },
    }
    result = evaluate_trust(role)
    assert result.status == "pass" and "StringEquals aws:SourceAccount" in result.evidence
    ec2 = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
    }
    failed = evaluate_trust(dict(role, AssumeRolePolicyDocument=ec2))
    assert failed.status == "fail"
    assert "trusts: ec2.amazonaws.com" in failed.evidence
    assert failed.fix.startswith("aws iam update-assume-role-policy --role-name R")
    assert trust_allows_service({"Statement": []}, "emr-serverless.amazonaws.com")[0] is False
