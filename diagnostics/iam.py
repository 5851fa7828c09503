"""The execution role checks: it trusts EMR Serverless and may read each secret and the JAR.

Permissions come from ``iam:SimulatePrincipalPolicy`` where the caller may use it, else from the
role's own policy documents (:mod:`diagnostics.policy`); every result says which evidence it used.
"""

from __future__ import annotations

import json
import logging
from typing import Any, List, Mapping, Sequence, Tuple, Union

from connectors.errors import AwsRequestError
from diagnostics.context import DoctorContext, lookup_failed
from diagnostics.policy import (
    PolicyDecision,
    evaluate_policies,
    parse_document,
    trust_allows_service,
)
from diagnostics.results import FAIL, PASS, WARN, CheckResult

logger = logging.getLogger(__name__)

EMR_SERVERLESS_PRINCIPAL = "emr-serverless.amazonaws.com"

FIX_SECRETS_POLICY = "Verify EMR execution role has `EMRSecretsManagerPolicy`"

# The inline policies the doctor's fixes create. PutRolePolicy replaces a policy of the same name,
# so a fix never names a policy the role may already have (the infrastructure note's role has its
# own EMRServerlessS3Policy and EMRSecretsManagerPolicy): only names of sparkpg's own, one per
# thing granted, so a second fix does not undo the first.
FIX_POLICY_PREFIX = "sparkpg-doctor-"


def fix_policy_name(purpose: str) -> str:
    """The name of the inline policy a fix adds, e.g. ``sparkpg-doctor-secret-aurora``."""
    return f"{FIX_POLICY_PREFIX}{purpose}"[:128]


def role_name_from_arn(role_arn: str) -> str:
    """``arn:aws:iam::1:role/path/Name`` -> ``Name``."""
    return role_arn.rsplit("/", 1)[-1]


def evaluate_trust(role: Mapping[str, Any]) -> CheckResult:
    """The execution role trusts EMR Serverless (docs/troubleshooting.md#execution-role)."""
    arn = role.get("Arn", role.get("RoleName", "?"))
    trusted, evidence = trust_allows_service(
        role.get("AssumeRolePolicyDocument") or {}, EMR_SERVERLESS_PRINCIPAL
    )
    if trusted:
        return CheckResult("role-trust", PASS, f"{arn}: {evidence}", ref="execution-role")
    # UpdateAssumeRolePolicy replaces the whole trust policy: the fix keeps the role's own
    # statements and adds one for EMR Serverless.
    current = parse_document(role.get("AssumeRolePolicyDocument") or {})
    statements = current.get("Statement") or []
    if isinstance(statements, Mapping):
        statements = [statements]
    trust = json.dumps(
        {
            "Version": current.get("Version", "2012-10-17"),
            "Statement": [
                *statements,
                {
                    "Effect": "Allow",
                    "Principal": {"Service": EMR_SERVERLESS_PRINCIPAL},
                    "Action": "sts:AssumeRole",
                },
            ],
        },
        separators=(",", ":"),
    )
    return CheckResult(
        "role-trust",
        FAIL,
        f"{arn}: {evidence}; EMR Serverless cannot run jobs as this role",
        f"aws iam update-assume-role-policy --role-name {role.get('RoleName', role_name_from_arn(str(arn)))} "
        f"--policy-document '{trust}'",
        "execution-role",
    )


def decision_from_simulation(results: Sequence[Mapping[str, Any]]) -> PolicyDecision:
    """Turn iam:SimulatePrincipalPolicy EvaluationResults (one action, one resource) into a decision."""
    if not results:
        return PolicyDecision("?", "?", "implicit-deny", notes=("no evaluation result",))
    result = results[0]
    raw = str(result.get("EvalDecision", "implicitDeny"))
    decision = {"allowed": "allowed", "explicitDeny": "explicit-deny"}.get(raw, "implicit-deny")
    matched = tuple(
        str(s.get("SourcePolicyId") or s.get("SourcePolicyType") or "?")
        for s in result.get("MatchedStatements", [])
    )
    missing = result.get("MissingContextValues") or []
    notes = (f"context keys not supplied: {', '.join(missing)}",) if missing else ()
    return PolicyDecision(
        str(result.get("EvalActionName", "?")),
        str(result.get("EvalResourceName", "?")),
        decision,
        matched,
        conditional=bool(missing),
        notes=notes,
    )


def evaluate_role_permission(
    name: str,
    role_arn: str,
    decision: PolicyDecision,
    method: str,
    fix: str,
    ref: str,
) -> CheckResult:
    """A permission check's result from a decision; ``method`` says which evidence was used."""
    subject = f"{role_name_from_arn(role_arn)} {decision.action} on {decision.resource}"
    by = f" by {', '.join(decision.matched)}" if decision.matched else ""
    notes = f"; {'; '.join(decision.notes)}" if decision.notes else ""
    evidence = f"{subject}: {decision.decision}{by} [evidence: {method}]{notes}"
    if decision.allowed:
        if decision.conditional:
            return CheckResult(name, WARN, f"{evidence}; allowed only under conditions", fix, ref)
        return CheckResult(name, PASS, evidence, ref=ref)
    return CheckResult(name, FAIL, evidence, fix, ref)


def inline_policy_command(
    role_arn: str, purpose: str, action: Union[str, List[str]], resource: str
) -> str:
    """``aws iam put-role-policy`` adding an inline policy of sparkpg's own (``sparkpg-doctor-<purpose>``)
    that allows ``action`` on ``resource``: beside the role's own policies, never in their place."""
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        },
        separators=(",", ":"),
    )
    return (
        f"aws iam put-role-policy --role-name {role_name_from_arn(role_arn)} --policy-name "
        f"{fix_policy_name(purpose)} --policy-document '{document}'"
    )


def secrets_policy_fix(role_arn: str, secret_arn: str, connection: str) -> str:
    """A policy of sparkpg's own that lets the role read one secret, as an ``aws iam put-role-policy``.

    It is added beside the role's own policies (``EMRSecretsManagerPolicy`` included), never in
    their place.
    """
    command = inline_policy_command(
        role_arn,
        f"secret-{connection}",
        ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        secret_arn,
    )
    return (
        f"{FIX_SECRETS_POLICY} (docs/troubleshooting.md#secrets-manager-access-denied): {command} "
        "(if the secret uses a customer-managed KMS key, also allow kms:Decrypt)"
    )


def jar_policy_fix(role_arn: str, object_arn: str) -> str:
    """An inline policy of sparkpg's own that lets the role read the JAR (beside the role's own)."""
    command = inline_policy_command(role_arn, "jdbc-jar", "s3:GetObject", object_arn)
    return (
        f"{command} (S3 read permissions, added beside the role's own policies: "
        "docs/troubleshooting.md#execution-role)"
    )


def decide_permission(
    ctx: DoctorContext, role_arn: str, action: str, resource: str
) -> Tuple[PolicyDecision, str]:
    """Simulate if possible, else read the role's policy documents; say which evidence was used."""
    if ctx.simulation_error is None:
        try:
            return (
                decision_from_simulation(ctx.reader.simulate(role_arn, action, resource)),
                "IAM policy simulation (iam:SimulatePrincipalPolicy)",
            )
        except AwsRequestError as exc:
            ctx.simulation_error = exc.code
            logger.info("policy simulation unavailable (%s); reading policy documents", exc)
    policies = ctx.reader.role_policies(role_name_from_arn(role_arn))
    names = ", ".join(n for n, _ in policies) or "none"
    method = (
        f"policy documents {names}; simulation unavailable ({ctx.simulation_error}): "
        "boundaries, SCPs, resource policies, conditions not evaluated"
    )
    return evaluate_policies(policies, action, resource), method


def check_role(ctx: DoctorContext) -> List[CheckResult]:
    """Execution role: trusts EMR Serverless; may read each secret and the JAR (docs/troubleshooting.md#execution-role)."""
    role_arn = ctx.role_arn
    connections = [c for c in ctx.settings.enabled_connections if c.secret_arn]
    if not role_arn:
        return [
            CheckResult(
                "role-trust",
                WARN,
                "no execution role given: the role's trust and permissions were not checked",
                "pass --role-arn arn:aws:iam::<account>:role/EMRServerlessExecutionRole (or set "
                "spark.emr_execution_role_arn)",
                "execution-role",
            )
        ]
    try:
        role = ctx.reader.role(role_name_from_arn(role_arn))
    except AwsRequestError as exc:
        name = role_name_from_arn(role_arn)
        if exc.not_found:
            return [
                CheckResult(
                    "role-trust",
                    FAIL,
                    f"{role_arn}: no such role ({exc.code})",
                    f"create the execution role {name} trusted by {EMR_SERVERLESS_PRINCIPAL} "
                    "(docs/troubleshooting.md#execution-role), or fix --role-arn",
                    "execution-role",
                )
            ]
        return [lookup_failed("role-trust", exc, "execution-role", "--role-arn")]
    results = [evaluate_trust(role)]
    try:
        for connection in connections:
            secret_arn = ctx.secret_arns.get(connection.name, str(connection.secret_arn))
            decision, method = decide_permission(
                ctx, role_arn, "secretsmanager:GetSecretValue", secret_arn
            )
            results.append(
                evaluate_role_permission(
                    f"role-secret:{connection.name}",
                    role_arn,
                    decision,
                    method,
                    secrets_policy_fix(role_arn, secret_arn, connection.name),
                    "secrets-manager-access-denied",
                )
            )
        path = ctx.settings.postgres.jdbc_driver_path
        if path and path.startswith("s3://"):
            from connectors.aws import parse_s3_uri

            bucket, key = parse_s3_uri(path)
            partition = role_arn.split(":")[1] if role_arn.count(":") >= 5 else "aws"
            object_arn = f"arn:{partition}:s3:::{bucket}/{key}"  # aws-cn in China
            decision, method = decide_permission(ctx, role_arn, "s3:GetObject", object_arn)
            results.append(
                evaluate_role_permission(
                    "role-jar",
                    role_arn,
                    decision,
                    method,
                    jar_policy_fix(role_arn, object_arn),
                    "jdbc-driver-not-found",
                )
            )
    except AwsRequestError as exc:
        results.append(lookup_failed("role-permissions", exc, "secrets-manager-access-denied"))
    return results
