"""The write path's pure parts: type mapping, column matching, the commit's SQL."""

from __future__ import annotations

import json
import re
from typing import Optional

import pytest

from connectors.errors import WriteRefusedError
from connectors.jdbc import TableRef
from spark_jobs.write.columns import (
    ColumnPair,
    NewColumn,
    TargetColumn,
    check_compatible,
    create_table_sql,
    match_columns,
    staging_type,
)
from spark_jobs.write.contract import (
    DIRECT,
    STAGED,
    STREAMED,
    WriteSpec,
    atomic_spec,
    direct_spec,
)
from spark_jobs.write.staging import (
    STAGING_NAME,
    Staging,
    commit_statements,
    move_sql,
    one_transaction,
    staging_family_pattern,
    staging_object,
    staging_owner,
)

REF = TableRef("it", "s", 'Or"ders')


def col(
    name: str,
    type_sql: str = "integer",
    base: str = "int4",
    category: str = "N",
    *,
    not_null: bool = False,
    default: bool = False,
    element: Optional[str] = None,
) -> TargetColumn:
    return TargetColumn(name, type_sql, base, category, element, not_null, default, False)


@pytest.mark.parametrize(
    ("spark", "pg"),
    [
        ("boolean", "boolean"),
        ("tinyint", "smallint"),
        ("int", "integer"),
        ("bigint", "bigint"),
        ("float", "real"),
        ("double", "double precision"),
        ("decimal(38,18)", "numeric(38,18)"),
        ("string", "text"),
        ("binary", "bytea"),
        ("date", "date"),
        ("timestamp", "timestamp with time zone"),
        ("timestamp_ntz", "timestamp without time zone"),
        ("array<decimal(5,2)>", "numeric(5,2)[]"),
        ("array<string>", "text[]"),
    ],
)
def test_staging_types_hold_spark_types(spark: str, pg: str) -> None:
    assert staging_type(spark, "c") == pg


@pytest.mark.parametrize(
    "spark", ["map<int,int>", "struct<a:int>", "array<array<int>>", "interval day"]
)
def test_types_without_an_encoding_are_refused_naming_the_column(spark: str) -> None:
    with pytest.raises(WriteRefusedError, match=r"column 'c' has Spark type"):
        staging_type(spark, "c")


def test_columns_match_exactly_then_ignoring_case() -> None:
    target = [col("id"), col("Name", "text", "text", "S"), col("opt", default=True)]
    pairs = match_columns([("id", "int"), ("name", "string")], target, table="t")
    assert [(p.spark_name, p.target.name, p.staging_name) for p in pairs] == [
        ("id", "id", "c0"),
        ("name", "Name", "c1"),
    ]
    with pytest.raises(WriteRefusedError, match=r"has no column 'x'"):
        match_columns([("id", "int"), ("x", "int")], target, table="t")
    with pytest.raises(WriteRefusedError, match=r"'req' are NOT NULL without a default"):
        match_columns([("id", "int")], [*target, col("req", not_null=True)], table="t")


@pytest.mark.parametrize(
    ("spark", "base", "category", "ok"),
    [
        ("string", "int4", "N", False),
        ("string", "numeric", "N", True),
        ("string", "interval", "T", True),
        ("string", "date", "D", True),
        ("string", "bool", "B", False),
        ("decimal(10,2)", "int8", "N", False),
        ("decimal(10,0)", "int8", "N", True),
        ("double", "int4", "N", False),
        ("int", "numeric", "N", True),
        ("timestamp", "date", "D", False),
        ("binary", "bytea", "U", True),
        ("binary", "text", "S", True),
        ("array<int>", "_int8", "A", True),
        ("array<string>", "_int4", "A", False),
    ],
)
def test_type_compatibility(spark: str, base: str, category: str, ok: bool) -> None:
    element = {"_int8": "int8", "_int4": "int4"}.get(base)
    pair = ColumnPair(0, "c", spark, col("c", base, base, category, element=element))
    if ok:
        check_compatible(pair, table="t")
    else:
        with pytest.raises(WriteRefusedError, match=r"column 'c' \(.*\) cannot be written"):
            check_compatible(pair, table="t")


def test_the_commit_sql_of_each_mode() -> None:
    pairs = [
        ColumnPair(0, "a", "int", col("a")),
        ColumnPair(1, "v", "string", col("v", "interval", "interval", "T")),
    ]
    staging = Staging("s", "sparkpg_stage_x")
    assert move_sql(REF, staging, pairs, "append", []) == (
        'INSERT INTO "s"."Or""ders" ("a", "v") SELECT c0::integer, c1::interval '
        'FROM "s"."sparkpg_stage_x_t{tag}"'
    )
    assert move_sql(REF, staging, pairs, "insert-missing", ["a"]).startswith(
        'INSERT INTO "s"."Or""ders" ("a", "v") SELECT c0::integer, c1::interval '
        'FROM "s"."sparkpg_stage_x" WHERE _sparkpg_attempt = ANY (?) ON CONFLICT'
    )
    assert move_sql(REF, staging, pairs, "upsert", ["a"]).endswith(
        'ON CONFLICT ("a") DO UPDATE SET "v" = EXCLUDED."v"'
    )
    assert move_sql(REF, staging, pairs, "insert-missing", ["a"]).endswith(
        'ON CONFLICT ("a") DO NOTHING'
    )
    assert commit_statements(REF, "overwrite") == [
        "SET LOCAL TimeZone = 'UTC'",
        "SET LOCAL jit = off",
        'DELETE FROM "s"."Or""ders"',
    ]
    assert commit_statements(REF, "append") == ["SET LOCAL TimeZone = 'UTC'", "SET LOCAL jit = off"]
    assert (
        create_table_sql(REF, [NewColumn("a b", "bigint")])
        == 'CREATE TABLE "s"."Or""ders" ("a b" bigint)'
    )


def test_create_keeps_not_null_lengths_and_the_key() -> None:
    columns = [
        NewColumn("id", "int", nullable=False),
        NewColumn("code", "string", True, "char(3)"),
        NewColumn("name", "string", False, "varchar(20)"),
        NewColumn("tags", "array<string>", True, "array<varchar(5)>"),
        NewColumn("odd", "int", True, "varchar(5)"),  # metadata that does not fit the type
        NewColumn("text", "string"),
    ]
    assert create_table_sql(REF, columns, ["id", "code"]) == (
        'CREATE TABLE "s"."Or""ders" ("id" integer NOT NULL, "code" character(3), '
        '"name" character varying(20) NOT NULL, "tags" character varying(5)[], "odd" integer, '
        '"text" text, PRIMARY KEY ("id", "code"))'
    )
    with pytest.raises(WriteRefusedError, match=r"'ID' is not a DataFrame column \(columns: id,"):
        create_table_sql(REF, columns, ["ID"])


def test_the_staging_tables_of_a_streaming_write_and_of_an_upsert() -> None:
    pairs = [ColumnPair(0, "a", "int", col("a")), ColumnPair(1, "v", "string", col("v"))]
    staging = Staging("s", "sparkpg_stage_x")
    mark = "IS 'sparkpg staging sparkpg_stage_x'"
    assert staging.create_sql(pairs, streaming=False) == [
        'CREATE UNLOGGED TABLE "s"."sparkpg_stage_x" (c0 integer, c1 text, _sparkpg_attempt bigint)'
        " WITH (autovacuum_enabled = false)",
        f'COMMENT ON TABLE "s"."sparkpg_stage_x" {mark}',
    ]
    assert staging.create_sql(pairs, streaming=True) == [
        'CREATE UNLOGGED TABLE "s"."sparkpg_stage_x" (c0 integer, c1 text) '
        "WITH (autovacuum_enabled = false)",
        f'COMMENT ON TABLE "s"."sparkpg_stage_x" {mark}',
        'CREATE UNLOGGED TABLE "s"."sparkpg_stage_x_chunks" (seq bigint GENERATED ALWAYS AS '
        "IDENTITY PRIMARY KEY, tag bigint NOT NULL, partition_id integer NOT NULL, "
        "failure text) WITH (autovacuum_enabled = false)",
        f'COMMENT ON TABLE "s"."sparkpg_stage_x_chunks" {mark}',
        'CREATE INDEX ON "s"."sparkpg_stage_x_chunks" (tag)',
        'CREATE SEQUENCE "s"."sparkpg_stage_x_moved" MINVALUE 0 START 0',
        f'COMMENT ON SEQUENCE "s"."sparkpg_stage_x_moved" {mark}',
    ]
    assert one_transaction(["A", "B"]) == "DO $sparkpg$ BEGIN A; B; END $sparkpg$"
    assert staging.chunk_create_sql() == (
        'CREATE UNLOGGED TABLE "s"."sparkpg_stage_x_t{tag}" (LIKE "s"."sparkpg_stage_x") '
        'WITH (autovacuum_enabled = false); COMMENT ON TABLE "s"."sparkpg_stage_x_t{tag}" ' + mark
    )
    drop = staging.drop_sql()
    assert drop.startswith("DO $sparkpg$") and drop.endswith("END $sparkpg$")
    assert "pg_terminate_backend" in drop and "a.usename = current_user" in drop
    assert "a.application_name = current_setting('application_name')" in drop
    assert "c.relname ~ '^sparkpg_stage_x(_chunks|_moved|_t[0-9]+)?$'" in drop
    assert "obj_description(c.oid, 'pg_class') = 'sparkpg staging sparkpg_stage_x'" in drop
    assert "(c.relkind = 'S' OR (c.relkind = 'r' AND c.relpersistence = 'u'))" in drop
    assert 'LOCK TABLE "s"."sparkpg_stage_x" IN ACCESS EXCLUSIVE MODE' in drop
    assert "pg_terminate_backend" not in staging.drop_sql(end_attempts=False)
    assert staging.lock == "s.sparkpg_stage_x"


def test_a_new_staging_name_has_the_reserved_shape() -> None:
    staging = Staging.new("s", "application_1700000000000_0042")
    assert re.fullmatch(r"sparkpg_stage_00000000000_0042_[0-9a-f]{10}", staging.table)
    assert STAGING_NAME.fullmatch(staging.table) and len(staging.table) <= 41
    assert staging.marker == "sparkpg staging " + staging.table


@pytest.mark.parametrize(
    ("name", "kind", "persistence", "comment", "write"),
    [
        (
            "sparkpg_stage_app_0c1d2e3f4a_t12",
            "r",
            "u",
            "sparkpg staging sparkpg_stage_app_0c1d2e3f4a",
            "sparkpg_stage_app_0c1d2e3f4a",
        ),
        (
            "sparkpg_stage_app_0c1d2e3f4a_moved",
            "S",
            "p",
            "sparkpg staging sparkpg_stage_app_0c1d2e3f4a",
            "sparkpg_stage_app_0c1d2e3f4a",
        ),
        (
            "sparkpg_stage_app_0c1d2e3f4a",
            "r",
            "p",
            "sparkpg staging sparkpg_stage_app_0c1d2e3f4a",
            None,
        ),  # logged
        ("sparkpg_stage_app_0c1d2e3f4a", "r", "u", None, None),  # no marker
        (
            "sparkpg_stage_app_0c1d2e3f4a_t1",
            "r",
            "u",
            "sparkpg staging sparkpg_stage_app_0c1d2e3f4b",
            None,
        ),
        ("sparkpg_stage_foo_chunks", "r", "u", "sparkpg staging sparkpg_stage_foo", None),  # shape
        ("sparkpg_stage_x", "r", "u", "sparkpg staging sparkpg_stage_x", None),
        (
            "sparkpg_stage_app_0c1d2e3f4a",
            "v",
            "u",
            "sparkpg staging sparkpg_stage_app_0c1d2e3f4a",
            None,
        ),
    ],
)
def test_only_marked_objects_of_the_exact_shape_are_staging_objects(
    name: str, kind: str, persistence: str, comment: Optional[str], write: Optional[str]
) -> None:
    assert staging_object(name, kind, persistence, comment) == write


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("sparkpg_stage_app_0c1d2e3f4a", "sparkpg_stage_app_0c1d2e3f4a"),
        ("sparkpg_stage_app_0c1d2e3f4a_chunks", "sparkpg_stage_app_0c1d2e3f4a"),
        ("sparkpg_stage_app_0c1d2e3f4a_t3145728", "sparkpg_stage_app_0c1d2e3f4a"),
        ("sparkpg_stage_app_0c1d2e3f4a_moved", "sparkpg_stage_app_0c1d2e3f4a"),
        ("sparkpg_stage_app_c123456789", "sparkpg_stage_app_c123456789"),  # hex, not a chunk
    ],
)
def test_each_staging_table_belongs_to_its_write(name: str, owner: str) -> None:
    assert staging_owner(name) == owner
    assert re.match(staging_family_pattern(owner), name)
    assert not re.match(staging_family_pattern(owner), owner + "0")


# --- the engine's contract -----------------------------------------------------------------------

_COMMON = {"mode", "label", "writeId", "copySql", "columns", "sessionSql"}
_MOVING = {"commitSql", "moveSql", "rowsSql"}
_STREAMING = {
    "createSql",
    "chunkSql",
    "pollSql",
    "failSql",
    "failedSql",
    "progressSql",
    "backlogSql",
}


def test_each_mode_renders_exactly_its_options() -> None:
    pairs = [
        ColumnPair(0, "Id", "bigint", col("id", "bigint", "int8")),
        ColumnPair(1, "n", "bigint", col("n")),
    ]
    staging = Staging("s", "sparkpg_stage_x")
    session = ["SET lock_timeout = '5s'"]
    direct = direct_spec(REF, pairs, session).options_of_mode()
    assert set(direct) == _COMMON and direct["mode"] == DIRECT
    assert json.loads(direct["columns"]) == [
        {"frame": "Id", "target": "id", "staged": "", "cast": ""},
        {"frame": "n", "target": "n", "staged": "", "cast": ""},
    ]
    assert json.loads(direct["sessionSql"]) == session
    staged = atomic_spec(REF, staging, pairs, "upsert", ["id"], session).options_of_mode()
    assert set(staged) == _COMMON | _MOVING | {"key"} and staged["mode"] == STAGED
    assert staged["rowsSql"] == '"s"."sparkpg_stage_x" WHERE _sparkpg_attempt = ANY ({tags})'
    assert json.loads(staged["key"]) == ["id"]
    # bigint into integer may overflow: the move's cast is named; bigint into bigint cannot.
    assert [c["cast"] for c in json.loads(staged["columns"])] == ["", "integer"]
    streamed = atomic_spec(REF, staging, pairs, "append", [], session, 65536).options_of_mode()
    assert set(streamed) == _COMMON | _MOVING | _STREAMING | {"chunkBytes"}
    assert streamed["mode"] == STREAMED and streamed["chunkBytes"] == "65536"
    assert streamed["rowsSql"] == '"s"."sparkpg_stage_x_t{tag}"'
    overwrite = atomic_spec(REF, staging, pairs, "overwrite", [], []).options_of_mode()
    assert "chunkBytes" not in overwrite
    assert json.loads(overwrite["commitSql"])[-1] == 'DELETE FROM "s"."Or""ders"'


def test_a_spec_refuses_sql_of_another_mode() -> None:
    with pytest.raises(ValueError, match="mode='merge'"):
        WriteSpec("merge", "t", "COPY", ())
    with pytest.raises(ValueError, match="move_sql and rows_sql go with staged rows only"):
        WriteSpec(DIRECT, "t", "COPY", (), move_sql="INSERT", rows_sql="t")
    with pytest.raises(ValueError, match="streaming goes with mode 'streamed' only"):
        WriteSpec(STREAMED, "t", "COPY", (), move_sql="INSERT", rows_sql="t")
