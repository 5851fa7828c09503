"""Each failure of a read names the table and the cause, before Spark starts, without secrets."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any, Iterator

import pytest

from connectors.errors import (
    DatabaseAuthenticationError,
    DatabaseConnectionError,
    DatabasePermissionError,
    SnapshotError,
    TableNotFoundError,
)
from connectors.secrets import resolve_credentials
from spark_jobs import consistent_snapshot, read_table

from .conftest import PASSWORD, ReadDb

pytestmark = [pytest.mark.spark]


@pytest.fixture(scope="module")
def error_tables(read_db: ReadDb) -> ReadDb:
    read_db.execute("DROP TABLE IF EXISTS customers, private_t")
    read_db.execute("CREATE TABLE customers (id int PRIMARY KEY, name text)")
    read_db.execute("INSERT INTO customers VALUES (1, 'a'), (2, 'b')")
    read_db.execute("CREATE TABLE private_t (id int)")
    read_db.execute("REVOKE ALL ON private_t FROM sparkpg_reader")
    return read_db


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a black-holed database)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_missing_table_lists_close_matches(spark: Any, error_tables: ReadDb) -> None:
    with pytest.raises(TableNotFoundError) as caught:
        read_table(spark, error_tables.settings(), "it.public.customer")
    assert "table it.public.customer not found; did you mean: it.public.customers" in str(
        caught.value
    )
    with pytest.raises(TableNotFoundError, match="no visible schema 'sales'"):
        read_table(spark, error_tables.settings(), "it.sales.customers")


def test_permission_denied_names_the_table(spark: Any, error_tables: ReadDb) -> None:
    with pytest.raises(DatabasePermissionError) as caught:
        read_table(spark, error_tables.settings(), "it.private_t")
    text = str(caught.value)
    assert "it.public.private_t" in text and "permission denied for table private_t" in text
    assert caught.value.sqlstate == "42501"


def test_connection_refused_points_at_security_groups(spark: Any, error_tables: ReadDb) -> None:
    settings = error_tables.settings(port=free_port(), ssl_mode="disable", ssl_root_cert=None)
    with pytest.raises(DatabaseConnectionError) as caught:
        read_table(spark, settings, "it.customers")
    text = str(caught.value)
    assert (
        "refused" in text
        and "security group" in text
        and "troubleshooting.md#postgresql-connection-timeout" in text
    )


def test_connection_timeout_points_at_security_groups(
    spark: Any, error_tables: ReadDb, silent_port: int
) -> None:
    settings = error_tables.settings(
        port=silent_port, ssl_mode="disable", ssl_root_cert=None, login_timeout_seconds=2
    )
    with pytest.raises(DatabaseConnectionError, match="security group"):
        read_table(spark, settings, "it.customers")


def test_rotated_secret_is_re_read_once(spark: Any, error_tables: ReadDb) -> None:
    settings = error_tables.settings(password="stale-password", name="rotating")
    connection = settings.connection("it")
    assert resolve_credentials(connection).password.get_secret_value() == "stale-password"
    # The secret rotates: the cached value is now wrong, the source is right.
    connection.credentials_file.write_text(  # type: ignore[union-attr]
        json.dumps({"username": "sparkpg_reader", "password": PASSWORD})
    )
    df = read_table(spark, settings, "it.customers")
    assert sorted(tuple(r) for r in df.collect()) == [(1, "a"), (2, "b")]


def test_wrong_password_fails_after_one_re_read(
    spark: Any, error_tables: ReadDb, caplog: pytest.LogCaptureFixture
) -> None:
    settings = error_tables.settings(password="wrong-" + PASSWORD, name="wrong")
    with pytest.raises(DatabaseAuthenticationError) as caught:
        read_table(spark, settings, "it.customers")
    text = str(caught.value)
    assert caught.value.sqlstate == "28P01"
    assert "sparkpg_reader" in text and "re-read once" in text
    assert PASSWORD not in text and "wrong-" not in text
    assert PASSWORD not in caplog.text


def test_snapshot_refused_on_aurora_reader_endpoint(spark: Any, error_tables: ReadDb) -> None:
    settings = error_tables.settings(host="pg.cluster-ro-abc123.us-east-1.rds.amazonaws.com")
    with (
        pytest.raises(SnapshotError, match="reader endpoint"),
        consistent_snapshot(spark, settings, "it"),
    ):
        pass  # pragma: no cover
