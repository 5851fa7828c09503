"""Typed settings: the backend's ``settings.json`` plus sparkpg's optional extensions (README, "Settings").

Precedence, lowest to highest (each edge is tested):

1. defaults of the models below;
2. the settings file (a local path or ``s3://bucket/key``);
3. environment variables ``SPARKPG__<PATH>``: ``__`` separates levels, connections are addressed by
   name, values are parsed as JSON when they are valid JSON (``5433``, ``true``, ``null``) and
   taken as text otherwise. Example: ``SPARKPG__POSTGRES__CONNECTIONS__AURORA__HOST=localhost``;
4. the ``overrides`` mapping passed to :func:`load_settings` (same nested shape as the file).

Secret *ids* live in settings; secret *values* never do, so dumping settings is always safe.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import logging
import os
import re
import typing
from pathlib import Path
from typing import Any, Dict, List, Literal, Mapping, Optional, Type, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.errors import ConnectionNotFoundError, SettingsError
from connectors.hosts import is_local_host, region_of_host
from connectors.settings_sources import apply_env_overrides, deep_merge, read_source

_SENSITIVE_FIELD = re.compile(r"pass|pwd|token|private|secret_string", re.IGNORECASE)
_CREDENTIALS = "the credential source (secret_arn, credentials_file or credentials_env)"
_TLS = "ssl_mode and ssl_root_cert (a custom one can switch certificate or host name checks off)"
#: pgjdbc properties sparkpg sets itself (lower-cased: they are refused in any case), each with
#: where its value comes from. ``jdbc_properties`` may not override them (a property in the URL
#: wins over sparkpg's own: ``sslmode=disable`` would silently turn TLS off).
RESERVED_JDBC_PROPERTIES: Dict[str, str] = {
    "user": _CREDENTIALS,
    "password": _CREDENTIALS,
    "sslmode": "ssl_mode",
    "ssl": "ssl_mode",
    "sslrootcert": "ssl_root_cert",
    "sslfactory": _TLS,
    "sslhostnameverifier": _TLS,
    "connecttimeout": "connect_timeout_seconds",
    "logintimeout": "login_timeout_seconds",
    "sockettimeout": "socket_timeout_seconds",
    "tcpkeepalive": "sparkpg (always on)",
    "readonly": "read_only",
    "readonlymode": "read_only",
    "applicationname": "application_name",
    "assumeminserverversion": "sparkpg (9.0: the application name is sent with the login)",
    "targetservertype": "host (a cluster-ro reader endpoint prefers a replica, a cluster "
    "endpoint requires the primary)",
    "preparethreshold": "the binary_transfer read option (--no-binary-transfer)",
    "defaultrowfetchsize": "fetch_size",
    "options": "sparkpg's session settings (read_only and the timeouts; qualify names instead "
    "of setting search_path)",
    "pghost": "host",
    "pgport": "port",
    "pgdbname": "database",
    "service": "host, port and database",
    "authenticationpluginclassname": "auth_method (iam: sparkpg's token plugin)",
    **{
        name.lower(): "iam_host, iam_port and iam_region"
        for name in ("sparkpgIamHost", "sparkpgIamPort", "sparkpgIamRegion")
    },
}
_IAM_ONLY = ("username", "iam_region", "iam_host", "iam_port")
_WEAK_TLS = ("disable", "allow", "prefer")

logger = logging.getLogger(__name__)

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class _Model(BaseModel):
    # strict: no coercion, so `"port": true`, `"port": "5432"` and `"enabled": "no"` are refused.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SparkSettings(BaseModel):
    """The ``spark`` section. Other keys the backend keeps here are allowed and kept."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    emr_application_id: Optional[str] = None
    emr_postgres_application_id: Optional[str] = None
    supervisor_arn: Optional[str] = None

    # Extensions for job submission (submission/); all optional. The Terraform module's
    # outputs give the values: execution_role_arn, job_monitoring_configuration, log_group_name.
    emr_execution_role_arn: Optional[str] = Field(default=None, pattern=r"^arn:aws[a-zA-Z-]*:iam::")
    emr_log_uri: Optional[str] = Field(default=None, pattern=r"^s3://[^/]+")
    emr_cloudwatch_logging: bool = True
    emr_cloudwatch_log_group: Optional[str] = Field(default=None, min_length=1)
    emr_cloudwatch_log_stream_prefix: Optional[str] = Field(default=None, min_length=1)
    emr_bundle_uri: Optional[str] = Field(default=None, min_length=1)


class ConnectionSettings(_Model):
    """One PostgreSQL connection: where the database is, and where its credentials come from.

    ``auth_method: "user_password"`` (the default) takes exactly one credential source:
    ``secret_arn`` (a Secrets Manager ARN or name), ``credentials_file`` (a local JSON file in
    the same format, for local runs) or ``credentials_env`` (a prefix: ``<PREFIX>_USERNAME`` and
    ``<PREFIX>_PASSWORD`` are read). ``host``, ``port`` and ``database`` may be left out when the
    secret carries them (AWS's RDS secret format); when both have them, the settings win.

    ``auth_method: "iam"`` (docs/auth.md) takes ``username`` and ``host`` and no credential
    source: every connection signs an IAM auth token for ``iam_host``:``iam_port`` (default: the
    host and port dialled) in ``iam_region`` (default: the region in the RDS endpoint name), over
    TLS (``ssl_mode`` require or stronger).
    """

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
    secret_arn: Optional[str] = Field(default=None, min_length=1)
    credentials_file: Optional[Path] = Field(default=None, strict=False)  # a str in JSON
    credentials_env: Optional[str] = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    host: Optional[str] = Field(default=None, min_length=1)
    port: Optional[int] = Field(default=None, ge=1, le=65535)
    database: Optional[str] = Field(default=None, min_length=1)
    auth_method: Literal["user_password", "iam"] = "user_password"
    enabled: bool = True

    # IAM database authentication (auth_method "iam" only; docs/auth.md).
    username: Optional[str] = Field(default=None, min_length=1, max_length=63)
    iam_region: Optional[str] = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
    iam_host: Optional[str] = Field(default=None, min_length=1)
    iam_port: Optional[int] = Field(default=None, ge=1, le=65535)

    # Extensions (all optional).
    ssl_mode: Optional[SslMode] = None
    ssl_root_cert: Optional[str] = None
    connect_timeout_seconds: int = Field(default=10, ge=0)
    login_timeout_seconds: int = Field(default=30, ge=0)
    socket_timeout_seconds: int = Field(default=300, ge=0)
    """pgjdbc ``socketTimeout``: the longest wait for the server's next bytes (0 = none). A
    streaming read gets rows every fetch, so only a frozen or vanished peer trips it (and a query
    whose FIRST row takes longer: raise it for big sorts). See docs/reading.md, "Timeouts"."""
    lock_timeout_seconds: int = Field(default=10, ge=0)
    """PostgreSQL ``lock_timeout`` of every planning query and partition read (0 = none)."""
    statement_timeout_seconds: int = Field(default=60, ge=0)
    """PostgreSQL ``statement_timeout`` of the driver-side catalog and planning queries
    (0 = none); partition reads have none (they stream for as long as the table takes)."""
    client_connection_check_interval_seconds: int = Field(default=10, ge=0)
    """PostgreSQL 14+ ``client_connection_check_interval``: how often a busy backend of ours
    checks that we are still connected (0 = off; ignored on older servers)."""
    max_connections: int = Field(default=8, ge=1, le=1024)
    fetch_size: int = Field(default=10_000, ge=1)
    read_only: bool = True
    application_name: str = Field(default="sparkpg", max_length=63)
    jdbc_properties: Dict[str, str] = Field(default_factory=dict)

    @field_validator("host", "iam_host")
    @classmethod
    def _host_is_a_host(cls, host: Optional[str]) -> Optional[str]:
        if host is None:
            return None
        if re.search(r"[\s/?#@]", host) or host.startswith("jdbc:"):
            raise ValueError(
                "must be a bare host name or IP address (no scheme, port, path or credentials)"
            )
        return _bare_host(host)

    @field_validator("jdbc_properties")
    @classmethod
    def _no_reserved_properties(cls, props: Dict[str, str]) -> Dict[str, str]:
        reserved = [k for k in sorted(props) if k.lower() in RESERVED_JDBC_PROPERTIES]
        if reserved:
            uses = "; ".join(f"{k} from {RESERVED_JDBC_PROPERTIES[k.lower()]}" for k in reserved)
            raise ValueError(
                f"may not set {', '.join(map(repr, reserved))}: sparkpg sets "
                f"{'it' if len(reserved) == 1 else 'them'} itself ({uses})"
            )
        return props

    @model_validator(mode="after")
    def _one_credential_source(self) -> ConnectionSettings:
        sources = [
            name
            for name in ("secret_arn", "credentials_file", "credentials_env")
            if getattr(self, name) is not None
        ]
        if self.auth_method == "iam":
            return self._iam_checked(sources)
        iam_only = [name for name in _IAM_ONLY if getattr(self, name) is not None]
        if iam_only:
            raise ValueError(
                f"connection {self.name!r}: {', '.join(iam_only)} only for auth_method "
                '"iam" (with user_password the user name comes from the credential source); '
                'set "auth_method": "iam" or remove them'
            )
        if len(sources) != 1:
            found = ", ".join(sources) if sources else "none"
            raise ValueError(
                f"connection {self.name!r} needs exactly one credential source "
                f"(secret_arn, credentials_file or credentials_env); found: {found}"
            )
        if self.ssl_mode == "verify-full" and self.ssl_root_cert is None:
            logger.info(
                "connection %r: ssl_mode verify-full without ssl_root_cert uses the JVM's "
                "default ~/.postgresql/root.crt",
                self.name,
            )
        if (
            self.host
            and self.ssl_mode in ("disable", "allow", "prefer")
            and not is_local_host(self.host)
        ):
            logger.warning(
                "connection %r: ssl_mode=%s for the non-local host %s sends credentials without "
                "verified TLS; use require or verify-full",
                self.name,
                self.ssl_mode,
                self.host,
            )
        return self

    def _iam_checked(self, sources: List[str]) -> ConnectionSettings:
        """auth_method iam: a username, no credential source, a host, TLS require or stronger."""
        where = f"connection {self.name!r} (auth_method iam)"
        if sources:
            raise ValueError(
                f"{where} signs a token per connection and takes no credential source; remove "
                f"{', '.join(sources)} (docs/auth.md#switching-a-connection-to-iam)"
            )
        if self.username is None:
            raise ValueError(f'{where} needs "username": the database user to log in as')
        if self.host is None:
            raise ValueError(f'{where} needs "host": the endpoint to dial (no secret to read)')
        if self.iam_region is None and region_of_host(self.iam_host or self.host) is None:
            raise ValueError(
                f"{where}: no region for the token: {self.iam_host or self.host!r} is not an "
                "*.<region>.rds.amazonaws.com name; set iam_region (and iam_host to the RDS "
                "endpoint name when you dial another address: a tunnel, a proxy, an IP)"
            )
        if self.ssl_mode in _WEAK_TLS:
            raise ValueError(
                f"{where}: ssl_mode {self.ssl_mode!r} could send the token without TLS, and "
                'RDS refuses IAM logins over plain TCP; use "require" or, with the RDS CA '
                'bundle in ssl_root_cert, "verify-full"'
            )
        return self

    @property
    def credential_source(self) -> str:
        """A printable description of where the credentials come from (never the credentials)."""
        if self.auth_method == "iam":
            return f"iam-token:{self.username}"
        if self.secret_arn is not None:
            return f"secretsmanager:{self.secret_arn}"
        if self.credentials_file is not None:
            return f"file:{self.credentials_file}"
        return f"env:{self.credentials_env}_USERNAME/{self.credentials_env}_PASSWORD"


def _bare_host(host: str) -> str:
    """``host`` without brackets around an IPv6 address; refuses ``host:port``."""
    if host.startswith("["):
        inner, _, rest = host[1:].partition("]")
        if rest.startswith(":"):
            raise ValueError(
                f"includes a port ({rest[1:]!r}): put the address alone in host ({inner!r}) "
                f"and the port in the port field"
            )
        if rest or not _is_ipv6(inner):
            raise ValueError("brackets are only for an IPv6 address: [2001:db8::1]")
        return inner
    if ":" in host and not _is_ipv6(host):
        name, _, port = host.rpartition(":")
        raise ValueError(
            f"includes a port ({port!r}): put the host name alone in host ({name!r}) and the "
            "port in the port field"
            if port.isdigit()
            else "must be a host name or an IP address (':' is allowed only in IPv6 addresses)"
        )
    return host


def _is_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


class PostgresSettings(_Model):
    """The ``postgres`` section: the JDBC driver and the connections."""

    jdbc_driver_path: Optional[str] = None
    connections: List[ConnectionSettings] = Field(default_factory=list)

    @field_validator("connections")
    @classmethod
    def _unique_names(cls, connections: List[ConnectionSettings]) -> List[ConnectionSettings]:
        seen: Dict[str, int] = {}
        for index, connection in enumerate(connections):
            key = connection.name.lower()
            if key in seen:
                raise ValueError(
                    f"connection name {connection.name!r} is used by connections[{seen[key]}] and "
                    f"connections[{index}]; names must be unique (case-insensitive)"
                )
            seen[key] = index
        return connections


class Settings(_Model):
    """The whole settings file: the ``spark`` and ``postgres`` sections (any other top-level key is
    refused, naming the closest known one; ``spark`` keeps keys it does not know)."""

    spark: SparkSettings = Field(default_factory=SparkSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    source: Optional[str] = Field(default=None, exclude=True)

    def connection(self, name: str) -> ConnectionSettings:
        """The enabled connection called ``name`` (case-insensitive), or a clear error."""
        for connection in self.postgres.connections:
            if connection.name.lower() == name.lower():
                if not connection.enabled:
                    raise ConnectionNotFoundError(
                        f"connection {name!r} is disabled in {self.source or 'the settings'}; "
                        f'set "enabled": true to use it. Enabled connections: {self._names(True)}'
                    )
                return connection
        raise ConnectionNotFoundError(
            f"no connection named {name!r} in {self.source or 'the settings'}; "
            f"enabled connections: {self._names(True)}, disabled: {self._names(False)}"
        )

    @property
    def enabled_connections(self) -> List[ConnectionSettings]:
        """The connections with ``enabled: true``."""
        return [c for c in self.postgres.connections if c.enabled]

    def _names(self, enabled: bool) -> str:
        names = [c.name for c in self.postgres.connections if c.enabled == enabled]
        return ", ".join(names) if names else "(none)"


def load_settings(
    source: Union[str, Path],
    *,
    environ: Optional[Mapping[str, str]] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> Settings:
    """Load settings from a local path or ``s3://bucket/key``, apply env and explicit overrides.

    >>> settings = load_settings("examples/settings.json")  # doctest: +SKIP
    >>> settings.connection("aurora").host  # doctest: +SKIP
    'pg-database.cluster-ro-c8lobwtocefp.us-east-1.rds.amazonaws.com'
    """
    text = read_source(str(source))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{source}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: expected a JSON object at the top level")
    data = apply_env_overrides(data, os.environ if environ is None else environ, str(source))
    if overrides:
        data = deep_merge(data, dict(overrides))
    return settings_from_dict(data, source=str(source))


def settings_from_dict(data: Mapping[str, Any], *, source: str = "<settings>") -> Settings:
    """Validate an already-parsed settings mapping; errors name ``source`` and the field path."""
    try:
        return Settings.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise SettingsError(_describe_validation_error(exc, source)) from None


def _describe_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} invalid setting(s):"]
    for error in exc.errors():
        loc = error["loc"]
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
        path = path.lstrip(".") or "(top level)"
        shown = _shown_input(error.get("input"), loc)
        if error["type"] == "missing":
            lines.append(f"  {path}: required field is missing")
        elif error["type"] == "extra_forbidden":
            known = _known_fields(loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            lines.append(f"  {path}: unknown field ({hint}; value {shown})")
        else:
            lines.append(f"  {path}: {error['msg']} (got {shown})")
    return "\n".join(lines)


def _known_fields(loc: Any) -> List[str]:
    """The field names of the model at ``loc`` (a validation error's location) in the tree."""
    model: Type[BaseModel] = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        nested = _model_in(field.annotation) if field is not None else None
        if nested is None:
            return []
        model = nested
    return [name for name, field in model.model_fields.items() if not field.exclude]


def _model_in(annotation: Any) -> Optional[Type[BaseModel]]:
    """The model class inside ``annotation`` (``X``, ``List[X]``, ``Optional[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _shown_input(value: Any, loc: Any) -> str:
    """The bad value for an error message: scalars only, and never for a secret-looking field."""
    if any(_SENSITIVE_FIELD.search(str(part)) for part in loc):
        return "<redacted>"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    return repr(value)
