"""A fresh database and login role per test area (reading, writing, the engine) on the test
server, so that each area's objects and grants start from nothing."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import psycopg
from psycopg import sql

from devtools.postgres_server import PostgresServer


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
