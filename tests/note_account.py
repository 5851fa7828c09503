"""The infrastructure note's execution role, for tests that build the note's account on moto.

Section 2 of the note: ``EMRServerlessExecutionRole``, trusted by EMR Serverless, with its own
inline policies ``EMRServerlessS3Policy`` (S3 read/write and CloudWatch Logs) and
``EMRSecretsManagerPolicy`` (the secrets under ``spark/postgres/``). Tests check that sparkpg
never changes them.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Union

ROLE_NAME = "EMRServerlessExecutionRole"

EMR_SERVERLESS_TRUST: Dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "emr-serverless.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def note_policies(account: str, s3_resources: Union[str, List[str]]) -> Dict[str, Dict[str, Any]]:
    """The note's two inline policies, for ``account`` and the S3 resources they grant."""
    return {
        "EMRServerlessS3Policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                    "Resource": s3_resources,
                },
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "*",
                },
            ],
        },
        "EMRSecretsManagerPolicy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": f"arn:aws:secretsmanager:us-east-1:{account}:secret:spark/postgres/*",
                }
            ],
        },
    }


def create_note_role(iam: Any, policies: Dict[str, Dict[str, Any]]) -> str:
    """Create the note's role with ``policies`` as its inline policies; its ARN."""
    arn = iam.create_role(
        RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(EMR_SERVERLESS_TRUST)
    )["Role"]["Arn"]
    put_inline_policies(iam, policies)
    return str(arn)


def put_inline_policies(iam: Any, policies: Dict[str, Dict[str, Any]]) -> None:
    for name, document in policies.items():
        iam.put_role_policy(
            RoleName=ROLE_NAME, PolicyName=name, PolicyDocument=json.dumps(document)
        )


def inline_policies(iam: Any) -> Dict[str, Any]:
    """The role's inline policies by name, as documents."""
    found = {}
    for name in iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=ROLE_NAME, PolicyName=name)["PolicyDocument"]
        found[name] = json.loads(document) if isinstance(document, str) else document
    return found
