"""``sparkpg doctor``: the seed's deployment checklist (section 8) and troubleshooting list (section 10),
checked against the AWS account before a job runs.

Three layers, so that everything but the AWS calls is testable without AWS:

- :class:`AwsReader` makes every AWS call of the doctor (one place), turning botocore errors into
  :class:`AwsLookupError` that name the operation and the error code;
- ``evaluate_*`` functions are pure: AWS descriptions (the dicts boto3 returns) in, a
  :class:`CheckResult` out;
- :func:`run_doctor` fetches, evaluates and returns the results in a stable order.

Every result says what it looked at (``evidence``) and, when it is not a pass, the exact fix, in the
seed's words where the seed has them (``ref`` names the seed section).

>>> results = run_doctor("examples/settings.json", role_arn=None)  # doctest: +SKIP
>>> [r.name for r in results if r.status == "fail"]  # doctest: +SKIP
[]
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import re
import textwrap
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from connectors.errors import CredentialsError, SettingsError
from connectors.policy import NamedPolicy, PolicyDecision, evaluate_policies, trust_allows_service
from connectors.settings import ConnectionSettings, Settings, load_settings

logger = logging.getLogger(__name__)

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
STATUSES = (PASS, WARN, FAIL, SKIP)
_SEVERITY = {SKIP: 0, PASS: 1, WARN: 2, FAIL: 3}

EMR_SERVERLESS_PRINCIPAL = "emr-serverless.amazonaws.com"
DRIVER_ENTRY = "org/postgresql/Driver.class"
SERVICES_ENTRY = "META-INF/services/java.sql.Driver"
DRIVER_CLASS = "org.postgresql.Driver"
#: pgjdbc releases from this one carry the recent CVE fixes (FACTS.md).
MIN_SAFE_DRIVER = (42, 7, 12)
HTTPS = 443
_RDS_HOST = re.compile(r"\.rds\.amazonaws\.com(\.cn)?$", re.IGNORECASE)

SEED_JAR_MISSING = "Ensure `jdbc_driver_path` is configured in backend settings"
SEED_JAR_IN_S3 = "Verify JDBC JAR exists in S3"
SEED_LOGS_ENDPOINT = "Verify CloudWatch Logs VPC endpoint exists and is available"
SEED_ENDPOINT_SG = "Check security group allows traffic to VPC endpoint"
SEED_SECRETS_POLICY = "Verify EMR execution role has `EMRSecretsManagerPolicy`"
SEED_SECRETS_ENDPOINT = "Ensure Secrets Manager VPC endpoint exists"
SEED_DB_SG = "Verify RDS security group allows inbound from EMR security group"
SEED_DB_NETWORK = "Check network connectivity between VPC subnets"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: ``status`` is pass, warn, fail or skip.

    ``evidence`` says what was looked at and what was found; ``fix`` is the exact remedy (empty on
    a pass); ``ref`` names the seed section the check comes from (``8``, ``10.2``, ...).
    """

    name: str
    status: str
    evidence: str
    fix: str = ""
    ref: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    def to_dict(self) -> Dict[str, str]:
        """A JSON-ready mapping."""
        return asdict(self)


def worst(statuses: Iterable[str]) -> str:
    """The most severe status (fail > warn > pass > skip); ``pass`` for none."""
    return max(statuses, key=lambda s: _SEVERITY[s], default=PASS)


def passed(results: Sequence[CheckResult]) -> bool:
    """True when no check failed (warnings and skips are fine)."""
    return all(r.status != FAIL for r in results)


# --------------------------------------------------------------------------------------------
# Fetching: every AWS call of the doctor
# --------------------------------------------------------------------------------------------


class AwsLookupError(Exception):
    """An AWS call of the doctor failed; names the operation and AWS's error code."""

    def __init__(self, operation: str, code: str, message: str = "") -> None:
        super().__init__(f"{operation} failed: {code}{': ' + message if message else ''}")
        self.operation = operation
        self.code = code

    @property
    def not_found(self) -> bool:
        """True for the "does not exist" family of error codes."""
        return "NotFound" in self.code or self.code in ("NoSuchKey", "NoSuchEntity", "404")

    @property
    def denied(self) -> bool:
        """True when the caller lacks the permission for the call."""
        return self.code in (
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
            "403",
        )


class AwsReader:
    """The doctor's AWS calls, through the one client factory (:mod:`connectors.aws`)."""

    def __init__(self, region: Optional[str] = None, profile: Optional[str] = None) -> None:
        self.region = region
        self.profile = profile

    def client(self, service: str) -> Any:
        """A client of the reader's region and profile (:func:`connectors.aws.aws_client`)."""
        from connectors.aws import aws_client

        return aws_client(service, self.region, self.profile)

    def _call(self, operation: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(
                error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            )
            raise AwsLookupError(operation, code, str(error.get("Message", ""))) from None
        except BotoCoreError as exc:
            raise AwsLookupError(operation, type(exc).__name__, str(exc)) from None
        except ResponseParserError:
            # An endpoint that does not implement the API (moto answers an HTML 500 page).
            raise AwsLookupError(
                operation, "NotImplemented", "the endpoint answered with an unparseable error page"
            ) from None

    def _pages(self, service: str, operation: str, key: str, **kwargs: Any) -> List[Any]:
        client = self.client(service)
        api_to_method = {api: py for py, api in client.meta.method_to_api_mapping.items()}
        paginator = client.get_paginator(api_to_method[operation])
        items: List[Any] = []

        def collect() -> None:
            for page in paginator.paginate(**kwargs):
                items.extend(page.get(key, []))

        self._call(f"{service}:{operation}", collect)
        return items

    @property
    def region_name(self) -> str:
        """The region the clients talk to."""
        return str(self.client("sts").meta.region_name)

    def caller_arn(self) -> str:
        """The ARN of the caller (sts:GetCallerIdentity)."""
        client = self.client("sts")
        return str(self._call("sts:GetCallerIdentity", client.get_caller_identity)["Arn"])

    def read_s3_object(self, bucket: str, key: str) -> bytes:
        """The object's bytes (s3:GetObject)."""
        client = self.client("s3")
        response = self._call("s3:GetObject", client.get_object, Bucket=bucket, Key=key)
        return bytes(response["Body"].read())

    def bucket_region(self, bucket: str) -> str:
        """The bucket's region (s3:GetBucketLocation; ``None`` means us-east-1)."""
        client = self.client("s3")
        response = self._call("s3:GetBucketLocation", client.get_bucket_location, Bucket=bucket)
        return str(response.get("LocationConstraint") or "us-east-1")

    def secret_arn(self, secret_id: str) -> str:
        """The full ARN of a secret given by name or ARN (secretsmanager:DescribeSecret)."""
        client = self.client("secretsmanager")
        response = self._call(
            "secretsmanager:DescribeSecret", client.describe_secret, SecretId=secret_id
        )
        return str(response["ARN"])

    def role(self, role_name: str) -> Dict[str, Any]:
        """The role (iam:GetRole), trust policy included."""
        client = self.client("iam")
        return dict(self._call("iam:GetRole", client.get_role, RoleName=role_name)["Role"])

    def role_policies(self, role_name: str) -> List[NamedPolicy]:
        """The role's inline and attached managed policy documents, by name."""
        client = self.client("iam")
        policies: List[NamedPolicy] = []
        names = self._pages("iam", "ListRolePolicies", "PolicyNames", RoleName=role_name)
        for name in names:
            response = self._call(
                "iam:GetRolePolicy", client.get_role_policy, RoleName=role_name, PolicyName=name
            )
            policies.append((f"inline {name}", response["PolicyDocument"]))
        attached = self._pages(
            "iam", "ListAttachedRolePolicies", "AttachedPolicies", RoleName=role_name
        )
        for policy in attached:
            arn = policy["PolicyArn"]
            meta = self._call("iam:GetPolicy", client.get_policy, PolicyArn=arn)["Policy"]
            version = self._call(
                "iam:GetPolicyVersion",
                client.get_policy_version,
                PolicyArn=arn,
                VersionId=meta["DefaultVersionId"],
            )
            policies.append(
                (f"managed {policy['PolicyName']}", version["PolicyVersion"]["Document"])
            )
        return policies

    def simulate(self, role_arn: str, action: str, resource: str) -> List[Dict[str, Any]]:
        """iam:SimulatePrincipalPolicy for one action on one resource; its EvaluationResults."""
        client = self.client("iam")
        response = self._call(
            "iam:SimulatePrincipalPolicy",
            client.simulate_principal_policy,
            PolicySourceArn=role_arn,
            ActionNames=[action],
            ResourceArns=[resource],
        )
        return list(response.get("EvaluationResults", []))

    def application(self, application_id: str) -> Dict[str, Any]:
        """The EMR Serverless application (emr-serverless:GetApplication)."""
        client = self.client("emr-serverless")
        response = self._call(
            "emr-serverless:GetApplication", client.get_application, applicationId=application_id
        )
        return dict(response["application"])

    def subnets(self, subnet_ids: Sequence[str]) -> List[Dict[str, Any]]:
        """The given subnets (ec2:DescribeSubnets)."""
        return self._pages("ec2", "DescribeSubnets", "Subnets", SubnetIds=list(subnet_ids))

    def vpc_subnets(self, vpc_id: str) -> List[Dict[str, Any]]:
        """Every subnet of a VPC."""
        return self._pages(
            "ec2", "DescribeSubnets", "Subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )

    def security_groups(self, group_ids: Sequence[str]) -> List[Dict[str, Any]]:
        """The given security groups with their rules (ec2:DescribeSecurityGroups)."""
        if not group_ids:
            return []
        return self._pages(
            "ec2", "DescribeSecurityGroups", "SecurityGroups", GroupIds=sorted(set(group_ids))
        )

    def vpc_endpoints(self, vpc_id: str) -> List[Dict[str, Any]]:
        """Every VPC endpoint of a VPC (ec2:DescribeVpcEndpoints)."""
        return self._pages(
            "ec2",
            "DescribeVpcEndpoints",
            "VpcEndpoints",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}],
        )

    def route_tables(self, vpc_id: str) -> List[Dict[str, Any]]:
        """Every route table of a VPC (ec2:DescribeRouteTables)."""
        return self._pages(
            "ec2",
            "DescribeRouteTables",
            "RouteTables",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}],
        )

    def db_clusters(self) -> List[Dict[str, Any]]:
        """Every RDS/Aurora cluster of the region (rds:DescribeDBClusters)."""
        return self._pages("rds", "DescribeDBClusters", "DBClusters")

    def db_instances(self) -> List[Dict[str, Any]]:
        """Every RDS instance of the region (rds:DescribeDBInstances)."""
        return self._pages("rds", "DescribeDBInstances", "DBInstances")


# --------------------------------------------------------------------------------------------
# Pure evaluation: settings and the JDBC JAR
# --------------------------------------------------------------------------------------------


def evaluate_settings_content(settings: Settings) -> List[CheckResult]:
    """The application ids and the enabled connections the seed's settings.json needs (5.1)."""
    spark = settings.spark
    missing = [
        key
        for key in ("emr_application_id", "emr_postgres_application_id")
        if not getattr(spark, key)
    ]
    if missing:
        apps = CheckResult(
            "settings-applications",
            FAIL,
            f"{settings.source}: spark.{' and spark.'.join(missing)} not set",
            "Backend settings.json configured with correct ARNs and paths (seed checklist 8): set "
            + " and ".join(f"spark.{m}" for m in missing)
            + " to the EMR Serverless application ids (seed 5.1)",
            "5.1",
        )
    else:
        apps = CheckResult(
            "settings-applications",
            PASS,
            f"emr_application_id={spark.emr_application_id}, "
            f"emr_postgres_application_id={spark.emr_postgres_application_id}",
            ref="5.1",
        )
    enabled = settings.enabled_connections
    if not enabled:
        disabled = [c.name for c in settings.postgres.connections]
        conns = CheckResult(
            "settings-connections",
            FAIL,
            f"{settings.source}: no enabled connection"
            + (f" (disabled: {', '.join(disabled)})" if disabled else ""),
            'add a connection to postgres.connections with "enabled": true (seed 5.1)',
            "5.1",
        )
    else:
        described = ", ".join(f"{c.name} ({c.credential_source})" for c in enabled)
        conns = CheckResult("settings-connections", PASS, f"enabled: {described}", ref="5.1")
    return [apps, conns]


def _version_tuple(version: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def evaluate_jar(data: bytes, where: str) -> CheckResult:
    """Whether ``data`` is a PostgreSQL JDBC driver JAR (seed 10.1): Driver class, service entry, version."""
    fix_upload = (
        f"{SEED_JAR_IN_S3} (seed 10.1): upload the PostgreSQL JDBC driver JAR, e.g. "
        f"aws s3 cp postgresql-42.7.13.jar {where}"
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return CheckResult(
            "jdbc-jar",
            FAIL,
            f"{where} ({len(data)} bytes) is not a JAR (zip) file: the job would fail with "
            f"ClassNotFoundException: {DRIVER_CLASS}",
            fix_upload,
            "10.1",
        )
    with archive:
        names = set(archive.namelist())
        services = (
            archive.read(SERVICES_ENTRY).decode("utf-8", "replace")
            if SERVICES_ENTRY in names
            else ""
        )
        manifest = (
            archive.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
            if "META-INF/MANIFEST.MF" in names
            else ""
        )
    problems = []
    if DRIVER_ENTRY not in names:
        problems.append(f"no {DRIVER_ENTRY}")
    if DRIVER_CLASS not in services.split():
        problems.append(f"{SERVICES_ENTRY} does not name {DRIVER_CLASS}")
    if problems:
        return CheckResult(
            "jdbc-jar",
            FAIL,
            f"{where} is a JAR but not the PostgreSQL JDBC driver ({'; '.join(problems)}): the "
            f"job would fail with ClassNotFoundException: {DRIVER_CLASS}",
            fix_upload,
            "10.1",
        )
    version = _manifest_version(manifest)
    shown = f"version {version}" if version else "version unknown (no manifest version)"
    evidence = f"{where}: {DRIVER_ENTRY} and {SERVICES_ENTRY} present, {shown}"
    if version and _version_tuple(version) < MIN_SAFE_DRIVER:
        minimum = ".".join(map(str, MIN_SAFE_DRIVER))
        return CheckResult(
            "jdbc-jar",
            WARN,
            f"{evidence}; older than {minimum}, which has the recent CVE fixes",
            f"upload pgjdbc {minimum} or newer and point jdbc_driver_path at it",
            "4.1",
        )
    return CheckResult("jdbc-jar", PASS, evidence, ref="10.1")


def _manifest_version(manifest: str) -> Optional[str]:
    fields: Dict[str, str] = {}
    for line in manifest.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields.get("Implementation-Version") or fields.get("Bundle-Version")


# --------------------------------------------------------------------------------------------
# Pure evaluation: IAM
# --------------------------------------------------------------------------------------------


def role_name_from_arn(role_arn: str) -> str:
    """``arn:aws:iam::1:role/path/Name`` -> ``Name``."""
    return role_arn.rsplit("/", 1)[-1]


def evaluate_trust(role: Mapping[str, Any]) -> CheckResult:
    """The execution role trusts EMR Serverless (seed 2.1)."""
    arn = role.get("Arn", role.get("RoleName", "?"))
    trusted, evidence = trust_allows_service(
        role.get("AssumeRolePolicyDocument") or {}, EMR_SERVERLESS_PRINCIPAL
    )
    if trusted:
        return CheckResult("role-trust", PASS, f"{arn}: {evidence}", ref="2.1")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": EMR_SERVERLESS_PRINCIPAL},
                    "Action": "sts:AssumeRole",
                }
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
        "2.1",
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


def secrets_policy_fix(role_arn: str, secret_arn: str) -> str:
    """The seed's EMRSecretsManagerPolicy for one secret, as an ``aws iam put-role-policy``."""
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": secret_arn,
                }
            ],
        },
        separators=(",", ":"),
    )
    return (
        f"{SEED_SECRETS_POLICY} (seed 10.3, 2.2): aws iam put-role-policy --role-name "
        f"{role_name_from_arn(role_arn)} --policy-name EMRSecretsManagerPolicy --policy-document "
        f"'{document}' (if the secret uses a customer-managed KMS key, also allow kms:Decrypt)"
    )


def jar_policy_fix(role_arn: str, object_arn: str) -> str:
    """An inline policy that lets the role read the JAR."""
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": object_arn}],
        },
        separators=(",", ":"),
    )
    return (
        f"aws iam put-role-policy --role-name {role_name_from_arn(role_arn)} --policy-name "
        f"EMRServerlessS3Policy --policy-document '{document}' (seed 2.3: S3 read permissions)"
    )


# --------------------------------------------------------------------------------------------
# Pure evaluation: EMR Serverless applications
# --------------------------------------------------------------------------------------------


def evaluate_application(
    name: str, application: Mapping[str, Any], *, needs_network: bool
) -> CheckResult:
    """State, type, release label, architecture; the PostgreSQL one needs a network configuration."""
    app_id = application.get("applicationId", "?")
    state = str(application.get("state", "?"))
    release = application.get("releaseLabel", "?")
    architecture = application.get("architecture") or "X86_64 (default)"
    app_type = str(application.get("type", "?"))
    network = application.get("networkConfiguration") or {}
    subnets = list(network.get("subnetIds") or [])
    groups = list(network.get("securityGroupIds") or [])
    evidence = (
        f"{app_id} ({application.get('name', '-')}): state {state}, type {app_type}, "
        f"release {release}, architecture {architecture}"
    )
    if subnets or groups:
        evidence += (
            f", subnets {', '.join(subnets) or '-'}, security groups {', '.join(groups) or '-'}"
        )
    else:
        evidence += ", no network configuration"
    if state in ("TERMINATED", "TERMINATING"):
        return CheckResult(
            name,
            FAIL,
            evidence,
            f"the application is {state}: create a new one (seed 3.1) and put its id in the settings",
            "3.1",
        )
    if app_type.upper() != "SPARK":
        return CheckResult(
            name,
            FAIL,
            evidence,
            "sparkpg jobs need a Spark application (seed 3.1: Type Spark)",
            "3.1",
        )
    if needs_network and (not subnets or not groups):
        return CheckResult(
            name,
            FAIL,
            evidence + ": jobs cannot reach the database or the VPC endpoints",
            "EMR Serverless application created with VPC configuration (seed checklist 8, 3.1): "
            f"aws emr-serverless stop-application --application-id {app_id}; aws emr-serverless "
            f"update-application --application-id {app_id} --network-configuration "
            "'subnetIds=<private subnets>,securityGroupIds=<EMR security group>'",
            "3.1",
        )
    auto_start = (application.get("autoStartConfiguration") or {}).get("enabled", True)
    if not auto_start and state not in ("STARTED", "STARTING"):
        return CheckResult(
            name,
            WARN,
            evidence + "; auto-start is off, so a job run is refused until the application starts",
            f"aws emr-serverless start-application --application-id {app_id}, or enable "
            "autoStartConfiguration (seed 3.1)",
            "3.1",
        )
    if state == "CREATING":
        return CheckResult(name, WARN, evidence + "; still being created", "wait and re-run", "3.1")
    return CheckResult(name, PASS, evidence, ref="3.1")


# --------------------------------------------------------------------------------------------
# Pure evaluation: network (security groups, endpoints, routes)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppNetwork:
    """The PostgreSQL-enabled application's place in the VPC, from its subnets and groups."""

    vpc_id: str
    subnet_ids: Tuple[str, ...]
    security_group_ids: Tuple[str, ...]
    zones: Tuple[str, ...]
    cidrs: Tuple[str, ...]

    @classmethod
    def from_subnets(
        cls, subnets: Sequence[Mapping[str, Any]], security_group_ids: Sequence[str]
    ) -> AppNetwork:
        """Build from the application's described subnets (all must be in one VPC)."""
        vpcs = sorted({str(s["VpcId"]) for s in subnets})
        if len(vpcs) != 1:
            raise ValueError(f"the application's subnets span {len(vpcs)} VPCs: {vpcs}")
        return cls(
            vpc_id=vpcs[0],
            subnet_ids=tuple(str(s["SubnetId"]) for s in subnets),
            security_group_ids=tuple(security_group_ids),
            zones=tuple(sorted({str(s["AvailabilityZone"]) for s in subnets})),
            cidrs=tuple(str(s["CidrBlock"]) for s in subnets if s.get("CidrBlock")),
        )


def _rule_covers_port(rule: Mapping[str, Any], port: int) -> bool:
    protocol = str(rule.get("IpProtocol", ""))
    if protocol == "-1":
        return True
    if protocol not in ("tcp", "6"):
        return False
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if low is None or high is None or int(low) == -1:
        return True
    return int(low) <= port <= int(high)


def _cidrs_within(cidrs: Sequence[str], rule_cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(rule_cidr, strict=False)
        if network.prefixlen == 0:
            return True  # 0.0.0.0/0 covers any peer, even one whose addresses are unknown
        return bool(cidrs) and all(
            ipaddress.ip_network(c, strict=False).subnet_of(network)  # type: ignore[arg-type]
            for c in cidrs
        )
    except (ValueError, TypeError):
        return False


def find_rule(
    groups: Sequence[Mapping[str, Any]],
    port: int,
    peer_group_ids: Sequence[str],
    peer_cidrs: Sequence[str],
    *,
    egress: bool = False,
) -> Optional[str]:
    """The first rule of ``groups`` that lets TCP ``port`` in from (or, ``egress``, out to) a peer.

    A peer is one of ``peer_group_ids`` (a security-group reference) or a CIDR rule that contains
    every one of ``peer_cidrs``. Returns a description of the rule, or None.

    >>> sg = {"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 5432,
    ...       "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": "sg-emr"}]}]}
    >>> find_rule([sg], 5432, ["sg-emr"], [])
    'sg-db inbound tcp/5432 from sg-emr'
    """
    key = "IpPermissionsEgress" if egress else "IpPermissions"
    direction, preposition = ("outbound", "to") if egress else ("inbound", "from")
    for group in groups:
        for rule in group.get(key) or []:
            if not _rule_covers_port(rule, port):
                continue
            ports = "all traffic" if str(rule.get("IpProtocol")) == "-1" else f"tcp/{port}"
            for pair in rule.get("UserIdGroupPairs") or []:
                if pair.get("GroupId") in peer_group_ids:
                    return f"{group['GroupId']} {direction} {ports} {preposition} {pair['GroupId']}"
            for ip_range in rule.get("IpRanges") or []:
                cidr = str(ip_range.get("CidrIp", ""))
                if _cidrs_within(peer_cidrs, cidr):
                    return f"{group['GroupId']} {direction} {ports} {preposition} {cidr}"
    return None


def route_table_for(
    subnet_id: str, route_tables: Sequence[Mapping[str, Any]]
) -> Optional[Mapping[str, Any]]:
    """The route table a subnet uses: its explicit association, else the VPC's main table."""
    main = None
    for table in route_tables:
        for association in table.get("Associations") or []:
            if association.get("SubnetId") == subnet_id:
                return table
            if association.get("Main"):
                main = table
    return main


def nat_subnets(app: AppNetwork, route_tables: Sequence[Mapping[str, Any]]) -> Dict[str, str]:
    """Application subnets whose default route goes to a NAT gateway: subnet -> NAT id."""
    found: Dict[str, str] = {}
    for subnet in app.subnet_ids:
        table = route_table_for(subnet, route_tables)
        for route in (table or {}).get("Routes") or []:
            if route.get("DestinationCidrBlock") == "0.0.0.0/0" and route.get("NatGatewayId"):
                found[subnet] = str(route["NatGatewayId"])
    return found


def _service_name(region: str, service: str) -> str:
    return f"com.amazonaws.{region}.{service}"


def evaluate_interface_endpoint(
    service: str,
    region: str,
    app: AppNetwork,
    endpoints: Sequence[Mapping[str, Any]],
    security_groups: Mapping[str, Mapping[str, Any]],
    vpc_subnets: Mapping[str, Mapping[str, Any]],
    nat: Mapping[str, str],
) -> CheckResult:
    """The interface endpoint for ``service`` (``logs`` or ``secretsmanager``) serves the application.

    It must exist in the application's VPC, be available, have private DNS, sit in the
    application's availability zones (warn otherwise) and admit HTTPS from the application's
    security groups, which must let HTTPS out (seed sections 1, 6.1, 10.2, 10.3).
    """
    name = f"endpoint-{service}"
    label = {"logs": "CloudWatch Logs", "secretsmanager": "Secrets Manager"}.get(service, service)
    ref = {"logs": "10.2", "secretsmanager": "10.3"}.get(service, "1")
    service_name = _service_name(region, service)
    seed_fix = SEED_LOGS_ENDPOINT if service == "logs" else SEED_SECRETS_ENDPOINT
    candidates = [
        e
        for e in endpoints
        if e.get("ServiceName") == service_name
        and str(e.get("VpcEndpointType", "")).lower() == "interface"
        and e.get("VpcId") == app.vpc_id
        and str(e.get("State", "")).lower() not in ("deleted", "deleting")
    ]
    create = (
        f"aws ec2 create-vpc-endpoint --vpc-id {app.vpc_id} --vpc-endpoint-type Interface "
        f"--service-name {service_name} --subnet-ids {' '.join(app.subnet_ids)} "
        f"--security-group-ids {' '.join(app.security_group_ids)} --private-dns-enabled"
    )
    if not candidates:
        evidence = f"no {service_name} interface endpoint in {app.vpc_id}"
        if nat and set(nat) == set(app.subnet_ids):
            return CheckResult(
                name,
                WARN,
                f"{evidence}; the application's subnets reach {label} through NAT "
                f"({', '.join(sorted(set(nat.values())))}), so jobs work, at NAT data prices",
                f"optional, as the seed does (section 1): {create}",
                ref,
            )
        timeout = (
            "connect timeout to CloudWatch Logs"
            if service == "logs"
            else ("Secrets Manager unreachable (connect timeout / AccessDeniedException)")
        )
        return CheckResult(
            name,
            FAIL,
            f"{evidence} and no NAT route from the application's subnets: jobs fail with {timeout}",
            f"{seed_fix} (seed {ref}): {create}",
            ref,
        )
    candidates.sort(key=lambda e: str(e.get("State", "")).lower() != "available")
    endpoint = candidates[0]
    endpoint_id = str(endpoint.get("VpcEndpointId", "?"))
    problems: List[str] = []
    fixes: List[str] = []
    warnings: List[str] = []
    state = str(endpoint.get("State", "?"))
    if state.lower() != "available":
        problems.append(f"state is {state}, not available")
        fixes.append(f"{seed_fix} (seed {ref}): the endpoint is {state}; recreate it: {create}")
    if not endpoint.get("PrivateDnsEnabled"):
        problems.append("private DNS is off, so the SDK resolves the public endpoint and times out")
        fixes.append(
            f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --private-dns-enabled "
            "(seed section 1: PrivateDnsEnabled: true)"
        )
    endpoint_subnets = [str(s) for s in endpoint.get("SubnetIds") or []]
    endpoint_zones = {
        str(vpc_subnets[s]["AvailabilityZone"]) for s in endpoint_subnets if s in vpc_subnets
    }
    missing_zones = [z for z in app.zones if z not in endpoint_zones]
    if not endpoint_subnets:
        problems.append("it has no subnets")
        fixes.append(
            f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --add-subnet-ids "
            + " ".join(app.subnet_ids)
        )
    elif missing_zones:
        warnings.append(
            f"no endpoint network interface in {', '.join(missing_zones)} (jobs there cross zones "
            "and lose it when its zone fails)"
        )
        fixes.append(
            f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint_id} --add-subnet-ids "
            + " ".join(
                s
                for s in app.subnet_ids
                if vpc_subnets.get(s, {}).get("AvailabilityZone") in missing_zones
            )
        )
    endpoint_groups = [
        str(g.get("GroupId")) for g in endpoint.get("Groups") or [] if g.get("GroupId")
    ]
    described = [security_groups[g] for g in endpoint_groups if g in security_groups]
    ingress = find_rule(described, HTTPS, app.security_group_ids, app.cidrs)
    if ingress is None:
        problems.append(
            f"its security groups ({', '.join(endpoint_groups) or 'none'}) do not admit HTTPS "
            f"(tcp/443) from the application's ({', '.join(app.security_group_ids)})"
        )
        target = endpoint_groups[0] if endpoint_groups else "<endpoint security group>"
        fixes.append(
            f"{SEED_ENDPOINT_SG} (seed 10.2): aws ec2 authorize-security-group-ingress --group-id "
            f"{target} --protocol tcp --port 443 --source-group {app.security_group_ids[0]}"
        )
    endpoint_cidrs = [
        str(vpc_subnets[s]["CidrBlock"]) for s in endpoint_subnets if s in vpc_subnets
    ]
    app_groups = [security_groups[g] for g in app.security_group_ids if g in security_groups]
    egress = find_rule(app_groups, HTTPS, endpoint_groups, endpoint_cidrs, egress=True)
    if egress is None:
        problems.append(
            f"the application's security groups ({', '.join(app.security_group_ids)}) do not "
            f"let HTTPS out to the endpoint"
        )
        fixes.append(
            f"{SEED_ENDPOINT_SG} (seed 10.2, 6.1 egress all): aws ec2 "
            f"authorize-security-group-egress --group-id {app.security_group_ids[0]} "
            "--ip-permissions 'IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]'"
        )
    facts = (
        f"{endpoint_id} ({service_name}) {state}, private DNS "
        f"{'on' if endpoint.get('PrivateDnsEnabled') else 'off'}, zones "
        f"{', '.join(sorted(endpoint_zones)) or '-'}"
    )
    if ingress:
        facts += f"; {ingress}"
    if egress:
        facts += f"; {egress}"
    if problems:
        return CheckResult(
            name, FAIL, f"{facts}: {'; '.join(problems + warnings)}", " | ".join(fixes), ref
        )
    if warnings:
        return CheckResult(name, WARN, f"{facts}: {'; '.join(warnings)}", " | ".join(fixes), ref)
    return CheckResult(name, PASS, facts, ref=ref)


def evaluate_s3_reachability(
    region: str,
    app: AppNetwork,
    endpoints: Sequence[Mapping[str, Any]],
    route_tables: Sequence[Mapping[str, Any]],
) -> CheckResult:
    """Every application subnet reaches S3: gateway endpoint on its route table, interface endpoint, or NAT."""
    service_name = _service_name(region, "s3")
    s3_endpoints = [
        e
        for e in endpoints
        if e.get("ServiceName") == service_name
        and e.get("VpcId") == app.vpc_id
        and str(e.get("State", "available")).lower() == "available"
    ]
    interface = [
        e for e in s3_endpoints if str(e.get("VpcEndpointType", "")).lower() == "interface"
    ]
    gateway = [e for e in s3_endpoints if str(e.get("VpcEndpointType", "")).lower() == "gateway"]
    nat = nat_subnets(app, route_tables)
    how: Dict[str, List[str]] = {}
    unreachable: List[str] = []
    for subnet in app.subnet_ids:
        table = route_table_for(subnet, route_tables)
        table_id = str((table or {}).get("RouteTableId", "none"))
        via = [e["VpcEndpointId"] for e in gateway if table_id in (e.get("RouteTableIds") or [])]
        if via:
            how.setdefault(f"route table {table_id} -> gateway endpoint {via[0]}", []).append(
                subnet
            )
        elif subnet in nat:
            how.setdefault(f"route table {table_id} -> NAT {nat[subnet]}", []).append(subnet)
        elif interface:
            how.setdefault(f"interface endpoint {interface[0]['VpcEndpointId']}", []).append(subnet)
        else:
            unreachable.append(f"{subnet} (route table {table_id})")
    if unreachable:
        tables = sorted(
            {
                str((route_table_for(s, route_tables) or {}).get("RouteTableId", "?"))
                for s in app.subnet_ids
            }
        )
        fix = (
            f"add an S3 gateway endpoint on the subnets' route tables: aws ec2 create-vpc-endpoint "
            f"--vpc-id {app.vpc_id} --vpc-endpoint-type Gateway --service-name {service_name} "
            f"--route-table-ids {' '.join(tables)}"
        )
        if gateway:
            fix = (
                f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {gateway[0]['VpcEndpointId']} "
                f"--add-route-table-ids {' '.join(tables)}"
            )
        return CheckResult(
            "s3-reachable",
            FAIL,
            f"no S3 gateway endpoint, S3 interface endpoint or NAT route for "
            f"{', '.join(unreachable)}: jobs cannot fetch the JAR, code or write logs to S3",
            fix,
            "4.1",
        )
    evidence = "; ".join(f"{', '.join(subnets)}: {path}" for path, subnets in how.items())
    return CheckResult("s3-reachable", PASS, evidence, ref="4.1")


def is_rds_host(host: str) -> bool:
    """True for an RDS/Aurora endpoint name (``*.rds.amazonaws.com``)."""
    return bool(_RDS_HOST.search(host))


def find_database(
    host: str, clusters: Sequence[Mapping[str, Any]], instances: Sequence[Mapping[str, Any]]
) -> Optional[Tuple[str, List[str], Optional[int]]]:
    """The cluster or instance answering at ``host``: (description, security group ids, port)."""
    wanted = host.lower().rstrip(".")
    for cluster in clusters:
        names = [cluster.get("Endpoint"), cluster.get("ReaderEndpoint")]
        names += list(cluster.get("CustomEndpoints") or [])
        if wanted in {str(n).lower() for n in names if n}:
            groups = [str(g["VpcSecurityGroupId"]) for g in cluster.get("VpcSecurityGroups") or []]
            return f"cluster {cluster.get('DBClusterIdentifier')}", groups, cluster.get("Port")
    for instance in instances:
        address = str((instance.get("Endpoint") or {}).get("Address", "")).lower()
        if address == wanted:
            groups = [str(g["VpcSecurityGroupId"]) for g in instance.get("VpcSecurityGroups") or []]
            port = (instance.get("Endpoint") or {}).get("Port")
            return f"instance {instance.get('DBInstanceIdentifier')}", groups, port
    return None


def evaluate_database_ingress(
    connection_name: str,
    host: str,
    port: int,
    database: Optional[Tuple[str, List[str], Optional[int]]],
    app: AppNetwork,
    security_groups: Mapping[str, Mapping[str, Any]],
    vpc_cidrs: Sequence[str],
) -> CheckResult:
    """The database's security groups admit ``port`` from the application's (seed 6.2, 10.4)."""
    name = f"db-ingress:{connection_name}"
    if database is None:
        return CheckResult(
            name,
            WARN,
            f"{host} looks like an RDS endpoint but no DB cluster or instance in this account and "
            "region answers at it; its security groups were not checked",
            f"check that the host is right, or run the doctor with credentials of the database's "
            f"account and region; then: {SEED_DB_SG} (seed 10.4)",
            "10.4",
        )
    description, group_ids, db_port = database
    groups = [security_groups[g] for g in group_ids if g in security_groups]
    facts = f"{host} is {description} with security groups {', '.join(group_ids) or '-'}"
    notes: List[str] = []
    if db_port and int(db_port) != port:
        notes.append(f"the database listens on {db_port} but the connection uses {port}")
    other_vpcs = sorted(
        {str(g.get("VpcId")) for g in groups if g.get("VpcId") not in (None, app.vpc_id)}
    )
    ingress = find_rule(groups, port, app.security_group_ids, app.cidrs)
    app_groups = [security_groups[g] for g in app.security_group_ids if g in security_groups]
    egress = find_rule(app_groups, port, group_ids, vpc_cidrs, egress=True)
    if ingress is None:
        target = group_ids[0] if group_ids else "<database security group>"
        return CheckResult(
            name,
            FAIL,
            f"{facts}; none admits tcp/{port} from the application's security groups "
            f"({', '.join(app.security_group_ids)}) or subnets: the job fails with a PostgreSQL "
            "connection timeout",
            f"{SEED_DB_SG} (seed 10.4): aws ec2 authorize-security-group-ingress --group-id "
            f"{target} --protocol tcp --port {port} --source-group {app.security_group_ids[0]}",
            "10.4",
        )
    if egress is None:
        return CheckResult(
            name,
            FAIL,
            f"{facts}; {ingress}, but the application's security groups do not let tcp/{port} out",
            f"{SEED_DB_NETWORK} (seed 10.4, 6.1 egress all): aws ec2 "
            f"authorize-security-group-egress --group-id {app.security_group_ids[0]} --protocol "
            f"tcp --port {port} --source-group {group_ids[0] if group_ids else '<database sg>'}",
            "10.4",
        )
    if other_vpcs:
        notes.append(
            f"the database is in {', '.join(other_vpcs)}, not the application's {app.vpc_id}: "
            "routes (peering or transit gateway) were not checked"
        )
    if notes:
        return CheckResult(
            name,
            WARN,
            f"{facts}; {ingress}; {'; '.join(notes)}",
            f"{SEED_DB_NETWORK} (seed 10.4)",
            "10.4",
        )
    return CheckResult(name, PASS, f"{facts}; {ingress}; {egress}", ref="10.4")


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


@dataclass
class DoctorContext:
    """What the checks learn along the way and later checks use."""

    settings: Settings
    reader: AwsReader
    role_arn: Optional[str] = None
    secret_arns: Dict[str, str] = field(default_factory=dict)
    hosts: Dict[str, Tuple[str, int]] = field(default_factory=dict)
    app: Optional[AppNetwork] = None
    simulation_error: Optional[str] = None


def _lookup_failed(name: str, error: AwsLookupError, ref: str = "", what: str = "") -> CheckResult:
    fix = (
        f"give the caller the {error.operation} permission, or run the doctor as a role that has it"
        if error.denied
        else f"check {what or 'the id'} in the settings and the account/region the doctor runs in"
    )
    return CheckResult(name, FAIL, str(error), fix, ref)


def check_jar(ctx: DoctorContext) -> CheckResult:
    """The JDBC JAR exists at jdbc_driver_path and is the PostgreSQL driver (seed 4.1, 10.1)."""
    path = ctx.settings.postgres.jdbc_driver_path
    if not path:
        return CheckResult(
            "jdbc-jar",
            FAIL,
            f"{ctx.settings.source}: postgres.jdbc_driver_path is not set: jobs fail with "
            f"ClassNotFoundException: {DRIVER_CLASS}",
            f"{SEED_JAR_MISSING} (seed 10.1): set postgres.jdbc_driver_path to "
            "s3://<bucket>/jars/postgresql-<version>.jar (seed 4.1, 5.1)",
            "10.1",
        )
    if not path.startswith("s3://"):
        local = Path(path)
        if not local.is_file():
            return CheckResult(
                "jdbc-jar",
                FAIL,
                f"{path}: no such file",
                f"{SEED_JAR_MISSING} (seed 10.1): point jdbc_driver_path at the JAR",
                "10.1",
            )
        result = evaluate_jar(local.read_bytes(), path)
        if result.status == PASS:
            return CheckResult(
                "jdbc-jar",
                WARN,
                f"{result.evidence}; a local path works for local runs only",
                "for EMR, upload the JAR to S3 in the application's region and set "
                "jdbc_driver_path to its s3:// URI (seed 4.1)",
                "4.1",
            )
        return result
    from connectors.aws import parse_s3_uri

    try:
        bucket, key = parse_s3_uri(path)
    except ValueError as exc:
        return CheckResult("jdbc-jar", FAIL, str(exc), SEED_JAR_MISSING, "10.1")
    try:
        data = ctx.reader.read_s3_object(bucket, key)
    except AwsLookupError as exc:
        if exc.not_found:
            return CheckResult(
                "jdbc-jar",
                FAIL,
                f"{path}: {exc.code}: jobs fail with ClassNotFoundException: {DRIVER_CLASS}",
                f"{SEED_JAR_IN_S3} (seed 10.1): aws s3 cp postgresql-42.7.13.jar {path}",
                "10.1",
            )
        return _lookup_failed("jdbc-jar", exc, "10.1", "jdbc_driver_path")
    result = evaluate_jar(data, path)
    try:
        region = ctx.reader.bucket_region(bucket)
    except AwsLookupError:
        return result
    if region != ctx.reader.region_name:
        return CheckResult(
            "jdbc-jar",
            FAIL,
            f"{result.evidence}; but the bucket is in {region}, not {ctx.reader.region_name}",
            "EMR Serverless reads jars from S3 in its own region: copy the JAR to a bucket in "
            f"{ctx.reader.region_name} and update jdbc_driver_path",
            "4.1",
        )
    return result


def check_secret(ctx: DoctorContext, connection: ConnectionSettings) -> CheckResult:
    """The connection's secret exists and has the expected keys, read with the caller's permissions."""
    from connectors.secrets import resolve_credentials

    name = f"secret:{connection.name}"
    try:
        caller = ctx.reader.caller_arn()
    except AwsLookupError:
        caller = "the caller"
    try:
        credentials = resolve_credentials(connection, refresh=True)
    except CredentialsError as exc:
        return CheckResult(
            name,
            FAIL,
            f"{connection.credential_source} read as {caller}: {type(exc).__name__}",
            str(exc),
            "10.3" if connection.secret_arn else "7.1",
        )
    host = connection.host or credentials.host
    if host:
        ctx.hosts[connection.name] = (host, connection.port or credentials.port or 5432)
    keys = ["username", "password"] + [
        k for k in ("host", "port", "database", "engine") if getattr(credentials, k) is not None
    ]
    evidence = f"{credentials.source} read as {caller}: keys {', '.join(keys)}"
    if connection.secret_arn is None:
        return CheckResult(
            name,
            WARN,
            f"{evidence}; local credentials do not reach an EMR job",
            "store the credentials in Secrets Manager and set secret_arn (seed 7.1)",
            "7.1",
        )
    try:
        ctx.secret_arns[connection.name] = ctx.reader.secret_arn(connection.secret_arn)
    except AwsLookupError:
        ctx.secret_arns[connection.name] = connection.secret_arn
    return CheckResult(name, PASS, evidence, ref="7.1")


def _decide(
    ctx: DoctorContext, role_arn: str, action: str, resource: str
) -> Tuple[PolicyDecision, str]:
    """Simulate if possible, else read the role's policy documents; say which evidence was used."""
    if ctx.simulation_error is None:
        try:
            return (
                decision_from_simulation(ctx.reader.simulate(role_arn, action, resource)),
                "IAM policy simulation (iam:SimulatePrincipalPolicy)",
            )
        except AwsLookupError as exc:
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
    """Execution role: trusts EMR Serverless; may read each secret and the JAR (seed 2, 10.3)."""
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
                "2.1",
            )
        ]
    try:
        role = ctx.reader.role(role_name_from_arn(role_arn))
    except AwsLookupError as exc:
        name = role_name_from_arn(role_arn)
        if exc.not_found:
            return [
                CheckResult(
                    "role-trust",
                    FAIL,
                    f"{role_arn}: no such role ({exc.code})",
                    f"create the execution role {name} trusted by {EMR_SERVERLESS_PRINCIPAL} "
                    "(seed 2.1), or fix --role-arn",
                    "2.1",
                )
            ]
        return [_lookup_failed("role-trust", exc, "2.1", "--role-arn")]
    results = [evaluate_trust(role)]
    try:
        for connection in connections:
            secret_arn = ctx.secret_arns.get(connection.name, str(connection.secret_arn))
            decision, method = _decide(ctx, role_arn, "secretsmanager:GetSecretValue", secret_arn)
            results.append(
                evaluate_role_permission(
                    f"role-secret:{connection.name}",
                    role_arn,
                    decision,
                    method,
                    secrets_policy_fix(role_arn, secret_arn),
                    "10.3",
                )
            )
        path = ctx.settings.postgres.jdbc_driver_path
        if path and path.startswith("s3://"):
            from connectors.aws import parse_s3_uri

            bucket, key = parse_s3_uri(path)
            object_arn = f"arn:aws:s3:::{bucket}/{key}"
            decision, method = _decide(ctx, role_arn, "s3:GetObject", object_arn)
            results.append(
                evaluate_role_permission(
                    "role-jar",
                    role_arn,
                    decision,
                    method,
                    jar_policy_fix(role_arn, object_arn),
                    "10.1",
                )
            )
    except AwsLookupError as exc:
        results.append(_lookup_failed("role-permissions", exc, "2.2"))
    return results


def check_applications(ctx: DoctorContext) -> List[CheckResult]:
    """Both applications exist; the PostgreSQL one has a network configuration (seed 3.1)."""
    spark = ctx.settings.spark
    wanted: List[Tuple[str, str, bool]] = []
    if spark.emr_postgres_application_id:
        wanted.append(("app-postgres", spark.emr_postgres_application_id, True))
    if spark.emr_application_id and spark.emr_application_id != spark.emr_postgres_application_id:
        wanted.append(("app-default", spark.emr_application_id, False))
    results = []
    for name, app_id, needs_network in wanted:
        try:
            application = ctx.reader.application(app_id)
        except AwsLookupError as exc:
            if exc.not_found or exc.code == "ValidationException":
                key = "emr_postgres_application_id" if needs_network else "emr_application_id"
                results.append(
                    CheckResult(
                        name,
                        FAIL,
                        f"{app_id}: no such EMR Serverless application in {ctx.reader.region_name} "
                        f"({exc.code})",
                        f"check spark.{key} in the settings, or create the application (seed 3.1)",
                        "3.1",
                    )
                )
            else:
                results.append(_lookup_failed(name, exc, "3.1"))
            continue
        result = evaluate_application(name, application, needs_network=needs_network)
        results.append(result)
        network = application.get("networkConfiguration") or {}
        if needs_network and network.get("subnetIds") and network.get("securityGroupIds"):
            ctx.app = None
            try:
                subnets = ctx.reader.subnets(network["subnetIds"])
                ctx.app = AppNetwork.from_subnets(subnets, network["securityGroupIds"])
            except (AwsLookupError, ValueError) as exc:
                results.append(
                    CheckResult(
                        "app-network",
                        FAIL,
                        f"{app_id}: subnets {', '.join(network['subnetIds'])}: {exc}",
                        "update the application's network configuration with private subnets of "
                        "one VPC (seed 3.1, 6.2)",
                        "3.1",
                    )
                )
    return results


def check_network(ctx: DoctorContext) -> List[CheckResult]:
    """VPC endpoints, S3 reachability and database ingress for the PostgreSQL application's VPC."""
    app = ctx.app
    connections = ctx.settings.enabled_connections
    if app is None:
        reason = "the PostgreSQL application's network configuration could not be read"
        skipped = ["endpoint-logs", "endpoint-secretsmanager", "s3-reachable"]
        skipped += [f"db-ingress:{c.name}" for c in connections]
        return [CheckResult(name, SKIP, reason) for name in skipped]
    region = ctx.reader.region_name
    results: List[CheckResult] = []
    try:
        endpoints = ctx.reader.vpc_endpoints(app.vpc_id)
        route_tables = ctx.reader.route_tables(app.vpc_id)
        vpc_subnets = {str(s["SubnetId"]): s for s in ctx.reader.vpc_subnets(app.vpc_id)}
        group_ids: Set[str] = set(app.security_group_ids)
        for endpoint in endpoints:
            group_ids.update(str(g["GroupId"]) for g in endpoint.get("Groups") or [])
        groups = {str(g["GroupId"]): g for g in ctx.reader.security_groups(sorted(group_ids))}
    except AwsLookupError as exc:
        return [_lookup_failed("vpc", exc, "1")]
    nat = nat_subnets(app, route_tables)
    for service in ("logs", "secretsmanager"):
        results.append(
            evaluate_interface_endpoint(service, region, app, endpoints, groups, vpc_subnets, nat)
        )
    results.append(evaluate_s3_reachability(region, app, endpoints, route_tables))
    results.extend(
        _check_databases(ctx, app, groups, [str(s["CidrBlock"]) for s in vpc_subnets.values()])
    )
    return results


def _check_databases(
    ctx: DoctorContext,
    app: AppNetwork,
    groups: Dict[str, Dict[str, Any]],
    vpc_cidrs: List[str],
) -> List[CheckResult]:
    results: List[CheckResult] = []
    clusters: Optional[List[Dict[str, Any]]] = None
    instances: List[Dict[str, Any]] = []
    for connection in ctx.settings.enabled_connections:
        name = f"db-ingress:{connection.name}"
        host, port = ctx.hosts.get(
            connection.name, (connection.host or "", connection.port or 5432)
        )
        if not host:
            results.append(
                CheckResult(name, SKIP, "host unknown (not in the settings, secret unread)")
            )
            continue
        if not is_rds_host(host):
            results.append(
                CheckResult(
                    name,
                    SKIP,
                    f"{host} is not an RDS/Aurora endpoint name: its security groups cannot be "
                    "looked up",
                    ref="10.4",
                )
            )
            continue
        try:
            if clusters is None:
                clusters = ctx.reader.db_clusters()
                instances = ctx.reader.db_instances()
            database = find_database(host, clusters, instances)
            if database is not None:
                missing = [g for g in database[1] if g not in groups]
                if missing:
                    groups.update(
                        {str(g["GroupId"]): g for g in ctx.reader.security_groups(missing)}
                    )
        except AwsLookupError as exc:
            results.append(_lookup_failed(name, exc, "10.4"))
            continue
        results.append(
            evaluate_database_ingress(connection.name, host, port, database, app, groups, vpc_cidrs)
        )
    return results


ProbeRunner = Callable[[Settings, Optional[str]], List[CheckResult]]


def run_doctor(
    settings_source: Union[str, Path],
    *,
    role_arn: Optional[str] = None,
    reader: Optional[AwsReader] = None,
    probe: Optional[ProbeRunner] = None,
) -> List[CheckResult]:
    """Run every check; the results in a stable order. ``probe`` runs the ``--probe`` job.

    The role ARN defaults to ``spark.emr_execution_role_arn`` from the settings.
    """
    try:
        settings = load_settings(settings_source)
    except SettingsError as exc:
        return [
            CheckResult(
                "settings",
                FAIL,
                str(exc),
                "Backend settings.json configured with correct ARNs and paths (seed checklist 8); "
                "fix the fields named above (seed 5.1 has the format)",
                "5.1",
            )
        ]
    results = [CheckResult("settings", PASS, f"{settings.source}: valid", ref="5.1")]
    results.extend(evaluate_settings_content(settings))
    role = role_arn or getattr(settings.spark, "emr_execution_role_arn", None)
    ctx = DoctorContext(settings=settings, reader=reader or AwsReader(), role_arn=role)
    results.append(check_jar(ctx))
    for connection in settings.enabled_connections:
        results.append(check_secret(ctx, connection))
    results.extend(check_role(ctx))
    results.extend(check_applications(ctx))
    if settings.spark.emr_postgres_application_id:
        results.extend(check_network(ctx))
    if probe is not None:
        if any(r.status == FAIL for r in results):
            results.append(
                CheckResult(
                    "probe",
                    SKIP,
                    "not submitted: fix the failing checks first (a probe would fail)",
                )
            )
        else:
            results.extend(probe(settings, role))
    return results


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def summary(results: Sequence[CheckResult]) -> Dict[str, int]:
    """How many checks ended in each status."""
    return {status: sum(1 for r in results if r.status == status) for status in STATUSES}


def render_json(results: Sequence[CheckResult]) -> str:
    """The report as JSON for CI: ``ok``, counts, and every check."""
    return json.dumps(
        {
            "ok": passed(results),
            "summary": summary(results),
            "checks": [r.to_dict() for r in results],
        },
        indent=2,
    )


def render_table(results: Sequence[CheckResult], width: int = 110) -> str:
    """A readable table: status, check, evidence; the fix under every warn/fail."""
    name_width = max([len(r.name) for r in results] + [5])
    indent = " " * (7 + name_width + 2)
    text_width = max(40, width - len(indent))
    lines = [f"{'STATUS':<7}{'CHECK':<{name_width + 2}}EVIDENCE"]
    for r in results:
        status = r.status.upper() if r.status in (FAIL, WARN) else r.status
        evidence = textwrap.wrap(
            r.evidence, text_width, break_long_words=False, break_on_hyphens=False
        ) or [""]
        lines.append(f"{status:<7}{r.name:<{name_width + 2}}{evidence[0]}")
        lines.extend(indent + line for line in evidence[1:])
        if r.fix and r.status in (FAIL, WARN):
            fix = textwrap.wrap(
                f"fix: {r.fix}",
                text_width,
                break_long_words=False,
                break_on_hyphens=False,
            )
            lines.extend(indent + line for line in fix)
    counts = summary(results)
    verdict = "OK" if passed(results) else "FAILED"
    lines.append(
        f"\n{verdict}: {counts[PASS]} passed, {counts[WARN]} warnings, {counts[FAIL]} failed, "
        f"{counts[SKIP]} skipped"
    )
    return "\n".join(lines)
