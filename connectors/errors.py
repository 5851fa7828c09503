"""The exceptions sparkpg raises: one hierarchy under :class:`SparkPgError`.

Each message names the bad value, what was expected and the fix; the common failures point at
``docs/troubleshooting.md``. No message ever contains a secret value: credentials are only ever
referred to by their source (a secret ARN, a file path, an environment variable name).

AWS failures are :class:`AwsRequestError` (or a subclass that also says which part failed, such
as :class:`SecretAccessDeniedError`): they carry the ``action`` that failed, AWS's error ``code``
and the ``fix``; :func:`connectors.aws.aws_error` is the one place that builds them.
"""

from __future__ import annotations

from typing import Optional


class SparkPgError(Exception):
    """Base class of every error sparkpg raises on purpose."""


class AwsRequestError(SparkPgError):
    """An AWS API refused or failed a request: ``action`` (the call), ``code`` (AWS's error code,
    or the botocore exception name for network failures) and ``fix`` (may be empty)."""

    def __init__(self, message: str, *, action: str = "", code: str = "", fix: str = "") -> None:
        super().__init__(message)
        self.action = action
        self.code = code
        self.fix = fix

    @property
    def not_found(self) -> bool:
        """True for the "does not exist" family of error codes."""
        return "NotFound" in self.code or self.code in ("NoSuchKey", "NoSuchEntity", "404")

    @property
    def unreachable(self) -> bool:
        """True when no AWS endpoint answered (network, proxy, endpoint URL), so nothing was read."""
        return self.code in (
            "EndpointConnectionError",
            "ConnectTimeoutError",
            "ReadTimeoutError",
            "ConnectionClosedError",
            "ProxyConnectionError",
            "SSLError",
        )

    @property
    def denied(self) -> bool:
        """True when the caller lacks the permission for the call."""
        return self.code in (
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
            "403",
        )


class SettingsError(SparkPgError, ValueError):
    """The settings file (or an override of it) is missing, unreadable or invalid."""


class SettingsSourceError(SettingsError, AwsRequestError):
    """The settings could not be read from S3."""


class AwsRegionError(SettingsError, AwsRequestError):
    """No AWS region is configured for a client (botocore's ``NoRegionError``): set AWS_REGION,
    ``--region`` or a profile's region, or give a full ARN (which names its region)."""


class ConnectionNotFoundError(SettingsError, LookupError):
    """A connection name that the settings do not define, or that is disabled."""


class IdentifierError(SparkPgError, ValueError):
    """A schema, table or column name that cannot be used safely."""


class CredentialsError(SparkPgError):
    """Credentials could not be obtained from their source (Secrets Manager, a file, the environment)."""


class SecretReadError(CredentialsError, AwsRequestError):
    """Secrets Manager failed GetSecretValue."""


class SecretAccessDeniedError(SecretReadError, PermissionError):
    """Secrets Manager refused GetSecretValue (docs/troubleshooting.md#secrets-manager-access-denied)."""


class SecretNotFoundError(SecretReadError, LookupError):
    """The secret does not exist in that account and region."""


class AwsEndpointUnreachableError(SecretReadError, ConnectionError):
    """An AWS endpoint could not be reached (typically a missing VPC endpoint or NAT route)."""


class DatabaseError(SparkPgError):
    """PostgreSQL or the JDBC driver failed: connection, authentication, permission, missing table.

    ``sqlstate`` is PostgreSQL's five-character SQLSTATE when the server (or pgjdbc) gave one.
    """

    def __init__(self, message: str, *, sqlstate: Optional[str] = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class JdbcDriverNotFoundError(DatabaseError):
    """The PostgreSQL JDBC JAR is not on the classpath (``ClassNotFoundException: org.postgresql.Driver``)."""


class DatabaseConnectionError(DatabaseError, ConnectionError):
    """The server could not be reached: refused, timed out, TLS failure
    (docs/troubleshooting.md#postgresql-connection-timeout)."""


class DatabaseConnectionLostError(DatabaseConnectionError):
    """An open connection ended under us: the server terminated it (restart, failover,
    ``pg_terminate_backend``) or the network dropped it. Retrying usually succeeds."""


class DatabaseTimeoutError(DatabaseError, TimeoutError):
    """A bounded wait expired; ``setting`` names the connection setting that bounds it."""

    def __init__(self, message: str, *, sqlstate: Optional[str] = None, setting: str = "") -> None:
        super().__init__(message, sqlstate=sqlstate)
        self.setting = setting


class LockTimeoutError(DatabaseTimeoutError):
    """Another session held a conflicting lock longer than ``lock_timeout_seconds`` (55P03)."""


class StatementTimeoutError(DatabaseTimeoutError):
    """A planning query ran longer than ``statement_timeout_seconds`` (57014)."""


class DatabaseUnresponsiveError(DatabaseTimeoutError, DatabaseConnectionError):
    """The server stopped answering: no bytes for ``socket_timeout_seconds``, or no handshake
    within ``login_timeout_seconds`` (a frozen server, a network partition, not PostgreSQL)."""


class MaterializedViewNotPopulatedError(DatabaseError):
    """A materialized view that was never refreshed: PostgreSQL refuses to read it."""


class DatabaseAuthenticationError(DatabaseError, PermissionError):
    """The server rejected the user name or password, even after re-reading the secret once."""


class DatabasePermissionError(DatabaseError, PermissionError):
    """The user may connect but not read the table or column (SQLSTATE 42501)."""


class TableNotFoundError(DatabaseError, LookupError):
    """The schema or table does not exist (or is not visible to the user)."""


class ColumnNotFoundError(DatabaseError, LookupError):
    """A requested column (or partition key) does not exist in the table."""


class QueryError(DatabaseError, ValueError):
    """A user-supplied SQL query or filter is malformed or was rejected by the server."""


class UnrepresentableValuesError(DatabaseError):
    """Strict mode: PostgreSQL returned values no native Spark type of the read can hold (NaN,
    ±infinity, ...), which the type policy read as NULL. ``--unrepresentable text`` keeps them."""


class PartitioningError(SparkPgError, ValueError):
    """Partitioning overrides that cannot be honoured (unknown key, unsupported strategy, ...)."""


class SnapshotError(DatabaseError):
    """A consistent snapshot was requested where the endpoint cannot provide one, or it expired."""


class IncrementalStateError(DatabaseError):
    """An incremental read cannot continue exactly from its stored state (another cluster, a
    restore or failover, wraparound, a schema change, a state changed by another run): the
    message says how to read the table in full again (docs/incremental.md)."""


class OutputError(SparkPgError):
    """The job's output could not be written (path exists with mode error, bad format, ...)."""


class BundleError(SparkPgError):
    """The deployment bundle (dist/, manifest.json, an uploaded manifest) is missing or invalid."""


class JobRunError(SparkPgError):
    """A submitted job run did not succeed; ``state`` says how it ended."""

    def __init__(self, message: str, *, state: str, job_run_id: str = "") -> None:
        super().__init__(message)
        self.state = state
        self.job_run_id = job_run_id


class JobRunFailedError(JobRunError):
    """The job run ended in FAILED."""


class JobRunCancelledError(JobRunError):
    """The job run ended in CANCELLED (by us on a deadline or Ctrl-C, or by someone else)."""


class JobRunDetachedError(JobRunError):
    """We stopped waiting (deadline, Ctrl-C) and left the job run running, as asked."""


class WriteRefusedError(SparkPgError, ValueError):
    """A write was refused before any row was sent: read-only connection, missing target,
    unmatched columns, incompatible types, a key without a unique index (docs/writing.md)."""


class WriteFailedError(DatabaseError):
    """A write failed after it started (a task, a move or the commit). Its message says what the
    target holds: unchanged for an atomic write that was rolled back, unknown when the connection
    broke during the commit, and for ``atomic=False`` which partitions were committed."""


class EngineError(SparkPgError):
    """sparkpg's engine JAR is not on the Spark classpath, or it refused a read or a write's
    plan (docs/troubleshooting.md)."""


class TypePolicyError(SparkPgError, ValueError):
    """A source whose columns cannot be described (missing table, unusable query)."""
