"""Pure parts of the read layer: JAR lookup, connection options, read options, the generated
subquery, the facade."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.errors import (
    JdbcDriverNotFoundError,
    PartitioningError,
    SettingsError,
    SnapshotError,
)
from connectors.jdbc import jdbc_options, resolve_endpoint
from connectors.secrets import Credentials
from connectors.settings import ConnectionSettings, settings_from_dict
from spark_jobs.db.target import DbTarget
from spark_jobs.engine.options import connection_options
from spark_jobs.engine.session import JAR_ENV, find_jdbc_jar
from spark_jobs.read.options import ReadOptions
from spark_jobs.read.partitioning import PartitionOverrides, PartitionPlan, Split, Strategy
from spark_jobs.read.plan import TableRead, storage_check
from spark_jobs.read.report import UnrepresentableReport
from spark_jobs.read.snapshots import Snapshot, snapshot_for
from spark_jobs.read.spark_jdbc import (
    LOST_ALIAS,
    SPLIT_ALIAS,
    dbtable_sql,
    lost_masks,
    predicates,
    properties_in_url,
    spark_options,
)
from spark_jobs.read.types import ColumnPlan

PASSWORD = "pa'ss;word"


def target(**fields: object) -> DbTarget:
    conn = ConnectionSettings(name="db", host="db.example.com", credentials_env="DB", **fields)  # type: ignore[arg-type]
    creds = Credentials(username="reader", password=PASSWORD, source="test")  # type: ignore[arg-type]
    return DbTarget(conn, creds, resolve_endpoint(conn, creds))


def make_jar(root: Path, version: str) -> Path:
    jar = root / version / f"postgresql-{version}.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"PK")
    return jar


def test_jar_from_settings_env_then_newest_in_maven(tmp_path: Path) -> None:
    maven = tmp_path / "m2"
    make_jar(maven, "42.7.9")
    newest = make_jar(maven, "42.7.13")
    assert find_jdbc_jar(environ={}, maven_dir=maven) == newest
    env_jar = make_jar(tmp_path / "env", "1.0")
    assert find_jdbc_jar(environ={JAR_ENV: str(env_jar)}, maven_dir=maven) == env_jar
    local = make_jar(tmp_path / "local", "2.0")
    settings = settings_from_dict({"postgres": {"jdbc_driver_path": str(local)}})
    assert find_jdbc_jar(settings, environ={JAR_ENV: str(env_jar)}, maven_dir=maven) == local
    remote = settings_from_dict({"postgres": {"jdbc_driver_path": "s3://b/jars/pg.jar"}})
    assert find_jdbc_jar(remote, environ={}, maven_dir=maven) == newest


def test_missing_jar_gives_the_troubleshooting_advice(tmp_path: Path) -> None:
    remote = settings_from_dict({"postgres": {"jdbc_driver_path": "s3://b/jars/pg.jar"}})
    with pytest.raises(JdbcDriverNotFoundError) as caught:
        find_jdbc_jar(remote, environ={}, maven_dir=tmp_path / "none")
    text = str(caught.value)
    assert "ClassNotFoundException: org.postgresql.Driver" in text
    assert "--jars" in text and JAR_ENV in text and "s3://b/jars/pg.jar" in text
    with pytest.raises(JdbcDriverNotFoundError, match="does not exist"):
        find_jdbc_jar(environ={JAR_ENV: str(tmp_path / "nope.jar")})
    missing_local = settings_from_dict({"postgres": {"jdbc_driver_path": str(tmp_path / "x.jar")}})
    with pytest.raises(JdbcDriverNotFoundError, match="jdbc_driver_path"):
        find_jdbc_jar(missing_local, environ={})


def test_properties_binary_transfer_default_and_off() -> None:
    properties = target().properties()
    assert properties == {"user": "reader", "password": PASSWORD, "prepareThreshold": "-1"}
    assert "prepareThreshold" not in target().properties(binary_transfer=False)


def test_one_properties_builder_under_spark_options_and_engine_options() -> None:
    t = target()
    spark = t.spark_jdbc_options(fetch_size=7)
    assert spark == jdbc_options(t.connection, t.credentials, fetch_size=7)
    assert spark == {
        "url": t.url,
        "driver": "org.postgresql.Driver",
        "fetchsize": "7",
        **t.properties(),
    }
    engine = connection_options(t.url, t.properties())
    assert engine == {"url": t.url, **{f"property.{k}": v for k, v in t.properties().items()}}
    assert t.host_port == "db.example.com:5432"


def test_target_repr_and_redaction_hide_the_password() -> None:
    t = target()
    assert PASSWORD not in repr(t)
    assert t.redact(f"failed with {PASSWORD} inside") == "failed with *** inside"


def _read(partitions: PartitionPlan, plans: list, filter_sql: str | None = None) -> TableRead:  # type: ignore[type-arg]
    return TableRead(
        name="t",
        source="db.public.t",
        plan=partitions,
        columns=tuple(plans),
        described=(),
        from_sql='"s"."t"',
        target=target(),
        filter_sql=filter_sql,
        fetch_size=100,
    )


def test_jdbc_subquery_exposes_the_split_column_under_its_alias_and_wraps_the_filter() -> None:
    plans = [
        ColumnPlan("id", '"id"', None, "x"),
        ColumnPlan("amount", '"amount"::text AS "amount"', "string", "exact"),
    ]
    pages = PartitionPlan(Strategy.PAGE_RANGE, Split("ctid", ("'(5,0)'::tid",)))
    assert dbtable_sql(_read(pages, plans)) == (
        f'(SELECT ctid AS "{SPLIT_ALIAS}", "id", "amount"::text AS "amount" FROM "s"."t") '
        'AS "__sparkpg_src"'
    )
    assert predicates(_read(pages, plans)) == (
        f"\"{SPLIT_ALIAS}\" < '(5,0)'::tid",
        f"\"{SPLIT_ALIAS}\" >= '(5,0)'::tid",
    )
    keyed = PartitionPlan(Strategy.KEY_RANGE, Split('"id"', ("10",)), key_column="id")
    assert dbtable_sql(_read(keyed, plans, "x > 1 -- c")) == (
        f'(SELECT "id" AS "{SPLIT_ALIAS}", "id", "amount"::text AS "amount" FROM "s"."t" '
        'WHERE (\nx > 1 -- c\n)) AS "__sparkpg_src"'
    )


def test_custom_schema_and_options_of_a_read() -> None:
    plans = [
        ColumnPlan("id", '"id"', None, "x"),
        ColumnPlan("we`ird", '"we`ird"', "DECIMAL(38,0)", "x"),
    ]
    read = _read(PartitionPlan("single", None, "small"), plans)
    options = spark_options(read)
    assert options["fetchsize"] == "100" and options["customSchema"] == "`we``ird` DECIMAL(38,0)"
    assert options["sessionInitStatement"] == "SET LOCAL lock_timeout = '10s'; SET LOCAL jit = off"
    on_pg14 = dataclasses.replace(read, server_version_num=140000)
    assert on_pg14.session_statements == (
        "SET LOCAL lock_timeout = '10s'",
        "SET LOCAL client_connection_check_interval = '10s'",
        "SET LOCAL jit = off",
    )
    assert options["url"] == read.target.url and options["password"] == PASSWORD
    assert PASSWORD not in repr(read)
    # With a snapshot, its statements come first (SET TRANSACTION SNAPSHOT must precede queries).
    snapshotted = dataclasses.replace(read, snapshot=Snapshot("db", "00000003-0000001B-1"))
    assert spark_options(snapshotted)["sessionInitStatement"] == (
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
        "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'; SET LOCAL lock_timeout = '10s'; "
        "SET LOCAL jit = off"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.fetch_size = 1  # type: ignore[misc]


def test_partitions_check_the_table_storage_when_page_ranges_or_a_snapshot_depend_on_it() -> None:
    plans = [ColumnPlan("id", '"id"', None, "x")]
    pages = PartitionPlan(Strategy.PAGE_RANGE, Split("ctid", ("'(5,0)'::tid",)))
    keyed = PartitionPlan(Strategy.KEY_RANGE, Split('"id"', ("10",)), key_column="id")
    snap = Snapshot("db", "00000003-0000001B-1")
    stored = (16384, 16390)
    check = storage_check('"s"."t"', stored)
    cases = [
        (pages, None, stored, True),
        (keyed, snap, stored, True),
        (PartitionPlan("single", None, "small"), snap, stored, True),
        (keyed, None, stored, False),  # key ranges find each row by its key
        (pages, snap, None, False),  # no storage of its own: a partitioned table, a view
    ]
    for plan, snapshot, storage, checked in cases:
        read = dataclasses.replace(_read(plan, plans), snapshot=snapshot, storage=storage)
        assert read.checks_storage is checked
        statements = read.session_statements
        assert (check in statements) is checked
        if checked:  # last: after the snapshot (first) and the lock timeout it waits under
            assert statements[-1] == check and "lock_timeout" in " ".join(statements[:-1])
            assert check in spark_options(read)["sessionInitStatement"]
    # the lock first (held to the transaction's end), then the filenode, by oid
    assert check.index('PERFORM FROM "s"."t" WHERE false') < check.index(
        "pg_relation_filenode(16384::oid) IS DISTINCT FROM 16390"
    )
    assert "rewritten" in check and check.startswith("DO $sparkpg$") and check.endswith("$sparkpg$")
    # a quoted name holding the dollar-quote tag cannot end the block early
    odd = storage_check('"s"."a$sparkpg$b"', stored)
    tag = odd[3 : odd.index("BEGIN")]
    assert tag != "$sparkpg$" and odd.endswith(tag) and odd.count(tag) == 2


def test_read_options_validate_and_merge_keywords() -> None:
    base = ReadOptions(columns=["a", "b"], partitioning={"num_partitions": 4})
    assert base.columns == ("a", "b")
    assert base.partitioning == PartitionOverrides(num_partitions=4)
    merged = ReadOptions.of(base, where="a > 1", fetch_size=50)
    assert (merged.columns, merged.where, merged.fetch_size) == (("a", "b"), "a > 1", 50)
    assert ReadOptions.of() == ReadOptions()
    with pytest.raises(SettingsError, match=r"unknown read option.*colums.*valid: columns"):
        ReadOptions.of(colums=["a"])
    with pytest.raises(SettingsError, match="fetch_size must be >= 1, got 0"):
        ReadOptions(fetch_size=0)
    with pytest.raises(SettingsError, match="unrepresentable must be one of null, text"):
        ReadOptions(unrepresentable="nan")
    with pytest.raises(SettingsError, match="list of column names"):
        ReadOptions(columns="a")  # type: ignore[arg-type]
    with pytest.raises(PartitioningError, match="unknown partitioning option"):
        ReadOptions(partitioning={"parts": 2})
    with pytest.raises(SettingsError, match="columns and where cannot be used with several"):
        merged.only_source_wide("several tables")
    assert PartitionOverrides(strategy="auto").strategy is None
    assert PartitionOverrides(strategy="page_range").strategy is Strategy.PAGE_RANGE
    assert str(Strategy.KEY_RANGE) == f"{Strategy.KEY_RANGE}" == "key_range"


def test_facade_is_lazy_and_complete() -> None:
    code = (
        "import sys, spark_jobs; assert 'pyspark' not in sys.modules; "
        "assert 'boto3' not in sys.modules; "
        "import spark_jobs.read.partitioning, connectors.jdbc; assert 'boto3' not in sys.modules; "
        "assert sorted(spark_jobs.__all__) == sorted(spark_jobs._EXPORTS); "
        "[getattr(spark_jobs, n) for n in spark_jobs.__all__]; "
        "from spark_jobs import read_table, ReadOptions; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_snapshot_statement_and_connection_check() -> None:
    snap = Snapshot("db", "00000003-0000001B-1")
    assert snap.session_init_statement == (
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
        "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'"
    )
    assert snapshot_for({}, "DB", snap) == snap
    assert snapshot_for({"OTHER": snap}, "other", None) == snap
    with pytest.raises(SnapshotError, match="exported on connection 'db'"):
        snapshot_for({}, "other", snap)


def test_lost_masks_set_one_bit_per_guarded_column_in_chunks_of_31() -> None:
    plans = [ColumnPlan("id", '"id"', None, "native")] + [
        ColumnPlan(f"c{i}", f'"c{i}"', "DATE", "date", null_when=f'"c{i}" = 0') for i in range(33)
    ]
    masks = lost_masks(plans)
    assert [m.alias for m in masks] == [LOST_ALIAS, f"{LOST_ALIAS}_2"]
    assert [len(m.columns) for m in masks] == [31, 2]
    assert masks[1].select_sql == (
        '(CASE WHEN "c31" = 0 THEN 1 ELSE 0 END + CASE WHEN "c32" = 0 THEN 2 ELSE 0 END) '
        f'AS "{LOST_ALIAS}_2"'
    )
    assert f"THEN {1 << 30} ELSE 0 END) AS" in masks[0].select_sql  # still an integer
    assert lost_masks(plans[:1]) == []
    single = PartitionPlan(Strategy.SINGLE)
    assert dbtable_sql(_read(single, plans[:2])) == (
        '(SELECT "id", "c0", (CASE WHEN "c0" = 0 THEN 1 ELSE 0 END) AS "__sparkpg_lost" '
        'FROM "s"."t") AS "__sparkpg_src"'
    )


def test_report_without_observation_is_unknown_and_without_columns_is_empty() -> None:
    guarded = ColumnPlan("d", '"d"', "DATE", "date", null_when='"d" = 0')
    off = UnrepresentableReport("db.public.t", [guarded], None)
    assert off.counts(wait_seconds=0) is None and not off.enabled
    off.raise_if_lost(wait_seconds=0)  # unknown is not a failure
    nothing = UnrepresentableReport("db.public.t", [], None)
    assert nothing.counts() == {} and nothing.lost() == {} and nothing.enabled
    assert off.message({"d": 2}) == (
        'db.public.t: 2 value(s) read as NULL because their Spark type cannot hold them: "d" 2 '
        "(date infinity or 1582-10-05..14). Read with --unrepresentable text "
        '(unrepresentable="text") to keep them exactly as PostgreSQL text'
    )


def test_summary_has_a_nulled_column_and_notes() -> None:
    from spark_jobs.job.summary import JobResult, TableOutcome

    result = JobResult(
        (
            TableOutcome("a", 10, 2, "key_range", "id", 1.0, nulled=3),
            TableOutcome("b", None, 1, "", "", 0),
        ),
        ("not counted",),
    )
    lines = result.summary().splitlines()
    assert lines[0].split() == [
        "table",
        "rows",
        "partitions",
        "strategy",
        "key",
        "seconds",
        "nulled",
    ]
    assert lines[1].split()[-1] == "3" and lines[2].split()[-1] == "-"
    assert lines[3] == "note: not counted"


def test_pgjdbc_properties_travel_in_the_url_for_partitioned_jdbc_reads() -> None:
    """Spark 4 lower-cases the names of reader.jdbc(..., predicates, properties): pgjdbc's
    case-sensitive ones go into the URL, the credentials stay properties, a URL parameter wins."""
    options = {
        "user": "app",
        "password": "p&w=d",
        "prepareThreshold": "-1",
        "authenticationPluginClassName": "io.sparkpg.engine.auth.IamAuthPlugin",
        "sparkpgIamHost": "db.cluster-x.us-east-1.rds.amazonaws.com",
        "fetchsize": "10000",
        "sessionInitStatement": "SET LOCAL jit = off",
    }
    names = ["user", "password", "prepareThreshold", "authenticationPluginClassName"]
    names.append("sparkpgIamHost")
    url, left = properties_in_url("jdbc:postgresql://h:5432/d?prepareThreshold=5", options, names)
    assert url == (
        "jdbc:postgresql://h:5432/d?prepareThreshold=5"
        "&authenticationPluginClassName=io.sparkpg.engine.auth.IamAuthPlugin"
        "&sparkpgIamHost=db.cluster-x.us-east-1.rds.amazonaws.com"
    )
    assert left == {
        "user": "app",
        "password": "p&w=d",
        "fetchsize": "10000",
        "sessionInitStatement": "SET LOCAL jit = off",
    }
    assert properties_in_url("jdbc:postgresql://h/d", {"a b": "c&d"}, ["a b"])[0] == (
        "jdbc:postgresql://h/d?a%20b=c%26d"
    )
