"""A fresh database and login role per test area (reading, writing, the engine) on the test
server, so that each area's objects and grants start from nothing."""

from __future__ import annotations

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
