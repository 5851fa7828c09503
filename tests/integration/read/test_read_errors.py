"""Each failure of a read names the table and the cause, before Spark starts, without secrets."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import (
    CredentialsError,
    DatabaseAuthenticationError,
    DatabaseConnectionError,
    DatabasePermissionError,
    MaterializedViewNotPopulatedError,
    SnapshotError,
    TableNotFoundError,
)
from connectors.jdbc import TableRef
from connectors.secrets import resolve_credentials
from spark_jobs import (
    consistent_snapshot,
    load_read,
    plan_query,
    plan_table,
    read_query,
    read_table,
)
from spark_jobs.db.target import resolve_all_targets
from spark_jobs.read.loading import read_error_of, with_fresh_credentials

from .conftest import PASSWORD, ReadDb

pytestmark = [pytest.mark.spark]

OTHER_CA = Path("/etc/ssl/certs/ca-certificates.crt")
"""A CA bundle that did not sign the test server's certificate."""


@pytest.fixture(scope="module")
def error_tables(read_db: ReadDb) -> ReadDb:
    read_db.execute("DROP TABLE IF EXISTS customers, private_t")
    read_db.execute("CREATE TABLE customers (id int PRIMARY KEY, name text)")
    read_db.execute("INSERT INTO customers VALUES (1, 'a'), (2, 'b')")
    read_db.execute("CREATE TABLE private_t (id int)")
    read_db.execute("REVOKE ALL ON private_t FROM sparkpg_reader")
    return read_db


def test_missing_table_lists_close_matches(spark: Any, error_tables: ReadDb) -> None:
    with pytest.raises(TableNotFoundError) as caught:
        read_table(spark, error_tables.settings(), "it.public.customer")
    assert "table it.public.customer not found; did you mean: it.public.customers" in str(
        caught.value
    )
    with pytest.raises(TableNotFoundError, match="no visible schema 'sales'"):
        read_table(spark, error_tables.settings(), "it.sales.customers")


def test_a_name_in_the_wrong_case_is_told_the_stored_name(spark: Any, error_tables: ReadDb) -> None:
    with pytest.raises(TableNotFoundError) as caught:
        read_table(spark, error_tables.settings(), "it.Customers")
    text = str(caught.value)
    assert "did you mean: it.public.customers" in text
    assert text.endswith("write it.public.customers") and '"Customers"' not in text


def test_permission_denied_names_the_table(spark: Any, error_tables: ReadDb) -> None:
    with pytest.raises(DatabasePermissionError) as caught:
        read_table(spark, error_tables.settings(), "it.private_t")
    text = str(caught.value)
    assert "it.public.private_t" in text and "permission denied for table private_t" in text
    assert caught.value.sqlstate == "42501"


def test_tls_with_an_unknown_ca_names_the_certificate(spark: Any, error_tables: ReadDb) -> None:
    settings = error_tables.settings(ssl_root_cert=str(OTHER_CA))
    with pytest.raises(DatabaseConnectionError) as caught:
        read_table(spark, settings, "it.customers")
    text = str(caught.value)
    assert text.startswith("TLS with connection 'it' (localhost:")
    assert f"sslmode=verify-full, sslrootcert={OTHER_CA}" in text
    assert "the CA bundle that signed the server's certificate" in text
    assert "security group" not in text and "\tat " not in text


def test_tls_host_not_in_the_certificate(spark: Any, error_tables: ReadDb) -> None:
    with pytest.raises(DatabaseConnectionError) as caught:
        read_table(spark, error_tables.settings(host="127.0.0.1"), "it.customers")
    text = str(caught.value)
    assert "TLS with connection 'it' (127.0.0.1:" in text
    assert "does not name host '127.0.0.1'" in text


def test_unpopulated_materialized_view_is_refused_at_planning(
    spark: Any, error_tables: ReadDb
) -> None:
    error_tables.execute(
        "DROP MATERIALIZED VIEW IF EXISTS mv_empty; "
        "CREATE MATERIALIZED VIEW mv_empty AS SELECT id FROM customers WITH NO DATA; "
        "GRANT SELECT ON mv_empty TO sparkpg_reader"
    )
    with pytest.raises(MaterializedViewNotPopulatedError) as caught:
        read_table(spark, error_tables.settings(), "it.mv_empty")
    text = str(caught.value)
    assert "materialized view it.public.mv_empty has never been populated" in text
    assert 'REFRESH MATERIALIZED VIEW "public"."mv_empty"' in text
    # A query over it passes planning (its probe reads no row); the action's error is classified.
    df = read_query(spark, error_tables.settings(), "it", "SELECT id FROM mv_empty")
    with pytest.raises(Exception) as at_action:
        df.collect()
    read = plan_query(spark, error_tables.settings(), "it", "SELECT id FROM mv_empty")
    error = read_error_of(at_action.value, read)
    assert isinstance(error, MaterializedViewNotPopulatedError), error
    assert "REFRESH MATERIALIZED VIEW" in str(error)
    error_tables.execute("REFRESH MATERIALIZED VIEW mv_empty")
    assert read_table(spark, error_tables.settings(), "it.mv_empty").count() == 2


def test_password_rotated_between_planning_and_action(spark: Any, error_tables: ReadDb) -> None:
    role, old, new = "sparkpg_rotating", "old-" + PASSWORD, "new-" + PASSWORD
    error_tables.execute(
        f"DROP OWNED BY {role}; DROP ROLE {role}"
        if error_tables.rows(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'")
        else "SELECT 1"
    )
    error_tables.execute(f"CREATE ROLE {role} LOGIN PASSWORD $${old}$$")
    error_tables.execute(f"GRANT SELECT ON customers TO {role}")
    try:
        settings = error_tables.settings(user=role, password=old, name="rotation")
        table = load_read(spark, plan_table(spark, settings, "it.customers"))
        # The secret rotates after planning: the server and the source have the new password.
        error_tables.execute(f"ALTER ROLE {role} PASSWORD $${new}$$")
        error_tables.settings_data(user=role, password=new, name="rotation")
        with pytest.raises(Exception) as caught:
            table.dataframe.collect()
        error = read_error_of(caught.value, table.read)
        assert isinstance(error, DatabaseAuthenticationError) and error.sqlstate == "28P01"
        assert "while reading it.public.customers" in str(error) and new not in str(error)
        fresh = with_fresh_credentials(spark, table)
        assert sorted(tuple(r) for r in fresh.dataframe.collect()) == [(1, "a"), (2, "b")]
        assert fresh.read.plan == table.read.plan
    finally:
        error_tables.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_targets_resolve_before_spark(error_tables: ReadDb) -> None:
    settings = error_tables.settings()
    targets = resolve_all_targets(settings, [TableRef.parse("it.customers"), "IT"])
    assert list(targets) == ["it"] and targets["it"].credentials.username == "sparkpg_reader"
    broken = error_tables.settings(credentials_file=str(error_tables.tmp / "missing.json"))
    with pytest.raises(CredentialsError, match=r"missing\.json"):
        resolve_all_targets(broken, ["it"])


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


def test_main_job_re_reads_a_secret_rotated_after_planning(
    spark: Any, error_tables: ReadDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spark_jobs.job import main as job

    role, old, new = "sparkpg_rotating_job", "old-" + PASSWORD, "new-" + PASSWORD
    error_tables.execute(f"CREATE ROLE {role} LOGIN PASSWORD $${old}$$")
    error_tables.execute(
        "DROP TABLE IF EXISTS rotated; CREATE TABLE rotated (id int PRIMARY KEY, amount numeric(10, 2)); "
        "INSERT INTO rotated VALUES (1, 1.5), (2, 'NaN')"
    )
    error_tables.execute(f"GRANT SELECT ON rotated TO {role}")
    materialize = job.materialize
    calls: list = []

    def rotate_then_materialize(*args: Any, **kwargs: Any) -> int:
        if not calls:  # between planning and the first action: the secret rotates
            error_tables.execute(f"ALTER ROLE {role} PASSWORD $${new}$$")
            error_tables.settings_data(user=role, password=new, name="rotation-job")
        calls.append(args[0])
        return materialize(*args, **kwargs)

    monkeypatch.setattr(job, "materialize", rotate_then_materialize)
    try:
        settings = error_tables.settings(user=role, password=old, name="rotation-job")
        options = job.JobOptions(tables=("it.rotated",), output=str(tmp_path / "out"))
        result = job.run_job(spark, settings, options)
        assert result.error is None
        assert [(o.name, o.rows) for o in result.outcomes] == [("it.public.rotated", 2)]
        assert len(calls) == 2 and calls[0] is not calls[1]  # one retry, on a rebuilt DataFrame
        # The retry runs on the engine the read was planned for (the COPY engine's scan, its
        # counts from the decoder), not on Spark's JDBC source.
        for df in calls:
            plan = df._jdf.queryExecution().executedPlan().toString()
            assert "sparkpg_copy it.public.rotated" in plan and "JDBCRelation" not in plan, plan
        assert result.outcomes[0].nulled == 1  # the NaN, counted by the decoder of the retry
        written = spark.read.parquet(result.outcomes[0].output).collect()
        assert sorted((r.id, r.amount) for r in written) == [(1, Decimal("1.5")), (2, None)]
    finally:
        error_tables.execute(f"DROP OWNED BY {role}; DROP ROLE {role}; DROP TABLE rotated")
