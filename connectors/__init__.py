"""sparkpg's runtime layer: settings, credentials, JDBC options, errors. The public names::

    from connectors import load_settings, resolve_credentials, SparkPgError

    settings = load_settings("settings.json")  # or s3://bucket/key
    connection = settings.connection("aurora")

Names load on first use (PEP 562), so ``import connectors`` imports neither pydantic nor boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict

from connectors.lazy import lazy_exports

#: The package version: the one source (pyproject.toml reads it from here).
__version__ = "0.1.0"

_EXPORTS: Dict[str, str] = {
    "load_settings": "connectors.settings",
    "settings_from_dict": "connectors.settings",
    "Settings": "connectors.settings",
    "ConnectionSettings": "connectors.settings",
    "resolve_credentials": "connectors.secrets",
    "Credentials": "connectors.secrets",
    "TableRef": "connectors.jdbc",
    "jdbc_options": "connectors.jdbc",
    "Endpoint": "connectors.endpoints",
    "resolve_endpoint": "connectors.endpoints",
    "SparkPgError": "connectors.errors",
    "SettingsError": "connectors.errors",
    "ConnectionNotFoundError": "connectors.errors",
    "IdentifierError": "connectors.errors",
    "CredentialsError": "connectors.errors",
    "SecretAccessDeniedError": "connectors.errors",
    "SecretNotFoundError": "connectors.errors",
    "AwsEndpointUnreachableError": "connectors.errors",
    "AwsRequestError": "connectors.errors",
    "DatabaseError": "connectors.errors",
    "DatabaseConnectionError": "connectors.errors",
    "DatabaseAuthenticationError": "connectors.errors",
    "DatabasePermissionError": "connectors.errors",
    "JdbcDriverNotFoundError": "connectors.errors",
    "TableNotFoundError": "connectors.errors",
    "ColumnNotFoundError": "connectors.errors",
    "QueryError": "connectors.errors",
    "UnrepresentableValuesError": "connectors.errors",
    "PartitioningError": "connectors.errors",
    "SnapshotError": "connectors.errors",
    "OutputError": "connectors.errors",
}

__all__ = [
    "AwsEndpointUnreachableError",
    "AwsRequestError",
    "ColumnNotFoundError",
    "ConnectionNotFoundError",
    "ConnectionSettings",
    "Credentials",
    "CredentialsError",
    "DatabaseAuthenticationError",
    "DatabaseConnectionError",
    "DatabaseError",
    "DatabasePermissionError",
    "Endpoint",
    "IdentifierError",
    "JdbcDriverNotFoundError",
    "OutputError",
    "PartitioningError",
    "QueryError",
    "SecretAccessDeniedError",
    "SecretNotFoundError",
    "Settings",
    "SettingsError",
    "SnapshotError",
    "SparkPgError",
    "TableNotFoundError",
    "TableRef",
    "UnrepresentableValuesError",
    "__version__",
    "jdbc_options",
    "load_settings",
    "resolve_credentials",
    "resolve_endpoint",
    "settings_from_dict",
]

if TYPE_CHECKING:
    from connectors.endpoints import Endpoint, resolve_endpoint
    from connectors.errors import (
        AwsEndpointUnreachableError,
        AwsRequestError,
        ColumnNotFoundError,
        ConnectionNotFoundError,
        CredentialsError,
        DatabaseAuthenticationError,
        DatabaseConnectionError,
        DatabaseError,
        DatabasePermissionError,
        IdentifierError,
        JdbcDriverNotFoundError,
        OutputError,
        PartitioningError,
        QueryError,
        SecretAccessDeniedError,
        SecretNotFoundError,
        SettingsError,
        SnapshotError,
        SparkPgError,
        TableNotFoundError,
        UnrepresentableValuesError,
    )
    from connectors.jdbc import TableRef, jdbc_options
    from connectors.secrets import Credentials, resolve_credentials
    from connectors.settings import ConnectionSettings, Settings, load_settings, settings_from_dict


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__, globals())
