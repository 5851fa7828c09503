"""Pure parts of the read layer: JAR lookup, connection properties, the generated subquery."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from connectors.errors import JdbcDriverNotFoundError, SnapshotError
from connectors.secrets import Credentials
from connectors.settings import ConnectionSettings, settings_from_dict
from spark_jobs.jdbc_client import JdbcTarget
from spark_jobs.partitioning import KeyCandidate, StrategyChoice
from spark_jobs.reader import (
    CTID_ALIAS,
    KEY_ALIAS,
    LOST_ALIAS,
    Snapshot,
    TableRead,
    UnrepresentableReport,
    _dbtable,
    _snapshot_for,
    lost_masks,
)
from spark_jobs.session import JAR_ENV, find_jdbc_jar
from spark_jobs.types import ColumnPlan

PASSWORD = "pa'ss;word"


def target(**fields: object) -> JdbcTarget:
    conn = ConnectionSettings(name="db", host="db.example.com", credentials_env="DB", **fields)  # type: ignore[arg-type]
    creds = Credentials(username="reader", password=PASSWORD, source="test")  # type: ignore[arg-type]
    return JdbcTarget(conn, creds, "jdbc:postgresql://db.example.com:5432/postgres")


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


def test_missing_jar_gives_the_seed_advice(tmp_path: Path) -> None:
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


def test_properties_binary_transfer_default_and_user_override() -> None:
    props = target().properties()
    assert props["prepareThreshold"] == "-1"
    assert props["user"] == "reader" and props["password"] == PASSWORD
    assert "prepareThreshold" not in target().properties(binary_transfer=False)
    own = target(jdbc_properties={"prepareThreshold": "5"}).properties()
    assert "prepareThreshold" not in own  # the URL carries the user's value and wins


def test_target_repr_and_redaction_hide_the_password() -> None:
    t = target()
    assert PASSWORD not in repr(t)
    assert t.redact(f"failed with {PASSWORD} inside") == "failed with *** inside"


def _read(choice: StrategyChoice, plans: list) -> TableRead:  # type: ignore[type-arg]
    from spark_jobs.partitioning import single_plan

    return TableRead(
        name="t",
        source="db.public.t",
        dbtable=_dbtable(plans, '"public"."t"', None, choice),
        plan=single_plan(choice),
        columns=tuple(plans),
        fetch_size=100,
        binary_transfer=True,
        target=target(),
    )


def test_subquery_exposes_ctid_or_key_under_reserved_aliases_and_wraps_the_filter() -> None:
    plans = [
        ColumnPlan("id", '"id"', None, "x"),
        ColumnPlan("amount", '"amount"::text AS "amount"', "string", "exact"),
    ]
    pages = StrategyChoice("page_range", 2, "")
    assert _dbtable(plans, '"s"."t"', None, pages) == (
        f'(SELECT ctid AS "{CTID_ALIAS}", "id", "amount"::text AS "amount" FROM "s"."t") '
        'AS "__sparkpg_src"'
    )
    keyed = StrategyChoice("key_range", 2, "", KeyCandidate("id", "integer"))
    assert _dbtable(plans, '"s"."t"', "x > 1 -- c", keyed) == (
        f'(SELECT "id" AS "{KEY_ALIAS}", "id", "amount"::text AS "amount" FROM "s"."t" '
        'WHERE (\nx > 1 -- c\n)) AS "__sparkpg_src"'
    )


def test_custom_schema_and_options_of_a_read() -> None:
    plans = [
        ColumnPlan("id", '"id"', None, "x"),
        ColumnPlan("we`ird", '"we`ird"', "DECIMAL(38,0)", "x"),
    ]
    read = _read(StrategyChoice("single", 1, "small"), plans)
    assert read.custom_schema == "`we``ird` DECIMAL(38,0)"
    props = read.jdbc_properties()
    assert props["fetchsize"] == "100" and props["customSchema"] == "`we``ird` DECIMAL(38,0)"
    assert props["sessionInitStatement"] == "SET LOCAL jit = off"
    assert PASSWORD not in repr(read)
    # With a snapshot, its statements come first (SET TRANSACTION SNAPSHOT must precede queries).
    snapshotted = dataclasses.replace(read, snapshot=Snapshot("db", "00000003-0000001B-1"))
    assert snapshotted.jdbc_properties()["sessionInitStatement"] == (
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
        "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'; SET LOCAL jit = off"
    )


def test_snapshot_statement_and_connection_check() -> None:
    snap = Snapshot("db", "00000003-0000001B-1")
    assert snap.session_init_statement == (
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
        "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'"
    )
    assert _snapshot_for({}, "DB", snap) == snap
    with pytest.raises(SnapshotError, match="exported on connection 'db'"):
        _snapshot_for({}, "other", snap)


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
    single = StrategyChoice("single", 1, "")
    assert _dbtable(plans[:2], '"s"."t"', None, single, masks=lost_masks(plans[:2])) == (
        '(SELECT "id", "c0", (CASE WHEN "c0" = 0 THEN 1 ELSE 0 END) AS "__sparkpg_lost" '
        'FROM "s"."t") AS "__sparkpg_src"'
    )


def test_report_without_observation_is_unknown_and_without_columns_is_empty() -> None:
    guarded = ColumnPlan("d", '"d"', "DATE", "date", null_when='"d" = 0')
    off = UnrepresentableReport("db.public.t", lost_masks([guarded]), None)
    assert off.counts(wait_seconds=0) is None and not off.enabled
    off.raise_if_lost(wait_seconds=0)  # unknown is not a failure
    nothing = UnrepresentableReport("db.public.t", [], None)
    assert nothing.counts() == {} and nothing.lost() == {} and nothing.enabled
    assert off.message({"d": 2}) == (
        'db.public.t: 2 value(s) read as NULL because their Spark type cannot hold them: "d" 2 '
        "(date infinity or 1582-10-05..14). Read with --unrepresentable text "
        '(unrepresentable="text") to keep them exactly as PostgreSQL text'
    )


def test_summary_has_a_nulled_column_and_notes(capsys: pytest.CaptureFixture[str]) -> None:
    from entrypoints.read_tables import Outcome, print_summary

    print_summary(
        [Outcome("a", 10, 2, "key_range", "id", 1.0, nulled=3), Outcome("b", None, 1, "", "", 0)],
        ["not counted"],
    )
    lines = capsys.readouterr().out.splitlines()
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
