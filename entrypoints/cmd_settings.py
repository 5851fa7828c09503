"""``sparkpg settings check FILE``: validate a settings file and show what it resolves to."""

from __future__ import annotations

import argparse
import json
from typing import Any, Dict, Optional

from pydantic import SecretStr

from connectors.endpoints import resolve_endpoint
from connectors.errors import SettingsError
from connectors.iam import iam_signing
from connectors.jdbc import effective_ssl_mode, jdbc_options
from connectors.secrets import Credentials
from connectors.settings import ConnectionSettings, load_settings
from entrypoints.errors import EXIT_OK

MASK = "********"


def register(subcommands: Any) -> None:
    """Add the ``settings`` command group."""
    parser = subcommands.add_parser("settings", help="inspect settings files")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate a settings file (local path or s3://)")
    check.add_argument("file", help="settings.json path or s3://bucket/key")
    check.add_argument("--json", action="store_true", help="print the resolved settings as JSON")
    check.set_defaults(handler=check_settings)


def check_settings(args: argparse.Namespace) -> int:
    """Load the file (environment overrides applied) and print a summary; errors exit non-zero."""
    settings = load_settings(args.file)
    if args.json:
        print(json.dumps(settings.model_dump(mode="json"), indent=2))
        return EXIT_OK
    print(f"{args.file}: valid")
    print(f"  emr_application_id:          {settings.spark.emr_application_id or '-'}")
    print(f"  emr_postgres_application_id: {settings.spark.emr_postgres_application_id or '-'}")
    print(f"  jdbc_driver_path:            {settings.postgres.jdbc_driver_path or '-'}")
    for connection in settings.postgres.connections:
        state = "enabled" if connection.enabled else "disabled"
        if connection.host:
            endpoint = resolve_endpoint(connection)
            where = f"{endpoint.host}:{endpoint.port}/{endpoint.database}"
            ssl = effective_ssl_mode(connection, endpoint.host)
        else:
            where, ssl = "(host, port and database from the secret)", "-"
        print(
            f"  connection {connection.name} ({state}): {where} "
            f"sslmode={ssl} auth_method={connection.auth_method} "
            f"credentials={connection.credential_source}"
        )
        if connection.auth_method == "iam":
            print(
                f"    token:   {iam_signing(connection, resolve_endpoint(connection)).describe()}"
            )
        used = used_options(connection)
        if used is not None:
            url = used.pop("url")
            print(f"    url:     {url}")
            print("    options: " + " ".join(f"{k}={v}" for k, v in used.items()))
    return EXIT_OK


def used_options(connection: ConnectionSettings) -> Optional[Dict[str, str]]:
    """The JDBC URL and options a read of ``connection`` uses (``jdbc_options``, default read
    options), with the user named by its source and the password masked (an IAM connection has
    none: its plugin signs a token per connection); None when the host comes from the secret.
    No credential is read."""
    stand_in = Credentials(
        username=connection.username or f"<from {connection.credential_source}>",
        password=SecretStr(MASK),
        source=connection.credential_source,
    )
    try:
        options = jdbc_options(connection, stand_in)
    except SettingsError:  # no host: it comes from the secret
        return None
    if "password" in options:
        options["password"] = MASK
    return options
