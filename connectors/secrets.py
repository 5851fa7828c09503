"""Credentials for a connection, from AWS Secrets Manager, a local JSON file or the environment.

A secret becomes a typed :class:`Credentials` object at this one seam. Secrets Manager is called
once per secret per process (cached); pass ``refresh=True`` to re-read a secret that may have
rotated (Aurora-managed secrets rotate every 7 days by default).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, Dict, Mapping, Optional, Tuple, cast

from pydantic import BaseModel, ConfigDict, SecretStr

from connectors.errors import (
    AwsEndpointUnreachableError,
    AwsRegionError,
    CredentialsError,
    SecretAccessDeniedError,
    SecretNotFoundError,
    SecretReadError,
)
from connectors.settings import ConnectionSettings

# Key names accepted in a secret or credentials file, first the backend's / AWS RDS's own.
_KEY_ALIASES: Dict[str, Tuple[str, ...]] = {
    "username": ("username", "user", "login"),
    "password": ("password",),
    "host": ("host", "hostname"),
    "port": ("port",),
    "database": ("dbname", "database", "db"),
    "engine": ("engine",),
}

_cache: Dict[str, Credentials] = {}


class _RedactSecretResponses(logging.Filter):
    """botocore logs response bodies at DEBUG, GetSecretValue's SecretString included: drop them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "SecretString" in record.getMessage() or "SecretBinary" in record.getMessage():
            record.msg, record.args = "Response body: <redacted by sparkpg: secret value>", ()
        return True


_cache_lock = threading.Lock()
_redaction_installed = False


def install_secret_redaction() -> None:
    """Drop secret values from botocore's DEBUG response logs; idempotent.

    Called before the first Secrets Manager read (not at import: importing sparkpg changes no
    logging configuration).
    """
    global _redaction_installed
    with _cache_lock:
        if not _redaction_installed:
            logging.getLogger("botocore.parsers").addFilter(_RedactSecretResponses())
            _redaction_installed = True


class Credentials(BaseModel):
    """A user name and password, plus the endpoint fields an RDS-format secret may carry.

    The password is a ``SecretStr``: it shows as ``'**********'`` in reprs, logs and dumps.
    """

    model_config = ConfigDict(frozen=True)

    username: str
    password: SecretStr
    host: Optional[str] = None
    port: Optional[int] = None
    database: Optional[str] = None
    engine: Optional[str] = None
    source: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, source={self.source!r})"

    __str__ = __repr__


def resolve_credentials(connection: ConnectionSettings, *, refresh: bool = False) -> Credentials:
    """The credentials of ``connection`` from its one source; cached per source unless ``refresh``.

    An IAM connection (``auth_method: "iam"``) reads nothing: its user name, and no password
    (each login signs a token on the JVM that opens it, docs/auth.md).
    """
    if connection.auth_method == "iam":
        assert connection.username is not None  # required by the settings' validation
        source = "IAM auth token signed per connection (rds-db:connect)"
        return Credentials(username=connection.username, password=SecretStr(""), source=source)
    key = connection.credential_source
    with _cache_lock:
        if not refresh and key in _cache:
            return _cache[key]
    if connection.secret_arn is not None:
        credentials = _from_secrets_manager(connection.secret_arn)
    elif connection.credentials_file is not None:
        credentials = _from_file(connection)
    else:
        credentials = _from_environment(connection, os.environ)
    with _cache_lock:
        _cache[key] = credentials
    return credentials


def clear_credentials_cache() -> None:
    """Forget every cached credential (tests, and long-lived processes after a rotation)."""
    with _cache_lock:
        _cache.clear()


def credentials_from_mapping(data: Mapping[str, Any], *, source: str) -> Credentials:
    """Build credentials from a parsed secret: ``{"username", "password"}`` or AWS's RDS format."""
    found = {field: _first_key(data, names) for field, names in _KEY_ALIASES.items()}
    missing = [field for field in ("username", "password") if found[field] is None]
    if missing:
        present = ", ".join(sorted(str(k) for k in data)) or "(none)"
        raise CredentialsError(
            f"{source}: missing key(s) {', '.join(missing)}; keys present: {present}. Expected the "
            'format {"username": ..., "password": ...} (optionally host, port, dbname, engine)'
        )
    values = {field: data[key] for field, key in found.items() if key is not None}
    port = values.get("port")
    if port is not None:
        try:
            values["port"] = int(port)
        except (TypeError, ValueError):
            raise CredentialsError(f"{source}: port must be a number, got {port!r}") from None
    for field in ("username", "password", "host", "database", "engine"):
        if field in values and not isinstance(values[field], str):
            raise CredentialsError(f"{source}: {field} must be a string")
    return Credentials(source=source, **values)


def _first_key(data: Mapping[str, Any], names: Tuple[str, ...]) -> Optional[str]:
    return next((name for name in names if data.get(name) not in (None, "")), None)


def _unreachable_fix(region: str) -> str:
    return (
        f"check the Secrets Manager interface VPC endpoint (com.amazonaws.{region}.secretsmanager) "
        "in the job's VPC: it must exist with private DNS on, and its security group must admit "
        "HTTPS (443) from the job's security group; or give the subnets a NAT route "
        "(docs/troubleshooting.md#secrets-manager-access-denied)"
    )


def _from_secrets_manager(secret_id: str) -> Credentials:
    # boto3 only here: a job that reads credentials from a file or the environment needs no AWS.
    from connectors.aws import AWS_ERRORS, NO_REGION_FIX, region_from_arn, secretsmanager_client

    install_secret_redaction()
    source = f"secret {secret_id}"
    try:
        client = secretsmanager_client(region_from_arn(secret_id))
    except AwsRegionError as exc:
        raise AwsRegionError(
            f"cannot read secret {secret_id}: secret_arn is a name, not an ARN, and no AWS region "
            "is configured; give the full ARN (arn:aws:secretsmanager:<region>:<account>:secret:"
            f"...), which names its region, or {NO_REGION_FIX}",
            action=exc.action,
            code=exc.code,
            fix=exc.fix,
        ) from None
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except AWS_ERRORS as exc:
        raise _secret_error(
            exc, secret_id, str(client.meta.region_name), str(client.meta.endpoint_url)
        ) from None
    if "SecretString" not in response:
        raise CredentialsError(
            f"{source} holds SecretBinary; sparkpg needs a SecretString with JSON "
            '{"username": ..., "password": ...}'
        )
    return credentials_from_mapping(_parse_json(response["SecretString"], source), source=source)


def _secret_error(
    exc: BaseException, secret_id: str, region: str, endpoint_url: str
) -> SecretReadError:
    """GetSecretValue's failure as our error, through the one translator (connectors.aws)."""
    from connectors.aws import MAX_ATTEMPTS, aws_error, error_code

    denied = (
        f"access denied reading {secret_id}: the caller (on EMR, the job's execution role) needs "
        "secretsmanager:GetSecretValue on it, e.g. the EMRSecretsManagerPolicy inline policy on "
        "arn:...:secret:spark/postgres/*; if the secret uses a customer-managed KMS key, also "
        "kms:Decrypt. From private subnets also check the Secrets Manager VPC endpoint and its "
        "endpoint policy (docs/troubleshooting.md#secrets-manager-access-denied)"
    )
    messages = {
        "AccessDeniedException": denied,
        "403": denied,
        "AccessDenied": denied,
        "ResourceNotFoundException": f"secret {secret_id} not found in {region}: check secret_arn "
        "in the settings (full ARN or name) and the account/region the job runs in",
        "DecryptionFailure": f"cannot decrypt {secret_id}: the caller needs kms:Decrypt on the "
        "secret's KMS key",
        "NoCredentialsError": f"no AWS credentials to read {secret_id}: configure the default "
        "credential chain (AWS_PROFILE, environment variables, or the EMR execution role)",
    }
    code = error_code(exc)
    what = {
        "EndpointConnectionError": "could not connect to",
        "ConnectTimeoutError": "timed out connecting to",
        "ReadTimeoutError": "got no answer from",
    }
    for name, verb in what.items():
        messages[name] = (
            f"{verb} Secrets Manager at {endpoint_url} ({region}, {name}, after "
            f"{MAX_ATTEMPTS} attempts) reading {secret_id}; {_unreachable_fix(region)}"
        )
    error = aws_error(
        f"secretsmanager:GetSecretValue {secret_id}",
        exc,
        kinds={
            "AccessDeniedException": SecretAccessDeniedError,
            "403": SecretAccessDeniedError,
            "AccessDenied": SecretAccessDeniedError,
            "DecryptionFailure": SecretAccessDeniedError,
            "ResourceNotFoundException": SecretNotFoundError,
            **{name: AwsEndpointUnreachableError for name in what},
        },
        default=SecretReadError,
        message=messages.get(code)
        or f"Secrets Manager refused GetSecretValue on {secret_id}: {code}",
    )
    return cast(SecretReadError, error)


def _parse_json(text: str, source: str) -> Mapping[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # The position only: the text itself is the secret.
        raise CredentialsError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}); expected "
            '{"username": ..., "password": ...}'
        ) from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{source} must hold a JSON object, not {type(data).__name__}")
    return data


def _from_file(connection: ConnectionSettings) -> Credentials:
    path = connection.credentials_file
    source = f"credentials file {path}"
    try:
        text = path.read_text(encoding="utf-8")  # type: ignore[union-attr]
    except OSError as exc:
        raise CredentialsError(
            f"cannot read {source} of connection {connection.name!r}: {exc.strerror}"
        ) from None
    return credentials_from_mapping(_parse_json(text, source), source=source)


def _from_environment(connection: ConnectionSettings, environ: Mapping[str, str]) -> Credentials:
    prefix = connection.credentials_env
    names = {"username": f"{prefix}_USERNAME", "password": f"{prefix}_PASSWORD"}
    missing = [var for var in names.values() if not environ.get(var)]
    if missing:
        raise CredentialsError(
            f"connection {connection.name!r} takes credentials from the environment; "
            f"set {' and '.join(missing)}"
        )
    return credentials_from_mapping(
        {field: environ[var] for field, var in names.items()},
        source=f"environment {names['username']}/{names['password']}",
    )
