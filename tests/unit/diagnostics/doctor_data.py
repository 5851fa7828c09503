"""Shared data of the doctor's unit tests (tests/unit/diagnostics/test_doctor_eval.py, test_policy.py, test_probe.py)."""

from __future__ import annotations

SECRET = "arn:aws:secretsmanager:us-east-1:1:secret:spark/postgres/aurora-AbCdEf"

SECRETS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": "arn:aws:secretsmanager:us-east-1:1:secret:spark/postgres/*",
        }
    ],
}

SETTINGS = {
    "spark": {"emr_application_id": "a", "emr_postgres_application_id": "b"},
    "postgres": {
        "jdbc_driver_path": "s3://b/pg.jar",
        "connections": [
            {"name": "aurora", "credentials_env": "AURORA", "host": "db.example.com"},
            {"name": "reporting", "credentials_env": "REPORTING", "host": "db2.example.com"},
            {"name": "old", "credentials_env": "OLD", "host": "db3.example.com", "enabled": False},
        ],
    },
}
