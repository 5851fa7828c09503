"""IAM database authentication end to end (issue 21): a real PostgreSQL refuses any token that
RDS would refuse (tests/integration/auth/conftest.py), and sparkpg's reads (both engines) and
writes get in, sign new tokens as a long job goes on, and explain a refusal."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Callable, List

import psycopg
import pytest

from connectors.errors import DatabaseAuthenticationError
from connectors.iam import IamSigning, generate_auth_token
from devtools.ldap_verifier import Decision
from spark_jobs.read.api import read_table
from spark_jobs.write.api import write_table
from tests.integration.auth.conftest import ENDPOINT, KEYS, OTHER_USER, USER, IamDb

pytestmark = pytest.mark.usefixtures("iam_jvm")
ROWS = [(1, "a"), (2, None), (3, "é"), (4, "d")]
CACHE_PROPERTY = "io.sparkpg.iam.tokenCacheMillis"


def rows(df: Any) -> List[Any]:
    return sorted((r["id"], r["name"]) for r in df.collect())


def accepted_since(iam_db: IamDb, start: int) -> List[Decision]:
    return [d for d in iam_db.verifier.decisions[start:] if d.accepted]


@pytest.mark.parametrize("engine", ["copy", "jdbc"])
def test_read_with_iam_tokens(spark: Any, iam_db: IamDb, engine: str) -> None:
    start = len(iam_db.verifier.decisions)
    df = read_table(spark, iam_db.settings(), "iamdb.public.items", engine=engine)
    assert rows(df) == ROWS
    assert accepted_since(iam_db, start), "the server saw IAM logins"
    assert all(d.accepted for d in iam_db.verifier.decisions[start:])
    assert "X-Amz" not in df._jdf.queryExecution().toString()


def test_write_with_iam_tokens(spark: Any, iam_db: IamDb) -> None:
    df = spark.createDataFrame([(10, "x"), (11, None)], "id int, name string")
    write_table(df, iam_db.settings(read_only=False), "iamdb.public.written", mode="overwrite")
    with psycopg.connect(iam_db.conninfo) as admin:
        written = admin.execute("SELECT id, name FROM written ORDER BY id").fetchall()
    assert written == [(10, "x"), (11, None)]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def run_past_token_lifetime(
    spark: Any, iam_db: IamDb, cache_millis: int, engine: str = "copy"
) -> None:
    """Two actions on one DataFrame, the second after every token of the first expired (the
    verifier's lifetime shortened to 3 s, the JVM's token cache set to ``cache_millis``)."""
    system = spark.sparkContext._jvm.java.lang.System
    system.setProperty(CACHE_PROPERTY, str(cache_millis))
    iam_db.verifier.max_age = dt.timedelta(seconds=3)
    try:
        df = read_table(
            spark,
            iam_db.settings(),
            "iamdb.public.items",
            partitioning={"num_partitions": 2},
            engine=engine,
        )
        assert df.count() == 4
        signing = IamSigning(ENDPOINT.host, ENDPOINT.port, ENDPOINT.region, USER)
        after_first = generate_auth_token(signing, KEYS)  # no older than the first action's
        wait_until(
            lambda: "expired" in (iam_db.verifier.check(USER, after_first) or ""),
            "the first action's tokens expired",
        )
        assert rows(df) == ROWS
    finally:
        iam_db.verifier.max_age = dt.timedelta(seconds=900)
        system.clearProperty(CACHE_PROPERTY)


def test_a_job_longer_than_the_token_lifetime_signs_new_tokens(spark: Any, iam_db: IamDb) -> None:
    start = len(iam_db.verifier.decisions)
    run_past_token_lifetime(spark, iam_db, cache_millis=1000)
    assert all(d.accepted for d in iam_db.verifier.decisions[start:])


@pytest.mark.parametrize("engine", ["copy", "jdbc"])
def test_a_refused_cached_token_is_signed_afresh_and_retried_once(
    spark: Any, iam_db: IamDb, engine: str
) -> None:
    """The same job with a token cache longer than the (shortened) lifetime: the server refuses
    each expired cached token once, the engine signs a new one and the login succeeds."""
    start = len(iam_db.verifier.decisions)
    run_past_token_lifetime(spark, iam_db, cache_millis=600_000, engine=engine)
    refused = [d for d in iam_db.verifier.decisions[start:] if not d.accepted]
    assert refused and all(d.reason.startswith("expired") for d in refused)
    assert iam_db.verifier.decisions[-1].accepted


@pytest.mark.parametrize(
    "fields, reason, named",
    [
        (  # the address dialled, as a tool that signs for it would
            {"iam_host": "localhost", "iam_region": "us-east-1", "iam_port": "dialled"},
            "signed for localhost:",
            "on localhost:",
        ),
        ({"iam_region": "eu-west-1"}, "signed for region eu-west-1", "(eu-west-1)"),
        ({"username": OTHER_USER}, "allows rds-db:connect for iam_app, not iam_other", "iam_other"),
    ],
)
def test_a_wrong_token_is_refused_with_the_likely_causes(
    spark: Any, iam_db: IamDb, fields: dict, reason: str, named: str
) -> None:
    if fields.get("iam_port") == "dialled":
        fields = {**fields, "iam_port": iam_db.server.port}
    settings = iam_db.settings(**fields)
    with pytest.raises(DatabaseAuthenticationError) as info:
        read_table(spark, settings, "iamdb.public.items")
    refusal = iam_db.verifier.last_refusal()
    assert refusal is not None and reason in refusal.reason
    message = str(info.value)
    assert "The IAM auth token was signed for rds-db:connect" in message
    assert named in message
    for cause in ("iam_host/iam_port", "iam_region", "rds_iam", "docs/auth.md#troubleshooting"):
        assert cause in message
    assert "X-Amz" not in message and KEYS.secret_access_key not in message


def test_the_doctor_probe_job_logs_in_with_a_token(spark: Any, iam_db: IamDb) -> None:
    """``sparkpg doctor --probe``'s job (Spark's JDBC source with the product's options) on an
    IAM connection: it signs a token, the server accepts it, and the probe reports the login."""
    from spark_jobs.job.connection_probe import probe_connections, spark_connector

    start = len(iam_db.verifier.decisions)
    [probe] = probe_connections(iam_db.settings(), spark_connector(spark))
    assert probe.ok, probe.detail
    assert (probe.connection, probe.stage) == ("iamdb", "connect")
    assert f"as {USER}; SELECT 1 AS sparkpg_probe returned 1 row(s)" in probe.detail
    assert accepted_since(iam_db, start), "the server saw the probe's IAM login"
    assert "X-Amz" not in probe.detail


def test_the_doctor_probe_explains_a_refused_token(spark: Any, iam_db: IamDb) -> None:
    """A token signed for the wrong region: the probe's error says what it was signed for, and
    the doctor's fix points at the IAM checks."""
    from diagnostics.probe_run import fix_for_error
    from spark_jobs.job.connection_probe import probe_connections, spark_connector

    settings = iam_db.settings(iam_region="eu-west-1")
    [probe] = probe_connections(settings, spark_connector(spark))
    assert not probe.ok and probe.stage == "connect"
    assert probe.detail.startswith("org.postgresql.util.PSQLException: FATAL:"), probe.detail
    assert "The IAM auth token was signed for rds-db:connect as 'iam_app'" in probe.detail
    assert "(eu-west-1). Likely causes:" in probe.detail
    assert "X-Amz" not in probe.detail
    assert "docs/auth.md#troubleshooting" in fix_for_error(probe.detail)
