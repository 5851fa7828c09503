"""The test harness itself: skip-or-fail without Terraform, and the moto server's corrections."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.infra.conftest import skip_or_fail
from tests.moto_support import reset_moto


def test_skip_or_fail_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no terraform"):
        skip_or_fail("no terraform")


def test_skip_or_fail_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no terraform.*CI is set"):
        skip_or_fail("no terraform")


@pytest.fixture()
def endpoint_url(moto_server_url: str) -> str:
    """The session's moto server (tests/conftest.py), emptied for the test."""
    reset_moto(moto_server_url)
    return moto_server_url


def _client(service: str, endpoint_url: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_emr_serverless_application_like_the_service(endpoint_url: str) -> None:
    emr = _client("emr-serverless", endpoint_url)
    created = emr.create_application(
        name="app", releaseLabel="emr-7.0.0", type="Spark", architecture="ARM64"
    )
    app = emr.get_application(applicationId=created["applicationId"])["application"]
    assert (app["state"], app["type"], app["architecture"]) == ("CREATED", "Spark", "ARM64")
    default = emr.create_application(name="app2", releaseLabel="emr-7.0.0", type="spark")
    assert (
        emr.get_application(applicationId=default["applicationId"])["application"]["architecture"]
        == "X86_64"
    )
    emr.delete_application(applicationId=created["applicationId"])  # allowed from CREATED


def test_conditional_deny_in_bucket_policy_does_not_block(endpoint_url: str) -> None:
    s3 = _client("s3", endpoint_url)
    s3.create_bucket(Bucket="policy-bucket")
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::policy-bucket", "arn:aws:s3:::policy-bucket/*"],
    }
    conditional = {**statement, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    policy = {"Version": "2012-10-17", "Statement": [conditional]}
    s3.put_bucket_policy(Bucket="policy-bucket", Policy=json.dumps(policy))
    s3.put_object(Bucket="policy-bucket", Key="k", Body=b"x")
    assert s3.get_object(Bucket="policy-bucket", Key="k")["Body"].read() == b"x"

    # An unconditional Deny still denies.
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    s3.put_bucket_policy(Bucket="policy-bucket", Policy=json.dumps(policy))
    with pytest.raises(s3.exceptions.ClientError):
        s3.put_object(Bucket="policy-bucket", Key="k2", Body=b"x")


def test_security_group_rule_description_of_a_referenced_group(endpoint_url: str) -> None:
    ec2 = _client("ec2", endpoint_url)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": group, "Description": "from itself"}],
            }
        ],
    )
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    ingress = [r for r in rules["SecurityGroupRules"] if not r["IsEgress"]]
    assert [r.get("Description") for r in ingress] == ["from itself"]
