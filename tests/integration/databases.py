"""The one database helper of the tests: :class:`TestDatabase`, a database on a test server with
a login role and settings for it, and :func:`fresh_database`, which gives each test area
(reading, writing, the engine, faults) a database and role that start from nothing. Each area
subclasses :class:`TestDatabase` only for what is its own (its role, its connection's defaults,
its helpers)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple

import psycopg
from psycopg import sql

from connectors.settings import Settings, settings_from_dict
from devtools.postgres_server import PostgresServer


@dataclass(frozen=True)
class TestDatabase:
    """A database of the tests: the server, the superuser's conninfo of the database (the
    reference the tests compare with) and a folder for credential files; subclasses name the
    role, its password, the connection and the connection's defaults."""

    __test__: ClassVar[bool] = False  # not a test class, whatever pytest's name pattern says

    server: PostgresServer
    conninfo: str
    tmp: Path

    ROLE: ClassVar[str] = ""
    PASSWORD: ClassVar[str] = ""
    CONNECTION: ClassVar[str] = "it"
    DEFAULTS: ClassVar[Mapping[str, Any]] = {}
    """Connection fields of the area (timeouts, max_connections, read_only, ...)."""

    @property
    def database(self) -> str:
        """The database's name (from the conninfo)."""
        return str(psycopg.conninfo.conninfo_to_dict(self.conninfo).get("dbname"))

    def settings_data(
        self,
        *,
        user: Optional[str] = None,
        password: Optional[str] = None,
        name: str = "creds",
        **connection: Any,
    ) -> Dict[str, Any]:
        """Settings (JSON data) with one connection :attr:`CONNECTION` as :attr:`ROLE` (or
        ``user``); the credentials in the file ``tmp/<name>.json``; TLS ``verify-full`` when the
        server has TLS; ``connection`` overrides any field."""
        creds = self.tmp / f"{name}.json"
        creds.write_text(
            json.dumps(
                {
                    "username": self.ROLE if user is None else user,
                    "password": self.PASSWORD if password is None else password,
                }
            )
        )
        fields: Dict[str, Any] = {
            "name": self.CONNECTION,
            "host": "localhost",
            "port": self.server.port,
            "database": self.database,
            "credentials_file": str(creds),
            "connect_timeout_seconds": 5,
            **self.DEFAULTS,
        }
        fields.update(tls_fields(self.server))
        fields.update(connection)
        return {"postgres": {"connections": [fields]}}

    def settings(self, **connection: Any) -> Settings:
        """:meth:`settings_data` validated."""
        return settings_from_dict(self.settings_data(**connection), source="test")

    def settings_file(self, **connection: Any) -> Path:
        """:meth:`settings_data` written to ``tmp/settings.json``."""
        path = self.tmp / "settings.json"
        path.write_text(json.dumps(self.settings_data(**connection)))
        return path

    def execute(self, statement: str, params: Optional[Tuple[Any, ...]] = None) -> None:
        """Run SQL as the superuser in the database (autocommit)."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(statement, params)  # type: ignore[arg-type]

    def rows(self, query: str) -> List[Tuple[Any, ...]]:
        """Rows of ``query`` as the superuser (through psycopg: the reference)."""
        return admin_rows(self.conninfo, query)


def fresh_database(
    server: PostgresServer, database: str, role: str, password: str, *, reader: bool
) -> str:
    """Drop and create ``database`` and the login ``role`` (``password``); with ``reader`` the
    role may read every table created later in ``public``. Returns the database's conninfo (as
    the server's superuser)."""
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    conninfo = server.conninfo(dbname=database)
    if reader:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(role)))
            conn.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}"
                ).format(sql.Identifier(role))
            )
    return conninfo


def tls_fields(server: PostgresServer) -> Dict[str, str]:
    """A settings connection's TLS fields for ``server``: verified when it has a CA."""
    if server.ca_cert_path is None:
        return {"ssl_mode": "disable"}
    return {"ssl_mode": "verify-full", "ssl_root_cert": str(server.ca_cert_path)}


def admin_rows(conninfo: str, query: str) -> List[Tuple[Any, ...]]:
    """Run ``query`` through psycopg (autocommit) and return its rows, if any."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        cursor = conn.execute(query)  # type: ignore[arg-type]
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []
