"""The clean-up of abandoned staging objects touches only what sparkpg created (issue 19, items 1
and 2): hostile look-alikes, another application's session and another role's leftovers
survive an ordinary write; a killed write's real leftovers are removed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, List

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from connectors.errors import WriteRefusedError
from spark_jobs.write.api import write_table
from spark_jobs.write.columns import ColumnPair, TargetColumn
from spark_jobs.write.staging import Staging, one_transaction
from tests.integration.jobs import start_job
from tests.integration.write.conftest import PASSWORD, ROLE, SCHEMA, WriteDb

pytestmark = pytest.mark.spark

OTHER_ROLE = "sparkpg_writer_b"
OTHER_PASSWORD = "b-p'ss \\ wörd"
NO_CREATE_ROLE = "sparkpg_writer_nocreate"

#: Objects of the writer role that only look like staging objects (item 1 of issue 19).
HOSTILE = [
    ("sparkpg_stage_x", "CREATE UNLOGGED TABLE {} (c0 int)"),
    ("sparkpg_stage_cache", "CREATE UNLOGGED TABLE {} AS SELECT 1 AS cached"),
    ("sparkpg_stage_foo", "CREATE TABLE {} AS SELECT 'precious' AS data"),
    ("sparkpg_stage_foo_chunks", "CREATE UNLOGGED TABLE {} (c0 int)"),
    ("sparkpg_stage_foo_moved", "CREATE SEQUENCE {}"),
    # the exact shape but no marker; the exact shape and the marker but logged
    ("sparkpg_stage_app_0123456789", "CREATE UNLOGGED TABLE {} (c0 int)"),
    ("sparkpg_stage_app_abcdef0123", "CREATE TABLE {} AS SELECT 'logged' AS data"),
]


def as_role(write_db: WriteDb, role: str = ROLE, password: str = PASSWORD, **params: Any) -> str:
    """The test database's conninfo as ``role``."""
    return make_conninfo(write_db.conninfo, user=role, password=password, **params)


def leave_staging_behind(conninfo: str, schema: str = SCHEMA) -> List[str]:
    """What a write killed right after its first chunk leaves: its staging objects, created by
    the write's own SQL as the role of ``conninfo``, with no session holding its advisory lock.
    Returns their names."""
    pair = ColumnPair(
        0, "id", "bigint", TargetColumn("id", "bigint", "int8", "N", None, *[False] * 3)
    )
    staging = Staging.new(schema, "local-1700000000000")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(one_transaction(staging.create_sql([pair], streaming=True)))  # type: ignore[arg-type]
        with conn.transaction():
            for statement in staging.chunk_create_sql().replace("{tag}", "4097").split("; "):
                conn.execute(statement)  # type: ignore[arg-type]
    return sorted(staging.table + s for s in ("", "_chunks", "_moved", "_t4097"))


def objects(write_db: WriteDb, schema: str = SCHEMA) -> List[str]:
    """Tables and sequences (not those of identity columns) named sparkpg_stage... in ``schema``."""
    return [
        r[0]
        for r in write_db.rows(
            "SELECT relname FROM pg_class c WHERE relkind IN ('r', 'S') "
            f"AND relnamespace = '{schema}'::regnamespace AND relname LIKE 'sparkpg_stage%' "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
            "AND d.objid = c.oid AND d.deptype IN ('a', 'i')) ORDER BY relname"
        )
    ]


def drop_hostile(write_db: WriteDb) -> None:
    for name, ddl in HOSTILE:
        kind = "SEQUENCE" if "SEQUENCE" in ddl else "TABLE"
        write_db.execute(f"DROP {kind} IF EXISTS {SCHEMA}.{name}")


@pytest.fixture
def hostile(write_db: WriteDb) -> Iterator[List[str]]:
    drop_hostile(write_db)
    for name, ddl in HOSTILE:
        write_db.execute(ddl.format(f"{SCHEMA}.{name}"))
        write_db.execute(f"ALTER TABLE {SCHEMA}.{name} OWNER TO {ROLE}")
    write_db.execute(
        f"COMMENT ON TABLE {SCHEMA}.sparkpg_stage_app_abcdef0123 IS "
        "'sparkpg staging sparkpg_stage_app_abcdef0123'"
    )
    yield [name for name, _ in HOSTILE]
    drop_hostile(write_db)


def test_clean_up_leaves_what_sparkpg_did_not_create_and_removes_what_it_did(
    spark: Any, write_db: WriteDb, hostile: List[str]
) -> None:
    name = write_db.table("ordinary", "id bigint")
    leftovers = leave_staging_behind(as_role(write_db))
    assert objects(write_db) == sorted(hostile + leftovers)
    other_app = as_role(write_db, application_name="sparkpg-write-test")  # even the same name
    with psycopg.connect(other_app) as other:
        other.execute(f"LOCK TABLE {SCHEMA}.sparkpg_stage_x IN ACCESS SHARE MODE")
        other_pid = other.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]

        write_table(spark.range(3), write_db.settings(), name)

        assert other.execute("SELECT count(*) FROM w.sparkpg_stage_cache").fetchone() == (1,)
        assert write_db.rows(
            f"SELECT count(*) FROM pg_locks WHERE pid = {other_pid} "
            f"AND relation = '{SCHEMA}.sparkpg_stage_x'::regclass"
        ) == [(1,)]
        other.rollback()
    assert objects(write_db) == sorted(hostile)
    assert write_db.rows(f"SELECT data FROM {SCHEMA}.sparkpg_stage_foo") == [("precious",)]
    assert write_db.rows(f"SELECT data FROM {SCHEMA}.sparkpg_stage_app_abcdef0123") == [("logged",)]
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.ordinary") == [(3,)]


def test_a_running_write_keeps_its_staging_objects(spark: Any, write_db: WriteDb) -> None:
    name = write_db.table("tidy", "id bigint")
    leftovers = leave_staging_behind(as_role(write_db))
    lock = f"{SCHEMA}.{leftovers[0]}"
    with psycopg.connect(write_db.conninfo, autocommit=True) as running:  # a write in progress
        running.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock,))
        write_table(spark.range(3), write_db.settings(), name)
        assert objects(write_db) == leftovers
    write_table(spark.range(3), write_db.settings(), name)  # now it is gone
    assert objects(write_db) == []


# --- another role's leftovers, a role without CREATE ---------------------------------------------


@pytest.fixture(scope="module")
def roles(write_db: WriteDb) -> Iterator[None]:
    def drop() -> None:
        for role in (OTHER_ROLE, NO_CREATE_ROLE):
            if write_db.rows(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'"):
                write_db.execute(f"DROP OWNED BY {role}")
                write_db.execute(f"DROP ROLE {role}")

    drop()
    for role, password in ((OTHER_ROLE, OTHER_PASSWORD), (NO_CREATE_ROLE, OTHER_PASSWORD)):
        write_db.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(  # type: ignore[arg-type]
                sql.Identifier(role), sql.Literal(password)
            )
        )
    write_db.execute(f"GRANT USAGE, CREATE ON SCHEMA {SCHEMA} TO {OTHER_ROLE}")
    write_db.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {NO_CREATE_ROLE}")
    yield
    drop()


def settings_of(write_db: WriteDb, tmp_path: Path, role: str, **connection: Any) -> Any:
    import json

    creds = tmp_path / f"{role}.json"
    creds.write_text(json.dumps({"username": role, "password": OTHER_PASSWORD}))
    return write_db.settings(credentials_file=str(creds), **connection)


def test_another_roles_leftovers_are_skipped_with_a_warning(
    spark: Any, write_db: WriteDb, roles: None, tmp_path: Path, caplog: Any
) -> None:
    leftovers = leave_staging_behind(as_role(write_db))  # the writer role's, killed
    write_db.execute(f"DROP TABLE IF EXISTS {SCHEMA}.b_target")
    write_db.execute(f"CREATE TABLE {SCHEMA}.b_target (id bigint)")
    write_db.execute(f"ALTER TABLE {SCHEMA}.b_target OWNER TO {OTHER_ROLE}")
    with caplog.at_level(logging.WARNING, logger="spark_jobs.write.staging"):
        write_table(spark.range(4), settings_of(write_db, tmp_path, OTHER_ROLE), "it.w.b_target")
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.b_target") == [(4,)]
    assert objects(write_db) == leftovers
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    for name in leftovers:
        assert f"{name} (owner {ROLE})" in warnings[0]
    write_table(spark.range(1), write_db.settings(), write_db.table("mine", "id bigint"))
    assert objects(write_db) == []  # the owner's next write removes them


def test_a_role_without_create_on_the_staging_schema_is_told_so(
    spark: Any, write_db: WriteDb, roles: None, tmp_path: Path
) -> None:
    name = write_db.table("no_create", "id bigint")
    write_db.execute(f"GRANT INSERT ON {SCHEMA}.no_create TO {NO_CREATE_ROLE}")
    settings = settings_of(write_db, tmp_path, NO_CREATE_ROLE)
    spark.sparkContext.setJobGroup("no-create", "no create")
    try:
        with pytest.raises(
            WriteRefusedError,
            match=rf"role '{NO_CREATE_ROLE}' lacks CREATE on schema 'w'.*GRANT CREATE ON SCHEMA "
            rf'"w" TO "{NO_CREATE_ROLE}", or pass staging_schema=',
        ):
            write_table(spark.range(2), settings, name)
        with pytest.raises(WriteRefusedError, match=r"staging schema 'nowhere' does not exist"):
            write_table(spark.range(2), settings, name, staging_schema="nowhere")
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    assert spark.sparkContext.statusTracker().getJobIdsForGroup("no-create") == []
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.no_create") == [(0,)]


# --- Ctrl-C and a kill while the staging objects are being created -------------------------------


def writer_backends(write_db: WriteDb) -> List[Any]:
    return write_db.rows(
        f"SELECT pid, wait_event_type, query FROM pg_stat_activity WHERE usename = '{ROLE}'"
    )


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["ctrl-c", "kill"])
def test_a_job_stopped_while_creating_its_staging_objects_leaves_none(
    write_db: WriteDb, jdbc_jar: Path, tmp_path: Path, stop: str
) -> None:
    """``sparkpg run --write`` whose staging creation waits on a lock after every CREATE. Ctrl-C
    (SIGINT to the job's process group, as a terminal sends it) ends the run's sessions, a
    SIGKILL of the driver and its JVM ends them too: either way none of the staging objects
    exists afterwards, without waiting for another write's clean-up."""
    import json
    import os
    import signal

    from devtools.faults import wait_for

    source = write_db.table("stopped_source", "id bigint")
    write_db.execute(f"INSERT INTO {SCHEMA}.stopped_source SELECT generate_series(1, 10)")
    name = write_db.table("stopped", "id bigint")
    gate = write_db.table("gate", "id int").split(".", 1)[1]
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(write_db.settings_data()))
    args = [gate, "--settings", str(settings), "--table", source, "--write", name]
    args += ["--master", "local[1]", "--conf", "spark.ui.enabled=false"]
    with psycopg.connect(write_db.conninfo) as holder:
        holder.execute(f"LOCK TABLE {gate} IN ACCESS EXCLUSIVE MODE")
        job = start_job("tests.integration.write.staging_interrupt_job", args, jdbc_jar)
        try:
            wait_for(
                lambda: (
                    job.poll() is not None
                    or any(w == "Lock" and gate in str(q) for _, w, q in writer_backends(write_db))
                ),
                timeout=180,
                what="the staging objects' creation to wait for the gate",
            )
            assert job.poll() is None, job.communicate()
            os.killpg(job.pid, signal.SIGINT if stop == "ctrl-c" else signal.SIGKILL)
            _, err = job.communicate(timeout=120)
        finally:
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGKILL)
                job.communicate()
        wait_for(lambda: not writer_backends(write_db), timeout=60, what="the write's sessions")
        assert objects(write_db) == []
        holder.rollback()
    if stop == "ctrl-c":
        assert job.returncode == 130, err[-3000:]
        assert err.strip().splitlines()[-1] == "sparkpg: interrupted", err[-3000:]
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.stopped") == [(0,)]
