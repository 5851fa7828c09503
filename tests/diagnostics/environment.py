"""A healthy sparkpg deployment built with boto3 against a moto server, the seed's resources one by one.

:func:`build_healthy` creates, in us-east-1 of moto's default account:

- a VPC with three private subnets (one per zone) sharing one route table without a NAT route;
- the EMR security group (self-referencing ingress, egress all: seed 6.1), one security group per
  interface endpoint admitting HTTPS from it, and the database's admitting 5432 from it (6.2);
- interface endpoints for CloudWatch Logs and Secrets Manager with private DNS (seed 1) and an
  S3 gateway endpoint on the route table;
- the execution role trusted by EMR Serverless, with EMRSecretsManagerPolicy (seed 2.2) and an S3
  read policy (2.3);
- the secret ``spark/postgres/aurora`` (seed 7.1), the JDBC JAR in S3 (seed 4.1);
- both EMR Serverless applications, the PostgreSQL one with the network configuration (seed 3.1);
- an Aurora PostgreSQL cluster; the settings point at its reader endpoint, as the seed's do.

Knobs (keyword arguments) build a variant that the API cannot reach after the fact (moto ignores
``ModifyVpcEndpoint(PrivateDnsEnabled=False)``, for instance).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence

import boto3

from tests.note_account import EMR_SERVERLESS_TRUST

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "sparkpg-artifacts-123456789012"
JAR_KEY = "jars/postgresql-42.7.13.jar"
SECRET_NAME = "spark/postgres/aurora"
ROLE_NAME = "EMRServerlessExecutionRole"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def fake_driver_jar(version: str = "42.7.13", *, driver: bool = True) -> bytes:
    """A small JAR shaped like pgjdbc's: Driver class, service registration, manifest version."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as jar:
        jar.writestr(
            "META-INF/MANIFEST.MF",
            f"Manifest-Version: 1.0\nBundle-Name: PostgreSQL JDBC Driver\n"
            f"Bundle-Version: {version}\nImplementation-Version: {version}\n",
        )
        if driver:
            jar.writestr("org/postgresql/Driver.class", b"\xca\xfe\xba\xbe")
            jar.writestr("META-INF/services/java.sql.Driver", "org.postgresql.Driver\n")
        else:
            jar.writestr("com/example/Other.class", b"\xca\xfe\xba\xbe")
    return buffer.getvalue()


@dataclass
class Environment:
    """Ids of what :func:`build_healthy` created, and clients to break it with."""

    endpoint_url: str
    settings_path: Path
    settings: Dict[str, Any]
    role_arn: str
    vpc_id: str
    subnet_ids: List[str]
    route_table_id: str
    emr_sg: str
    db_sg: str
    endpoint_sgs: Dict[str, str]
    endpoints: Dict[str, str]
    secret_arn: str
    postgres_app: str
    default_app: str
    db_host: str
    clients: Dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """A boto3 client on the moto server."""
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service, endpoint_url=self.endpoint_url, region_name=REGION
            )
        return self.clients[service]

    def write_settings(self, settings: Dict[str, Any]) -> None:
        """Replace the settings file."""
        self.settings = settings
        self.settings_path.write_text(json.dumps(settings, indent=2), encoding="utf-8")


def _ingress_from_group(ec2: Any, group_id: str, source: str, port: int) -> None:
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "UserIdGroupPairs": [{"GroupId": source}],
            }
        ],
    )


def build_healthy(
    endpoint_url: str,
    directory: Path,
    *,
    private_dns_off: Sequence[str] = (),
    postgres_app_network: bool = True,
) -> Environment:
    """Create the healthy deployment (see the module docstring); returns its ids."""

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint_url, region_name=REGION)

    ec2, iam, s3, sm, emr, rds = (
        client(s) for s in ("ec2", "iam", "s3", "secretsmanager", "emr-serverless", "rds")
    )

    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    # Private DNS on the interface endpoints needs DNS host names (AWS, and the moto server, refuse it).
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.20.{i + 1}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate(ZONES)
    ]
    route_table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    for subnet in subnet_ids:
        ec2.associate_route_table(RouteTableId=route_table_id, SubnetId=subnet)

    def group(name: str) -> str:
        return str(
            ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]
        )

    emr_sg = group("sparkpg-emr")
    ec2.authorize_security_group_ingress(
        GroupId=emr_sg,
        IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": emr_sg}]}],
    )
    endpoint_sgs: Dict[str, str] = {}
    endpoints: Dict[str, str] = {}
    for service in ("logs", "secretsmanager"):
        endpoint_sgs[service] = group(f"sparkpg-vpce-{service}")
        _ingress_from_group(ec2, endpoint_sgs[service], emr_sg, 443)
        endpoints[service] = ec2.create_vpc_endpoint(
            VpcId=vpc_id,
            ServiceName=f"com.amazonaws.{REGION}.{service}",
            VpcEndpointType="Interface",
            SubnetIds=subnet_ids,
            SecurityGroupIds=[endpoint_sgs[service]],
            PrivateDnsEnabled=service not in private_dns_off,
        )["VpcEndpoint"]["VpcEndpointId"]
    endpoints["s3"] = ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[route_table_id],
    )["VpcEndpoint"]["VpcEndpointId"]

    db_sg = group("sparkpg-db")
    _ingress_from_group(ec2, db_sg, emr_sg, 5432)
    cluster = rds.create_db_cluster(
        DBClusterIdentifier="pg-database",
        Engine="aurora-postgresql",
        MasterUsername="postgres",
        MasterUserPassword="not-the-secret-1",
        VpcSecurityGroupIds=[db_sg],
        Port=5432,
    )["DBCluster"]

    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=JAR_KEY, Body=fake_driver_jar())
    secret_arn = sm.create_secret(
        Name=SECRET_NAME, SecretString=json.dumps({"username": "spark", "password": "s3cr3t"})
    )["ARN"]

    trust = EMR_SERVERLESS_TRUST
    role_arn = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="EMRSecretsManagerPolicy",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "secretsmanager:GetSecretValue",
                            "secretsmanager:DescribeSecret",
                        ],
                        "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:spark/postgres/*",
                    }
                ],
            }
        ),
    )
    iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="EMRServerlessS3Policy",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                    }
                ],
            }
        ),
    )

    network = (
        {"networkConfiguration": {"subnetIds": subnet_ids, "securityGroupIds": [emr_sg]}}
        if postgres_app_network
        else {}
    )
    postgres_app = emr.create_application(
        name="spark-postgres-interpreter-app",
        releaseLabel="emr-7.0.0",
        type="Spark",
        architecture="X86_64",
        **network,
    )["applicationId"]
    default_app = emr.create_application(name="spark-app", releaseLabel="emr-7.0.0", type="Spark")[
        "applicationId"
    ]

    settings = {
        "spark": {
            "emr_application_id": default_app,
            "emr_postgres_application_id": postgres_app,
        },
        "postgres": {
            "jdbc_driver_path": f"s3://{BUCKET}/{JAR_KEY}",
            "connections": [
                {
                    "name": "aurora",
                    "secret_arn": secret_arn,
                    "host": cluster["ReaderEndpoint"],
                    "port": 5432,
                    "database": "postgres",
                    "auth_method": "user_password",
                    "enabled": True,
                }
            ],
        },
    }
    environment = Environment(
        endpoint_url=endpoint_url,
        settings_path=directory / "settings.json",
        settings=settings,
        role_arn=role_arn,
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        route_table_id=route_table_id,
        emr_sg=emr_sg,
        db_sg=db_sg,
        endpoint_sgs=endpoint_sgs,
        endpoints=endpoints,
        secret_arn=secret_arn,
        postgres_app=postgres_app,
        default_app=default_app,
        db_host=cluster["ReaderEndpoint"],
    )
    environment.write_settings(settings)
    return environment
