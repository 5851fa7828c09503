"""A PostgreSQL server that checks IAM auth tokens like RDS does (issue 21).

The roles ``iam_app`` and ``iam_other`` log in through ``pg_hba.conf``'s ``ldap`` method, which
hands the password to :mod:`devtools.ldap_verifier`: the token must be signed for
:data:`ENDPOINT` (an RDS endpoint name; the test dials localhost), as the user, in its region,
with :data:`KEYS` (given to the Spark JVM as the AWS SDK's system properties ``aws.accessKeyId``
..., one of the plugin's credential sources), within its lifetime; and the stand-in IAM policy
allows ``iam_app`` only.
Everything else on the server uses SCRAM passwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator

import psycopg
import pytest

from connectors.iam import AwsKeys
from connectors.settings import Settings, settings_from_dict
from devtools.ldap_verifier import IamEndpoint, TokenVerifier, ldap_token_verifier
from devtools.postgres_server import PostgresServer, postgres_server

ENDPOINT = IamEndpoint("sparkpg-it.cluster-c0ffee.us-east-1.rds.amazonaws.com", 5432, "us-east-1")
KEYS = AwsKeys("AKIAIAMTEST", "iam-test/secret+key", "iam-test-session")
USER, OTHER_USER, DATABASE, CONNECTION = "iam_app", "iam_other", "iamdb", "iamdb"


@dataclass(frozen=True)
class IamDb:
    """The token-checking server, its verifier, and settings for an IAM connection to it."""

    server: PostgresServer
    verifier: TokenVerifier
    conninfo: str

    def settings(self, **connection: Any) -> Settings:
        """Settings with one IAM connection ``iamdb`` (``connection`` overrides its fields)."""
        assert self.server.ca_cert_path is not None
        fields: Dict[str, Any] = {
            "name": CONNECTION,
            "auth_method": "iam",
            "username": USER,
            "host": "localhost",
            "port": self.server.port,
            "database": DATABASE,
            "iam_host": ENDPOINT.host,
            "iam_port": ENDPOINT.port,
            "ssl_mode": "verify-full",
            "ssl_root_cert": str(self.server.ca_cert_path),
            "max_connections": 2,
            "connect_timeout_seconds": 5,
        }
        fields.update(connection)
        return settings_from_dict({"postgres": {"connections": [fields]}}, source="iam test")


@pytest.fixture(scope="session")
def iam_db() -> Iterator[IamDb]:
    """The server (TLS, its own cluster), with ``iamdb`` owned by ``iam_app`` and a table
    ``public.items`` (4 rows, one NULL)."""
    with ldap_token_verifier(ENDPOINT, KEYS, allowed_users=(USER,)) as verifier:
        lines = verifier.hba_lines(USER) + verifier.hba_lines(OTHER_USER)
        with postgres_server(backend="local", hba_lines=lines) as server:
            with psycopg.connect(server.conninfo(), autocommit=True) as admin:
                for role in (USER, OTHER_USER):
                    admin.execute(f"CREATE ROLE {role} LOGIN")
                admin.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")
            conninfo = server.conninfo(dbname=DATABASE)
            with psycopg.connect(conninfo, autocommit=True) as admin:
                admin.execute(f"SET ROLE {USER}")
                admin.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
                admin.execute("INSERT INTO items VALUES (1, 'a'), (2, NULL), (3, 'é'), (4, 'd')")
                admin.execute("CREATE TABLE written (id int, name text)")
            yield IamDb(server, verifier, conninfo)


_KEY_PROPERTIES = {
    "aws.accessKeyId": KEYS.access_key_id,
    "aws.secretAccessKey": KEYS.secret_access_key,
    "aws.sessionToken": KEYS.session_token,
}


@pytest.fixture()
def iam_jvm(spark: Any) -> Iterator[None]:
    """:data:`KEYS` in the Spark JVM's system properties and no token cached, during the test."""
    jvm = spark.sparkContext._jvm
    plugin = jvm.io.sparkpg.engine.auth.IamAuthPlugin
    plugin.forgetCachedTokens()
    for name, value in _KEY_PROPERTIES.items():
        jvm.java.lang.System.setProperty(name, value)
    try:
        yield
    finally:
        for name in _KEY_PROPERTIES:
            jvm.java.lang.System.clearProperty(name)
        plugin.forgetCachedTokens()
