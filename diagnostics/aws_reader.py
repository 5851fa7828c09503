"""The doctor's AWS facade: every AWS call of ``sparkpg doctor``, in one place.

Clients come from the one factory (:func:`connectors.aws.aws_client`); every failure becomes an
:class:`~connectors.errors.AwsRequestError` (through :func:`connectors.aws.aws_error`) naming the
operation and AWS's error code, which the checks turn into a failed or skipped result.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence

from diagnostics.policy import NamedPolicy


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
        from connectors.aws import AWS_ERRORS, aws_error

        try:
            return fn(**kwargs)
        except AWS_ERRORS as exc:
            raise aws_error(operation, exc) from None

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
        """The bucket's region (s3:GetBucketLocation).

        S3 API reference, GetBucketLocation: ``None`` (empty) means us-east-1, and buckets of
        eu-west-1 may answer the legacy ``EU``.
        """
        client = self.client("s3")
        response = self._call("s3:GetBucketLocation", client.get_bucket_location, Bucket=bucket)
        location = str(response.get("LocationConstraint") or "us-east-1")
        return {"EU": "eu-west-1"}.get(location, location)

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
