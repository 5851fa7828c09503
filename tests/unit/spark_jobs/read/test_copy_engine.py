"""The COPY engine's pure Python side: type policy -> engine columns, options; the JAR's bytes."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest

from connectors.errors import SettingsError
from spark_jobs.engine.java import engine_missing
from spark_jobs.read.copy_columns import (
    CopyEngineError,
    EngineColumn,
    engine_column,
    engine_columns,
)
from spark_jobs.read.copy_engine import copy_read, engine_options, probe_sql
from spark_jobs.read.options import ReadOptions
from spark_jobs.read.partitioning import PartitionPlan, Split, Strategy
from spark_jobs.read.plan import PARTITION_SESSION_SETTINGS, TableRead
from spark_jobs.read.snapshots import Snapshot
from spark_jobs.read.types import PgColumn, plan_columns

from .test_types import col, numeric_typmod


def engine(column: PgColumn, unrepresentable: str = "null", **kwargs: str) -> EngineColumn:
    (plan,) = plan_columns([column], unrepresentable=unrepresentable)
    return engine_column(column, plan, **kwargs)


@pytest.mark.parametrize(
    ("base", "kind", "filter_"),
    [
        ("bool", "bool", "ordering"),
        ("int2", "int2", "ordering"),
        ("int4", "int4", "ordering"),
        ("int8", "int8", "ordering"),
        ("oid", "oid", "ordering"),
        ("float4", "float4", "ordering"),
        ("float8", "float8", "ordering"),
        ("text", "text", "equality"),
        ("varchar", "text", "equality"),
        ("bpchar", "text", "none"),  # char(3); unsized bpchar is read as its output text
        ("bytea", "bytea", "none"),
        ("date", "date", "ordering"),
        ("timestamp", "timestamp", "ordering"),
        ("timestamptz", "timestamptz", "ordering"),
    ],
)
def test_native_types_are_selected_raw(base: str, kind: str, filter_: str) -> None:
    column = col(base, name='Mixed "q"', typmod=3 + 4 if base == "bpchar" else -1)
    (plan,) = plan_columns([column])
    got = engine_column(column, plan)
    assert got == EngineColumn('Mixed "q"', kind, '"Mixed ""q"""', filter_)
    assert got.spark_type == plan.spark_type  # the type policy's Spark type, unchanged
    assert "CASE" not in got.expr


def test_decimals_keep_precision_and_scale_without_a_guard() -> None:
    got = engine(col("numeric", typmod=numeric_typmod(12, 2)))
    assert (got.kind, got.expr, got.precision, got.scale) == ("numeric", '"c"', 12, 2)
    assert got.spark_type == "DECIMAL(12,2)" and got.counted
    assert engine(col("numeric", typmod=numeric_typmod(5, -2))).spark_type == "DECIMAL(7,0)"
    money = engine(col("money"))
    assert (money.expr, money.spark_type) == ('"c"::numeric', "DECIMAL(22,3)")


@pytest.mark.parametrize(
    ("column", "expr"),
    [
        (col("numeric"), '"c"::text AS "c"'),  # unconstrained: exact text
        (col("json"), '"c"::text AS "c"'),
        (col("uuid"), '"c"::text AS "c"'),
        (col("time"), '"c"::text AS "c"'),
        (col("int4", element="int4", dims=2), '"c"::text AS "c"'),
    ],
)
def test_text_policy_columns_keep_the_policys_expression(column: PgColumn, expr: str) -> None:
    got = engine(column)
    assert (got.kind, got.expr, got.filter, got.counted) == ("text", expr, "none", False)


def test_guarded_columns_read_as_text_when_asked() -> None:
    got = engine(col("date"), unrepresentable="text")
    assert (got.kind, got.expr) == ("text", '"c"::text AS "c"')


@pytest.mark.parametrize(
    ("element", "decoder", "domain", "expr"),
    [
        ("int4", "int4", False, '"c"'),
        ("varchar", "text", False, '"c"'),
        ("uuid", "uuid", False, '"c"'),
        ("int8", "int8", True, '"c"::pg_catalog."int8"[]'),
    ],
)
def test_one_dimensional_arrays_decode_their_elements(
    element: str, decoder: str, domain: bool, expr: str
) -> None:
    column = col("", element=element, element_is_domain=domain)
    (plan,) = plan_columns([column])
    got = engine_column(column, plan)
    assert (got.kind, got.element, got.expr, got.filter) == ("array", decoder, expr, "none")
    assert got.spark_type == plan.spark_type and got.counted


@pytest.mark.parametrize(
    ("string_filter", "expected"), [("ordering", "ordering"), ("none", "none")]
)
def test_string_filters_follow_the_collation(string_filter: str, expected: Optional[str]) -> None:
    got = engine_columns(
        [col("text")], plan_columns([col("text")]), string_filters={"c": string_filter}
    )
    assert got[0].filter == expected
    with pytest.raises(ValueError, match="string_filter='bytes'"):
        engine(col("text"), string_filter="bytes")


def test_options_carry_every_pgjdbc_property_as_given() -> None:
    columns = [
        EngineColumn("id", "int4", '"id"', "ordering"),
        EngineColumn("n", "numeric", '"n"', "ordering", None, 12, 2),
    ]
    options = engine_options(
        url="jdbc:postgresql://h:5432/db?sslmode=verify-full",
        properties={
            "user": "u",
            "password": "p'w",
            "prepareThreshold": "-1",
        },
        source_sql='"public"."t"',
        columns=columns,
        predicates=["id < 10", "id >= 10"],
        session_statements=["SET LOCAL jit = off"],
        label="db.public.t",
        read_id="r1",
    )
    assert options == {
        "url": "jdbc:postgresql://h:5432/db?sslmode=verify-full",
        "source": '"public"."t"',
        "columns": json.dumps([
            {"name": "id", "kind": "int4", "expr": '"id"', "filter": "ordering"},
            {"name": "n", "kind": "numeric", "expr": '"n"', "filter": "ordering", "precision": 12, "scale": 2},
        ]),
        "predicates": '["id < 10", "id >= 10"]',
        "sessionStatements": '["SET LOCAL jit = off"]',
        "label": "db.public.t",
        "readId": "r1",
        "property.user": "u",
        "property.password": "p'w",
        "property.prepareThreshold": "-1",
    }  # fmt: skip
    # the password appears under its property key only, and that key matches Spark's redaction
    assert [k for k, v in options.items() if "p'w" in v] == ["property.password"]


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(CopyEngineError, match=r"duplicate column names \['a'\]"):
        engine_options(
            url="u", properties={}, source_sql="(SELECT 1 a, 2 a) q", label="q", read_id="r",
            columns=[EngineColumn("a", "int4", '"a"'), EngineColumn("a", "int4", '"a"')],
        )  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("javac") is None, reason="needs a JDK")
def test_the_engine_jar_is_reproducible(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")  # the Spark jars it compiles against
    from devtools.build_engine_jar import build

    first = build(tmp_path / "a.jar")
    second = build(tmp_path / "b.jar")
    assert first == second == hashlib.sha256((tmp_path / "a.jar").read_bytes()).hexdigest()
    with zipfile.ZipFile(tmp_path / "a.jar") as jar:
        names = jar.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in jar.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "io/sparkpg/engine/read/CopySource.class" in names
        services = jar.read("META-INF/services/org.apache.spark.sql.sources.DataSourceRegister")
        assert services.decode().split() == [
            "io.sparkpg.engine.read.CopySource",
            "io.sparkpg.engine.write.WriteSource",
        ]
        assert "io/sparkpg/engine/write/WriteSource.class" in names
        # --release 8: class file major version 52
        assert jar.read("io/sparkpg/engine/read/CopySource.class")[6:8] == b"\x00\x34"


# --- the loader: a finished plan -> the engine's read ------------------------------------------


def _plan(partitions: PartitionPlan, filter_sql: Optional[str] = None) -> TableRead:
    from tests.unit.spark_jobs.read.test_read_pure import target

    return TableRead(
        name="t",
        source="db.public.t",
        plan=partitions,
        columns=(),
        described=(),
        from_sql='"public"."t"',
        target=target(),
        filter_sql=filter_sql,
        fetch_size=100,
        snapshot=Snapshot("db", "00000003-0000001B-1"),
    )


def test_partition_filters_name_the_raw_key_or_ctid_and_carry_the_filter() -> None:
    keyed = PartitionPlan(Strategy.KEY_RANGE, Split('"Id"', ("10",), with_nulls=True))
    assert _plan(keyed).partition_filters() == ('("Id" < 10 OR "Id" IS NULL)', '"Id" >= 10')
    pages = PartitionPlan(Strategy.PAGE_RANGE, Split("ctid", ("'(5,0)'::tid",)))
    assert _plan(pages, "a = 1").partition_filters() == (
        "(\na = 1\n) AND (ctid < '(5,0)'::tid)",
        "(\na = 1\n) AND (ctid >= '(5,0)'::tid)",
    )
    single = PartitionPlan(Strategy.SINGLE, None, "small")
    assert _plan(single).partition_filters() == ()
    assert _plan(single, "a = 1").partition_filters() == ("(\na = 1\n)",)


def test_the_probe_runs_the_engines_own_select_with_the_first_partitions_filter() -> None:
    column = col("int8", name="Id")
    (plan,) = plan_columns([column])
    pages = PartitionPlan(Strategy.PAGE_RANGE, Split("ctid", ("'(5,0)'::tid",)))
    read = replace(_plan(pages, "a = 1"), columns=(plan,), described=(column,))
    assert probe_sql(read) == (
        'SELECT 1 FROM (SELECT "Id" FROM "public"."t" WHERE ((\na = 1\n) AND '
        "(ctid < '(5,0)'::tid)) AND false) AS \"__sparkpg_probe\""
    )


def test_loader_session_statements_are_the_snapshot_then_timeouts_then_jit_off() -> None:
    read = _plan(PartitionPlan(Strategy.SINGLE, None, "small"))
    assert read.session_statements == (
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'",
        "SET LOCAL lock_timeout = '10s'",
        PARTITION_SESSION_SETTINGS,
    )
    assert read.engine == "copy"


def test_engine_option_is_checked() -> None:
    assert ReadOptions().engine == "copy"
    assert ReadOptions.of(engine="jdbc").engine == "jdbc"
    with pytest.raises(SettingsError, match="engine must be one of copy, jdbc, got 'odbc'"):
        ReadOptions(engine="odbc")


class FakeJavaClass:
    def __init__(self, name: str, parent: Optional[FakeJavaClass] = None) -> None:
        self._name, self._parent = name, parent

    def getName(self) -> str:
        return self._name

    def getSuperclass(self) -> Optional[FakeJavaClass]:
        return self._parent


class FakeJavaException:
    """What py4j hands Python for a Java exception: class, message and cause."""

    def __init__(self, name: str, message: str, cause: Optional[FakeJavaException] = None):
        self._class, self._message, self._cause = FakeJavaClass(name), message, cause

    def getClass(self) -> FakeJavaClass:
        return self._class

    def getMessage(self) -> str:
        return self._message

    def getCause(self) -> Optional[FakeJavaException]:
        return self._cause


def test_a_read_without_the_engine_jar_says_how_to_add_it() -> None:
    """The COPY source's class is looked up before any option crosses py4j; a JVM without it
    (py4j answers a package for an unknown name) gets the JAR's advice, not a py4j error."""
    pytest.importorskip("pyspark")  # the Python 3.9 unit run has no pyspark; the main run has

    class JvmWithoutTheJar:
        def __getattr__(self, name: str) -> object:
            return object()  # not a py4j JavaClass

    spark = SimpleNamespace(sparkContext=SimpleNamespace(_jvm=JvmWithoutTheJar()))
    with pytest.raises(CopyEngineError) as caught:
        copy_read(
            spark,  # type: ignore[arg-type]
            url="jdbc:postgresql://h:5432/db",
            properties={"user": "u", "password": "secret-pw"},
            source_sql='"public"."t"',
            columns=[EngineColumn("id", "int4", '"id"', "ordering")],
            label="db.public.t",
        )
    assert str(caught.value) == (
        "the COPY engine (io.sparkpg.engine.read.CopySource) is not on the Spark classpath: run "
        "`make jvm` and add build/jvm/sparkpg-engine.jar to spark.jars (docs/reading.md)"
    )


def test_a_missing_engine_is_told_with_its_jar_and_doc() -> None:
    class Py4JLike(Exception):
        java_exception = FakeJavaException(
            "java.lang.RuntimeException",
            "failed",
            FakeJavaException(
                "java.lang.ClassNotFoundException", "io.sparkpg.engine.read.CopySource"
            ),
        )

    assert engine_missing(Py4JLike("o42.load"), "the COPY engine (X)", "docs/reading.md") == (
        "the COPY engine (X) is not on the Spark classpath: run `make jvm` and add "
        "build/jvm/sparkpg-engine.jar to spark.jars (docs/reading.md)"
    )

    class Captured(Exception):
        def getErrorClass(self) -> str:
            return "DATA_SOURCE_NOT_FOUND"

    assert engine_missing(Captured("x"), "the COPY engine (X)", "d") is not None
    # The words alone are not enough: the error class and the Java class are what count.
    assert (
        engine_missing(ValueError("ClassNotFoundException DATA_SOURCE_NOT_FOUND"), "X", "d") is None
    )


def test_pushdown_off_names_are_checked() -> None:
    assert ReadOptions(pushdown_off=("aggregate", "sample")).pushdown_off == ("aggregate", "sample")
    assert ReadOptions.of(pushdown_off="top_n").pushdown_off == ("top_n",)
    with pytest.raises(SettingsError, match=r"unknown pushdown\(s\) limit; use any of aggregate"):
        ReadOptions(pushdown_off=("limit",))


def test_every_engine_option_has_an_engine_module() -> None:
    from spark_jobs.read import engines, options

    assert tuple(engines.ENGINES) == options.ENGINES
    for module in engines.ENGINES.values():
        assert callable(module.probe_sql) and callable(module.load)
        assert callable(module.action_error)
