"""The one botocore error translator (connectors.aws.aws_error): action, code, fix, our types."""

from __future__ import annotations

from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from connectors.aws import aws_error, error_code
from connectors.errors import AwsRequestError, SecretAccessDeniedError, SparkPgError


def _client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "GetObject",
    )


def test_client_error_names_action_code_message_and_fix() -> None:
    error = aws_error("reading s3://b/k", _client_error("NoSuchKey", "The key does not exist"))
    assert isinstance(error, AwsRequestError) and isinstance(error, SparkPgError)
    assert str(error) == (
        "reading s3://b/k: NoSuchKey: The key does not exist (the object does not exist)"
    )
    assert (error.action, error.code, error.fix) == (
        "reading s3://b/k",
        "NoSuchKey",
        "the object does not exist",
    )
    assert error.not_found and not error.denied


def test_caller_fixes_and_kinds_take_precedence() -> None:
    error = aws_error(
        "GetSecretValue x",
        _client_error("AccessDeniedException"),
        fixes={"AccessDeniedException": "grant secretsmanager:GetSecretValue"},
        kinds={"AccessDeniedException": SecretAccessDeniedError},
    )
    assert isinstance(error, SecretAccessDeniedError) and isinstance(error, PermissionError)
    assert (
        str(error)
        == "GetSecretValue x: AccessDeniedException (grant secretsmanager:GetSecretValue)"
    )
    assert error.denied


def test_status_code_when_aws_gives_no_code() -> None:
    error = ClientError({"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "HeadObject")
    assert error_code(error) == "403"
    assert aws_error("HeadObject", error).denied


def test_network_and_credential_errors_use_the_class_name() -> None:
    unreachable = aws_error("logs:GetLogEvents", EndpointConnectionError(endpoint_url="http://x"))
    assert unreachable.code == "EndpointConnectionError"
    assert "VPC endpoint" in unreachable.fix
    missing = aws_error("sts:GetCallerIdentity", NoCredentialsError())
    assert missing.code == "NoCredentialsError"
    assert "default credential chain" in str(missing)
