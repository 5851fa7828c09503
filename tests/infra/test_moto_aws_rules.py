"""The moto server follows AWS where our code met it: endpoint subnets, private DNS, S3 403, log streams.

Each test states AWS's documented behaviour (the patch in devtools/moto_server.py cites the page)
and fails against moto without the patch.
"""

from __future__ import annotations

import gzip
import urllib.request
from typing import Any, Dict, Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from devtools.moto_server import S3_LIST_BUCKET_TAG, moto_server

REGION = "us-east-1"


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture()
def aws(endpoint_url: str) -> Iterator[str]:
    """An empty account on the module's moto server."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    yield endpoint_url


def _client(service: str, endpoint_url: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _vpc(ec2: Any, *, dns_hostnames: bool = True) -> Dict[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": dns_hostnames})
    subnets = {
        name: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for name, cidr, zone in (
            ("a1", "10.7.1.0/24", "us-east-1a"),
            ("a2", "10.7.2.0/24", "us-east-1a"),
            ("b1", "10.7.3.0/24", "us-east-1b"),
        )
    }
    return {"vpc": vpc, **subnets}


def _interface_endpoint(ec2: Any, vpc: str, subnets: list, private_dns: bool = True) -> Any:
    return ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.logs",
        VpcEndpointType="Interface",
        SubnetIds=subnets,
        PrivateDnsEnabled=private_dns,
    )["VpcEndpoint"]


def test_interface_endpoint_takes_one_subnet_per_zone(aws: str) -> None:
    ec2 = _client("ec2", aws)
    net = _vpc(ec2)
    with pytest.raises(ClientError) as refused:
        _interface_endpoint(ec2, net["vpc"], [net["a1"], net["a2"], net["b1"]])
    error = refused.value.response["Error"]
    assert error["Code"] == "DuplicateSubnetsInSameZone"
    assert net["a2"] in error["Message"]
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []

    endpoint = _interface_endpoint(ec2, net["vpc"], [net["a1"], net["b1"]])
    assert sorted(endpoint["SubnetIds"]) == sorted([net["a1"], net["b1"]])
    with pytest.raises(ClientError, match="DuplicateSubnetsInSameZone"):
        ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], AddSubnetIds=[net["a2"]])
    # Swapping the zone's subnet is fine.
    ec2.modify_vpc_endpoint(
        VpcEndpointId=endpoint["VpcEndpointId"],
        AddSubnetIds=[net["a2"]],
        RemoveSubnetIds=[net["a1"]],
    )


def test_gateway_endpoints_are_not_limited_by_zone(aws: str) -> None:
    ec2 = _client("ec2", aws)
    net = _vpc(ec2)
    table = ec2.create_route_table(VpcId=net["vpc"])["RouteTable"]["RouteTableId"]
    endpoint = ec2.create_vpc_endpoint(
        VpcId=net["vpc"],
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[table],
    )["VpcEndpoint"]
    assert endpoint["VpcEndpointType"] == "Gateway"


def test_private_dns_needs_dns_support_and_hostnames(aws: str) -> None:
    ec2 = _client("ec2", aws)
    net = _vpc(ec2, dns_hostnames=False)
    with pytest.raises(ClientError) as refused:
        _interface_endpoint(ec2, net["vpc"], [net["a1"]])
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    assert "enableDnsHostnames" in refused.value.response["Error"]["Message"]
    # Without private DNS the endpoint is allowed; with both attributes, private DNS is too.
    _interface_endpoint(ec2, net["vpc"], [net["a1"]], private_dns=False)
    ec2.modify_vpc_attribute(VpcId=net["vpc"], EnableDnsHostnames={"Value": True})
    assert _interface_endpoint(ec2, net["vpc"], [net["b1"]])["PrivateDnsEnabled"] is True


def test_a_second_private_dns_endpoint_for_a_service_is_refused(aws: str) -> None:
    """AWS refuses a second interface endpoint with private DNS for one service in one VPC.

    terraform-provider-aws issue 17535 quotes the service's answer; the infrastructure note's VPC
    already has such endpoints for Logs and Secrets Manager.
    """
    ec2 = _client("ec2", aws)
    net = _vpc(ec2)
    first = _interface_endpoint(ec2, net["vpc"], [net["a1"], net["b1"]])
    with pytest.raises(ClientError) as refused:
        _interface_endpoint(ec2, net["vpc"], [net["a2"]])
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameter"
    assert error["Message"] == (
        "private-dns-enabled cannot be set because there is already a conflicting DNS domain "
        f"for logs.{REGION}.amazonaws.com in the VPC {net['vpc']}"
    )
    # Without private DNS a second endpoint is allowed; so is private DNS for another service,
    # or in another VPC, or once the first endpoint is gone.
    _interface_endpoint(ec2, net["vpc"], [net["a2"]], private_dns=False)
    ec2.create_vpc_endpoint(
        VpcId=net["vpc"],
        ServiceName=f"com.amazonaws.{REGION}.secretsmanager",
        VpcEndpointType="Interface",
        SubnetIds=[net["a1"]],
        PrivateDnsEnabled=True,
    )
    ec2.delete_vpc_endpoints(VpcEndpointIds=[first["VpcEndpointId"]])
    assert _interface_endpoint(ec2, net["vpc"], [net["b1"]])["PrivateDnsEnabled"] is True


def test_bucket_policy_conditions_are_evaluated_as_aws_would(aws: str) -> None:
    """Patch 4: a conditional Deny applies when its condition holds for the request, as in AWS.

    Requests of sparkpg's clients reach AWS over TLS, so the module's "Deny unless
    aws:SecureTransport" lets them through; a Deny for callers outside another account applies.
    """
    import json

    s3 = _client("s3", aws)
    s3.create_bucket(Bucket="policy-bucket")
    s3.put_object(Bucket="policy-bucket", Key="k", Body=b"x")

    def deny(condition: Dict[str, Any]) -> None:
        statement = {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::policy-bucket/*",
            "Condition": condition,
        }
        document = {"Version": "2012-10-17", "Statement": [statement]}
        s3.put_bucket_policy(Bucket="policy-bucket", Policy=json.dumps(document))

    def readable() -> bool:
        try:
            s3.get_object(Bucket="policy-bucket", Key="k")
        except ClientError as exc:
            assert exc.response["Error"]["Code"] in ("403", "AccessDenied")
            return False
        return True

    deny({"Bool": {"aws:SecureTransport": "false"}})
    assert readable()  # TLS: the condition does not hold
    deny({"StringNotEquals": {"aws:PrincipalAccount": "999999999999"}})
    assert not readable()  # the caller's account is not 999999999999: denied, as AWS would
    deny({"StringEquals": {"aws:PrincipalAccount": "999999999999"}})
    assert readable()
    deny({"NumericLessThan": {"s3:TlsVersion": "1.2"}})
    assert readable()
    deny({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}})
    assert not readable()  # the key is absent: ...IfExists holds


def test_missing_key_is_403_for_a_bucket_without_list_bucket(aws: str) -> None:
    s3 = _client("s3", aws)
    for bucket in ("listable", "no-list"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="there", Body=b"x")
    s3.put_bucket_tagging(
        Bucket="no-list", Tagging={"TagSet": [{"Key": S3_LIST_BUCKET_TAG, "Value": "denied"}]}
    )

    def code(call: Any, **kwargs: Any) -> str:
        with pytest.raises(ClientError) as failed:
            call(**kwargs)
        return str(failed.value.response["Error"]["Code"])

    assert code(s3.head_object, Bucket="listable", Key="missing") == "404"
    assert code(s3.get_object, Bucket="listable", Key="missing") == "NoSuchKey"
    assert code(s3.head_object, Bucket="no-list", Key="missing") == "403"
    assert code(s3.get_object, Bucket="no-list", Key="missing") == "AccessDenied"
    assert code(s3.list_objects_v2, Bucket="no-list") == "AccessDenied"
    assert code(s3.list_objects, Bucket="no-list") == "AccessDenied"
    # Keys that exist read as before.
    assert s3.head_object(Bucket="no-list", Key="there")["ContentLength"] == 1
    assert s3.get_object(Bucket="no-list", Key="there")["Body"].read() == b"x"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="listable")["Contents"]] == ["there"]


@pytest.mark.parametrize(
    ("prefix", "expected_prefix"),
    [(None, ""), ("team-a", "team-a")],
    ids=["default", "with-prefix"],
)
def test_driver_logs_go_where_emr_serverless_writes_them(
    aws: str, prefix: Any, expected_prefix: str
) -> None:
    """Default stream ``/applications/<app>/jobs/<run>/SPARK_DRIVER/<type>``; a prefix is prepended."""
    emr, logs, s3 = _client("emr-serverless", aws), _client("logs", aws), _client("s3", aws)
    s3.create_bucket(Bucket="logs-bucket")
    app = emr.create_application(name="a", releaseLabel="emr-7.0.0", type="SPARK")["applicationId"]
    cloudwatch: Dict[str, Any] = {"enabled": True, "logGroupName": "/sparkpg/test"}
    if prefix:
        cloudwatch["logStreamNamePrefix"] = prefix
    run = emr.start_job_run(
        applicationId=app,
        executionRoleArn="arn:aws:iam::123456789012:role/r",
        clientToken=f"token-{expected_prefix or 'none'}",
        jobDriver={"sparkSubmit": {"entryPoint": "s3://b/x.py"}},
        configurationOverrides={
            "monitoringConfiguration": {
                "cloudWatchLoggingConfiguration": cloudwatch,
                "s3MonitoringConfiguration": {"logUri": "s3://logs-bucket/emr/"},
            }
        },
        tags={"moto:states": "RUNNING,FAILED"},
    )["jobRunId"]
    states = [emr.get_job_run(applicationId=app, jobRunId=run)["jobRun"]["state"] for _ in range(3)]
    assert states[-1] == "FAILED", states  # one state per GetJobRun (patch 7)
    streams = logs.describe_log_streams(logGroupName="/sparkpg/test")["logStreams"]
    base = f"{expected_prefix}/applications/{app}/jobs/{run}/SPARK_DRIVER"
    assert sorted(s["logStreamName"] for s in streams) == [f"{base}/stderr", f"{base}/stdout"]
    events = logs.get_log_events(
        logGroupName="/sparkpg/test", logStreamName=f"{base}/stderr", startFromHead=True
    )["events"]
    assert any("Traceback (most recent call last):" in e["message"] for e in events)
    key = f"emr/applications/{app}/jobs/{run}/SPARK_DRIVER/stderr.gz"
    body = s3.get_object(Bucket="logs-bucket", Key=key)["Body"].read()
    assert b"Traceback" in gzip.decompress(body)
