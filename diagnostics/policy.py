"""A small, pure IAM policy evaluator: does a set of identity policies allow an action on a resource?

Used by ``sparkpg doctor`` when ``iam:SimulatePrincipalPolicy`` is unavailable (moto does not
implement it; a caller may lack the permission). It reads the role's own policy documents only:
Allow/Deny, Action/NotAction, Resource/NotResource with ``*`` and ``?`` wildcards. Conditions are
not evaluated (a statement with a Condition is reported as "conditional"); permission boundaries,
SCPs, session policies and resource policies are out of its sight, and the doctor says so.

>>> doc = {"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
...                       "Resource": "arn:aws:secretsmanager:*:*:secret:spark/postgres/*"}]}
>>> evaluate_policies([("EMRSecretsManagerPolicy", doc)], "secretsmanager:GetSecretValue",
...     "arn:aws:secretsmanager:us-east-1:1:secret:spark/postgres/aurora-AbCdEf").decision
'allowed'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Mapping, Sequence, Tuple, Union
from urllib.parse import unquote

PolicyDocument = Mapping[str, Any]
NamedPolicy = Tuple[str, Union[PolicyDocument, str]]


@dataclass(frozen=True)
class PolicyDecision:
    """The outcome for one action on one resource.

    ``decision`` is ``allowed``, ``explicit-deny`` or ``implicit-deny``; ``matched`` names the
    policies (and statement ids) that decided it; ``conditional`` is True when a matching statement
    carries a Condition this evaluator did not evaluate.
    """

    action: str
    resource: str
    decision: str
    matched: Tuple[str, ...] = ()
    conditional: bool = False
    notes: Tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        """True when the action is allowed."""
        return self.decision == "allowed"


def parse_document(document: Union[PolicyDocument, str]) -> PolicyDocument:
    """A policy document as a mapping (IAM returns URL-encoded JSON where boto3 did not decode it)."""
    if isinstance(document, str):
        text = document if document.lstrip().startswith("{") else unquote(document)
        parsed = json.loads(text)
        if not isinstance(parsed, dict):
            raise ValueError("a policy document must be a JSON object")
        return parsed
    return document


def _as_list(value: Any) -> List[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _wildcard(pattern: str, *, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in str(pattern)
    )
    return re.compile(f"^{body}$", 0 if case_sensitive else re.IGNORECASE)


def matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM wildcard match: ``*`` any run of characters, ``?`` one character.

    >>> matches("s3:Get*", "s3:getobject", case_sensitive=False)
    True
    """
    return bool(_wildcard(pattern, case_sensitive=case_sensitive).match(value))


def _statement_applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        action_ok = any(
            matches(p, action, case_sensitive=False) for p in _as_list(statement["Action"])
        )
    elif "NotAction" in statement:
        action_ok = not any(
            matches(p, action, case_sensitive=False) for p in _as_list(statement["NotAction"])
        )
    else:
        action_ok = False
    if not action_ok:
        return False
    if "Resource" in statement:
        return any(matches(p, resource) for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(matches(p, resource) for p in _as_list(statement["NotResource"]))
    return False


def evaluate_policies(
    policies: Sequence[NamedPolicy], action: str, resource: str
) -> PolicyDecision:
    """Evaluate identity policies for ``action`` on ``resource``: an explicit Deny wins, then Allow."""
    allows: List[str] = []
    denies: List[str] = []
    conditional_allow = True
    conditional_deny = True
    for name, raw in policies:
        document = parse_document(raw)
        for index, statement in enumerate(_as_list(document.get("Statement"))):
            if not isinstance(statement, Mapping) or not _statement_applies(
                statement, action, resource
            ):
                continue
            label = f"{name}/{statement.get('Sid') or f'#{index}'}"
            has_condition = bool(statement.get("Condition"))
            if str(statement.get("Effect", "")).lower() == "deny":
                denies.append(label)
                conditional_deny = conditional_deny and has_condition
            elif str(statement.get("Effect", "")).lower() == "allow":
                allows.append(label)
                conditional_allow = conditional_allow and has_condition
    if denies and not conditional_deny:
        return PolicyDecision(action, resource, "explicit-deny", tuple(denies))
    if allows:
        notes = tuple(f"{d} may deny (condition not evaluated)" for d in denies)
        return PolicyDecision(
            action, resource, "allowed", tuple(allows), conditional=conditional_allow, notes=notes
        )
    return PolicyDecision(action, resource, "implicit-deny")


def trust_allows_service(document: Union[PolicyDocument, str], service: str) -> Tuple[bool, str]:
    """Whether a role's trust policy lets ``service`` (e.g. ``emr-serverless.amazonaws.com``) assume it.

    Returns ``(trusted, evidence)``; the evidence names the statement and any conditions.

    >>> trust_allows_service({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
    ...     "Principal": {"Service": "emr-serverless.amazonaws.com"}}]},
    ...     "emr-serverless.amazonaws.com")[0]
    True
    """
    parsed = parse_document(document)
    services_seen: List[str] = []
    for index, statement in enumerate(_as_list(parsed.get("Statement"))):
        if not isinstance(statement, Mapping):
            continue
        principal = statement.get("Principal")
        services = (
            _as_list(principal.get("Service")) if isinstance(principal, Mapping) else []
        ) or (["*"] if principal == "*" else [])
        services_seen.extend(str(s) for s in services)
        actions = _as_list(statement.get("Action"))
        if (
            str(statement.get("Effect", "")).lower() == "allow"
            and any(matches(str(a), "sts:AssumeRole", case_sensitive=False) for a in actions)
            and any(s in (service, "*") for s in services)
        ):
            label = statement.get("Sid") or f"statement #{index}"
            conditions = ", ".join(_condition_keys(statement.get("Condition")))
            where = f" (conditions: {conditions})" if conditions else ""
            return True, f"trust policy {label} allows sts:AssumeRole by {service}{where}"
    seen = ", ".join(sorted(set(services_seen))) or "no service principals"
    return False, f"trust policy has no Allow sts:AssumeRole for {service} (trusts: {seen})"


def _condition_keys(condition: Any) -> Iterable[str]:
    if not isinstance(condition, Mapping):
        return []
    return [
        f"{operator} {key}"
        for operator, keys in condition.items()
        if isinstance(keys, Mapping)
        for key in keys
    ]
