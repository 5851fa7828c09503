"""write_table against a real server and local Spark: modes, round trip, checks, failures."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any, List

import psycopg
import pytest
from psycopg import sql

from connectors.errors import WriteFailedError, WriteRefusedError
from connectors.jdbc import TableRef
from devtools.faults import Background
from spark_jobs.read.api import read_table
from spark_jobs.write.api import write_table
from tests.integration import type_fixtures
from tests.integration.write.conftest import CONNECTION, ROLE, SCHEMA, WriteDb

pytestmark = pytest.mark.spark


def ids(write_db: WriteDb, table: str) -> List[Any]:
    return [r[0] for r in write_db.rows(f"SELECT id FROM {SCHEMA}.{table} ORDER BY id")]


# --- round trip ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_type_of_the_read_policy_round_trips(spark: Any, write_db: WriteDb) -> None:
    """read (unrepresentable="text") -> write -> the copy holds the same values as the source,
    compared by PostgreSQL's own text of every value, NULLs included."""
    with psycopg.connect(write_db.conninfo, autocommit=True) as conn:
        columns = type_fixtures.create_types_table(conn)
        schema = sql.Identifier(type_fixtures.SCHEMA)
        conn.execute(
            sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(schema, sql.Identifier(ROLE))
        )
        conn.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(
                type_fixtures.qualified_table(), sql.Identifier(ROLE)
            )
        )
        conn.execute(
            sql.SQL("CREATE TABLE {}.copy (LIKE {} INCLUDING ALL)").format(
                schema, type_fixtures.qualified_table()
            )
        )
        conn.execute(
            sql.SQL("ALTER TABLE {}.copy OWNER TO {}").format(schema, sql.Identifier(ROLE))
        )
    settings = write_db.settings()
    source = TableRef(CONNECTION, type_fixtures.SCHEMA, type_fixtures.TABLE)
    df = read_table(spark, settings, source, unrepresentable="text", report_unrepresentable=False)
    write_table(df, settings, TableRef(CONNECTION, type_fixtures.SCHEMA, "copy"))

    names = ["id"] + [c.name for c in columns]
    differing = []
    for name in names:
        col = sql.Identifier(name)
        query = sql.SQL(
            "SELECT count(*) FROM {src} s FULL JOIN {schema}.copy c USING (id) "
            "WHERE s.{col}::text IS DISTINCT FROM c.{col}::text"
        ).format(src=type_fixtures.qualified_table(), schema=schema, col=col)
        with psycopg.connect(write_db.conninfo, autocommit=True) as conn:
            row = conn.execute(query).fetchone()
        if row != (0,):
            differing.append(name)
    assert differing == []
    assert write_db.rows(f'SELECT count(*) FROM "{type_fixtures.SCHEMA}".copy') == [
        (type_fixtures.ROWS,)
    ]
    # and read back, Spark sees what it wrote (repr: NaN equals NaN)
    back = read_table(
        spark,
        settings,
        TableRef(CONNECTION, type_fixtures.SCHEMA, "copy"),
        unrepresentable="text",
        report_unrepresentable=False,
    )
    assert sorted(map(repr, back.collect())) == sorted(map(repr, df.collect()))
    assert write_db.staging_tables() == []


def test_spark_values_land_exactly(spark: Any, write_db: WriteDb) -> None:
    name = write_db.table(
        "exact",
        "id int PRIMARY KEY, n numeric(20,4), f float8, r real, t text, b bytea, d date, "
        "ts timestamp, tz timestamptz, a text[], dec numeric[], bo boolean, s smallint",
    )
    rows = [
        (
            1,
            Decimal("-1234567890123456.0001"),
            float("nan"),
            float("-inf"),
            "é 😀 \t\n\\",
            b"\x00\xff",
            dt.date(1, 1, 1),
            dt.datetime(1582, 10, 10, 1, 2, 3, 456789),
            dt.datetime(2020, 2, 29, 23, 59, 59, 999999),
            ["a", None, ""],
            [Decimal("0.0001")],
            True,
            -32768,
        ),
        (
            2,
            Decimal("0"),
            -0.0,
            3.4028235e38,
            "",
            b"",
            dt.date(9999, 12, 31),
            dt.datetime(1, 1, 1),
            dt.datetime(1970, 1, 1),
            [],
            [],
            False,
            32767,
        ),
        (3, None, None, None, None, None, None, None, None, None, None, None, None),
    ]
    df = spark.createDataFrame(
        rows,
        "id int, n decimal(20,4), f double, r float, t string, b binary, d date, ts timestamp, "
        "tz timestamp, a array<string>, dec array<decimal(10,4)>, bo boolean, s smallint",
    )
    write_table(df, write_db.settings(), name)
    assert write_db.rows(f"SELECT * FROM {SCHEMA}.exact ORDER BY id")[0][:5] == (
        1,
        Decimal("-1234567890123456.0001"),
        pytest.approx(float("nan"), nan_ok=True),
        pytest.approx(float("-inf")),
        "é 😀 \t\n\\",
    )
    text = write_db.rows(
        f"SELECT d::text, ts::text, tz::text, a::text, dec::text, b::text FROM {SCHEMA}.exact ORDER BY id"
    )
    assert text == [
        (
            "0001-01-01",
            "1582-10-10 01:02:03.456789",
            "2020-02-29 23:59:59.999999+00",
            '{a,NULL,""}',
            "{0.0001}",
            "\\x00ff",
        ),
        ("9999-12-31", "0001-01-01 00:00:00", "1970-01-01 00:00:00+00", "{}", "{}", "\\x"),
        (None, None, None, None, None, None),
    ]


# --- modes ---------------------------------------------------------------------------------------


def test_append_to_a_partitioned_table(spark: Any, write_db: WriteDb) -> None:
    write_db.execute(f"DROP TABLE IF EXISTS {SCHEMA}.parted")
    write_db.execute(f"CREATE TABLE {SCHEMA}.parted (id int, v text) PARTITION BY RANGE (id)")
    write_db.execute(
        f"CREATE TABLE {SCHEMA}.parted_lo PARTITION OF {SCHEMA}.parted FOR VALUES FROM (0) TO (50)"
    )
    write_db.execute(
        f"CREATE TABLE {SCHEMA}.parted_hi PARTITION OF {SCHEMA}.parted FOR VALUES FROM (50) TO (100)"
    )
    for t in ("parted", "parted_lo", "parted_hi"):
        write_db.execute(f"ALTER TABLE {SCHEMA}.{t} OWNER TO {ROLE}")
    df = spark.range(100).selectExpr("cast(id as int) id", "cast(id as string) v").repartition(3)
    write_table(df, write_db.settings(), f"{CONNECTION}.{SCHEMA}.parted")
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.parted_lo") == [(50,)]
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.parted_hi") == [(50,)]


def test_overwrite_keeps_grants_indexes_and_dependent_views(spark: Any, write_db: WriteDb) -> None:
    name = write_db.table("over", "id int PRIMARY KEY, v text")
    write_db.execute(f"CREATE INDEX over_v ON {SCHEMA}.over (v)")
    write_db.execute(f"INSERT INTO {SCHEMA}.over SELECT g, 'old' FROM generate_series(1, 5) g")
    write_db.execute(
        f"CREATE VIEW {SCHEMA}.over_view AS SELECT id FROM {SCHEMA}.over WHERE v = 'new'"
    )
    write_db.execute(f"GRANT SELECT ON {SCHEMA}.over TO PUBLIC")
    oid = write_db.rows(f"SELECT '{SCHEMA}.over'::regclass::oid")
    df = spark.range(3, 8).selectExpr("cast(id as int) id", "'new' v")
    write_table(df, write_db.settings(), name, mode="overwrite")
    assert ids(write_db, "over") == [3, 4, 5, 6, 7]
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.over_view") == [(5,)]
    assert write_db.rows(f"SELECT '{SCHEMA}.over'::regclass::oid") == oid
    assert write_db.rows(f"SELECT has_table_privilege('public', '{SCHEMA}.over', 'SELECT')") == [
        (True,)
    ]
    assert write_db.rows("SELECT count(*) FROM pg_indexes WHERE tablename = 'over'") == [(2,)]


def test_upsert_with_a_composite_key_and_insert_missing(spark: Any, write_db: WriteDb) -> None:
    name = write_db.table("ups", "a int, b text, v text, PRIMARY KEY (a, b)")
    write_db.execute(f"INSERT INTO {SCHEMA}.ups VALUES (1, 'x', 'old'), (2, 'x', 'old')")
    df = spark.createDataFrame([(1, "x", "new"), (1, "y", "new")], "a int, b string, v string")
    write_table(df, write_db.settings(), name, mode="upsert", key=["a", "b"])
    assert write_db.rows(f"SELECT a, b, v FROM {SCHEMA}.ups ORDER BY a, b") == [
        (1, "x", "new"),
        (1, "y", "new"),
        (2, "x", "old"),
    ]
    df = spark.createDataFrame([(2, "x", "newer"), (3, "z", "newer")], "a int, b string, v string")
    write_table(df, write_db.settings(), name, mode="insert-missing", key=["b", "a"])
    assert write_db.rows(f"SELECT a, b, v FROM {SCHEMA}.ups ORDER BY a, b") == [
        (1, "x", "new"),
        (1, "y", "new"),
        (2, "x", "old"),
        (3, "z", "newer"),
    ]
    with pytest.raises(
        WriteRefusedError, match=r"key \['a'\] .* not a primary key or unique index .*a, b"
    ):
        write_table(df, write_db.settings(), name, mode="upsert", key=["a"])


def test_create_makes_the_documented_types(spark: Any, write_db: WriteDb) -> None:
    write_db.execute(f"DROP TABLE IF EXISTS {SCHEMA}.created")
    df = spark.createDataFrame(
        [(1, 2, "x", Decimal("1.50"), dt.datetime(2020, 1, 1), [1])],
        "id bigint, s smallint, t string, n decimal(5,2), ts timestamp, a array<int>",
    )
    with pytest.raises(WriteRefusedError, match="does not exist: create it, or pass create=True"):
        write_table(df, write_db.settings(), f"{CONNECTION}.{SCHEMA}.created")
    write_table(df, write_db.settings(), f"{CONNECTION}.{SCHEMA}.created", create=True)
    types = write_db.rows(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        f"WHERE attrelid = '{SCHEMA}.created'::regclass AND attnum > 0 ORDER BY attnum"
    )
    assert types == [
        ("id", "bigint"),
        ("s", "smallint"),
        ("t", "text"),
        ("n", "numeric(5,2)"),
        ("ts", "timestamp with time zone"),
        ("a", "integer[]"),
    ]
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.created") == [(1,)]


# --- checks before any row -----------------------------------------------------------------------


def test_schema_mismatches_are_refused_before_any_row(spark: Any, write_db: WriteDb) -> None:
    name = write_db.table(
        "strict", "id int PRIMARY KEY, \"Name\" text, must text NOT NULL, opt text DEFAULT 'd'"
    )
    settings = write_db.settings()
    base = ["cast(id as int) id", "'x' must"]
    cases = [
        (["cast(id as int) id", "'x' must", "1 extra"], r"has no column 'extra'"),
        (["cast(id as int) id"], r"'must' are NOT NULL without a default"),
        (
            ["cast(id as string) id", "'x' must"],
            r"column 'id' \(string\) cannot be written to column 'id' \(integer\)",
        ),
        (["cast(id as int) id", "'x' must", "'a' name", "'b' NAME"], r"both go to column 'Name'"),
        (["cast(id as int) id", "'x' must", "map(1, 2) opt"], r"'opt' has Spark type map<int,int>"),
    ]
    for select, message in cases:
        df = spark.range(3).selectExpr(*select)
        with pytest.raises(WriteRefusedError, match=message):
            write_table(df, settings, name)
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.strict") == [(0,)]
    assert write_db.staging_tables() == []
    # case-insensitive match: accepted, with a warning
    write_table(spark.range(2).selectExpr(*base, "'n' name"), settings, name)
    assert write_db.rows(f'SELECT "Name", opt FROM {SCHEMA}.strict ORDER BY id') == [
        ("n", "d"),
        ("n", "d"),
    ]


def test_read_only_connections_and_reader_endpoints_are_refused(
    spark: Any, write_db: WriteDb
) -> None:
    df = spark.range(1)
    with pytest.raises(WriteRefusedError, match=r'is read-only: set "read_only": false'):
        write_table(df, write_db.settings(read_only=True), f"{CONNECTION}.{SCHEMA}.x")
    reader = write_db.settings(
        host="db.cluster-ro-abc123.eu-west-1.rds.amazonaws.com", ssl_mode="require"
    )
    with pytest.raises(WriteRefusedError, match=r"reader endpoint .* cluster \(writer\) endpoint"):
        write_table(df, reader, f"{CONNECTION}.{SCHEMA}.x")
    with pytest.raises(WriteRefusedError, match="mode='merge'"):
        write_table(df, write_db.settings(), f"{CONNECTION}.{SCHEMA}.x", mode="merge")


# --- failures leave the target unchanged ---------------------------------------------------------


def test_a_constraint_violation_at_commit_names_it_and_changes_nothing(
    spark: Any, write_db: WriteDb
) -> None:
    name = write_db.table("uniq", "id int PRIMARY KEY, v int CHECK (v >= 0)")
    write_db.execute(f"INSERT INTO {SCHEMA}.uniq VALUES (1, 1)")
    dup = spark.range(5).selectExpr("cast(id as int) id", "1 v")  # 1 exists
    with pytest.raises(
        WriteFailedError,
        match=r'unique constraint "uniq_pkey".*23505.*Key \(id\)=\(1\) already exists',
    ) as info:
        write_table(dup, write_db.settings(), name)
    assert info.value.sqlstate == "23505"
    neg = spark.range(10, 12).selectExpr("cast(id as int) id", "-1 v")
    with pytest.raises(WriteFailedError, match=r"uniq_v_check.*23514"):
        write_table(neg, write_db.settings(), name)
    assert write_db.rows(f"SELECT * FROM {SCHEMA}.uniq") == [(1, 1)]
    assert write_db.staging_tables() == []


def test_a_python_function_that_raises_in_a_task_is_named(spark: Any, write_db: WriteDb) -> None:
    from pyspark.sql.functions import udf
    from pyspark.sql.types import LongType

    @udf(LongType())
    def fails(value: int) -> int:
        raise ValueError(f"no value for {value}")

    name = write_db.table("raises", "id bigint")
    with pytest.raises(
        WriteFailedError, match=r"unchanged: a Python function raised ValueError: no value for 0$"
    ):
        write_table(
            spark.range(0, 3, 1, 1).select(fails("id").alias("id")), write_db.settings(), name
        )
    assert write_db.rows(f"SELECT count(*) FROM {SCHEMA}.raises") == [(0,)]
    assert write_db.staging_tables() == []


def test_a_constraint_violation_mid_job_stops_the_tasks(spark: Any, write_db: WriteDb) -> None:
    name = write_db.table("early", "id bigint PRIMARY KEY, payload text")
    # About 170 MB per task: the tasks stage for seconds, and the first chunk fails in the move.
    df = spark.range(0, 3_000_000, 1, 2).selectExpr("id", "repeat('x', 100) AS payload")
    started = time.monotonic()
    write_table(df, write_db.settings(), name)  # the whole write, for comparison
    whole = time.monotonic() - started
    write_db.execute(f"TRUNCATE {SCHEMA}.early")
    write_db.execute(f"INSERT INTO {SCHEMA}.early VALUES (3, 'old')")  # in the first chunk
    started = time.monotonic()
    with pytest.raises(
        WriteFailedError,
        match=r"unchanged: a move into the target failed and was rolled back: duplicate key "
        r'.*"early_pkey".*23505.*Key \(id\)=\(3\) already exists',
    ) as info:
        write_table(df, write_db.settings(), name)
    failed = time.monotonic() - started
    assert failed < whole / 2, f"the tasks staged their rows first: {failed:.1f} s of {whole:.1f} s"
    assert info.value.sqlstate == "23505"
    assert write_db.rows(f"SELECT id, payload FROM {SCHEMA}.early") == [(3, "old")]
    assert write_db.staging_tables() == []


def test_a_cancelled_job_leaves_the_target_unchanged(spark: Any, write_db: WriteDb) -> None:
    from pyspark.sql.functions import udf

    name = write_db.table("cancel", "id bigint")
    write_db.execute(f"INSERT INTO {SCHEMA}.cancel VALUES (-1)")

    @udf("bigint")
    def slow(x: int) -> int:
        time.sleep(0.2)
        return x

    df = spark.range(0, 200, 1, 2).select(slow("id").alias("id"))
    errors: List[BaseException] = []

    def run() -> None:
        try:
            write_table(df, write_db.settings(), name)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    tracker = spark.sparkContext.statusTracker()

    def running() -> bool:  # the tasks run (each needs 20 s for its rows)
        stages = [tracker.getStageInfo(s) for s in tracker.getActiveStageIds()]
        return bool(write_db.staging_tables()) and any(
            s is not None and s.numActiveTasks > 0 for s in stages
        )

    while time.monotonic() < deadline and not running():
        time.sleep(0.2)
    assert running(), "the write's tasks did not start within 60 s"
    spark.sparkContext.cancelAllJobs()
    thread.join(60)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], WriteFailedError), errors
    assert "cancelled" in str(errors[0])
    assert write_db.rows(f"SELECT id FROM {SCHEMA}.cancel") == [(-1,)]
    assert write_db.staging_tables() == []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and write_db.rows(
        f"SELECT pid FROM pg_stat_activity WHERE usename = '{ROLE}'"
    ):
        time.sleep(0.2)
    assert (
        write_db.rows(f"SELECT state, query FROM pg_stat_activity WHERE usename = '{ROLE}'") == []
    )


def test_a_concurrent_reader_sees_old_or_new_rows_never_a_mix(
    spark: Any, write_db: WriteDb
) -> None:
    name = write_db.table("seen", "id bigint, gen int")
    write_db.execute(f"INSERT INTO {SCHEMA}.seen SELECT g, 0 FROM generate_series(1, 1000) g")
    seen = set()
    stop = threading.Event()

    def watch() -> None:
        with psycopg.connect(write_db.conninfo, autocommit=True) as conn:
            while not stop.is_set():
                seen.add(
                    tuple(
                        conn.execute(
                            f"SELECT gen, count(*) FROM {SCHEMA}.seen GROUP BY gen ORDER BY gen"
                        ).fetchall()
                    )
                )

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        df = spark.range(1, 3001, 1, 4).selectExpr("id", "1 gen")
        write_table(df, write_db.settings(), name, mode="overwrite")
        time.sleep(0.3)
    finally:
        stop.set()
        watcher.join(30)
    assert seen <= {((0, 1000),), ((1, 3000),)} and ((1, 3000),) in seen, seen


def test_a_write_in_many_chunks_moves_each_row_once(spark: Any, write_db: WriteDb) -> None:
    from spark_jobs.write.contract import CHUNK_BYTES_CONF

    name = write_db.table("chunked", "id bigint PRIMARY KEY, note text")
    write_db.execute(f"INSERT INTO {SCHEMA}.chunked VALUES (-1, 'old')")
    df = spark.range(0, 20_000, 1, 3).selectExpr("id", "repeat('x', cast(id % 50 as int)) note")
    spark.conf.set(CHUNK_BYTES_CONF, "16384")  # about 40 chunks a task
    try:
        write_table(df, write_db.settings(), name)
        assert write_db.rows(
            f"SELECT count(*), count(DISTINCT id), sum(id), sum(length(note)) FROM {SCHEMA}.chunked"
        ) == [(20_001, 20_001, sum(range(20_000)) - 1, sum(i % 50 for i in range(20_000)) + 3)]
        write_table(df.where("id < 5000"), write_db.settings(), name, mode="overwrite")
        assert write_db.rows(f"SELECT count(*), min(id), max(id) FROM {SCHEMA}.chunked") == [
            (5000, 0, 4999)
        ]
        spark.conf.set(CHUNK_BYTES_CONF, "4 MiB")
        with pytest.raises(WriteRefusedError, match=r"chunkBytes='4 MiB': expected a positive"):
            write_table(df, write_db.settings(), name)
    finally:
        spark.conf.unset(CHUNK_BYTES_CONF)
    assert write_db.staging_tables() == []


def test_tasks_wait_while_the_move_is_behind(spark: Any, write_db: WriteDb) -> None:
    from spark_jobs.write.contract import CHUNK_BYTES_CONF

    name = write_db.table("paced", "id bigint PRIMARY KEY, note text")
    df = spark.range(0, 200_000, 1, 2).selectExpr("id", "repeat('x', 40) note")
    settings = write_db.settings(lock_timeout_seconds=0)
    spark.conf.set(CHUNK_BYTES_CONF, "65536")  # about 30 chunks a task, when nothing waits
    registered: List[int] = []
    try:
        # The move's INSERT waits for this lock; the tasks may stage only 2 chunks each ahead.
        with psycopg.connect(write_db.conninfo) as blocker:
            blocker.execute(f"LOCK TABLE {SCHEMA}.paced IN ACCESS EXCLUSIVE MODE")
            write = Background(lambda: write_table(df, settings, name))
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                registries = write_db.rows(
                    "SELECT oid::regclass::text FROM pg_class "
                    "WHERE relname LIKE 'sparkpg_stage%_chunks' AND relkind = 'r'"
                )
                if registries:
                    registered.append(
                        write_db.rows(f"SELECT count(*) FROM {registries[0][0]}")[0][0]
                    )
                time.sleep(0.05)
        write.thread.join(120)
        assert not write.thread.is_alive() and write.errors == [], write.errors
    finally:
        spark.conf.unset(CHUNK_BYTES_CONF)
    # 2 per task, plus the chunk each task registers before it looks.
    assert registered and max(registered) <= 2 * 2 + 2, registered
    assert write_db.rows(f"SELECT count(*), count(DISTINCT id) FROM {SCHEMA}.paced") == [
        (200_000, 200_000)
    ]
    assert write_db.staging_tables() == []


def test_direct_append_needs_exact_types_and_writes(spark: Any, write_db: WriteDb) -> None:
    name = write_db.table("direct", "id bigint, v varchar(10), n numeric(5,2)")
    df = spark.createDataFrame(
        [(1, "a", Decimal("1.25")), (2, None, None)], "id bigint, v string, n decimal(5,2)"
    )
    write_table(df, write_db.settings(), name, atomic=False)
    assert write_db.rows(f"SELECT * FROM {SCHEMA}.direct ORDER BY id") == [
        (1, "a", Decimal("1.25")),
        (2, None, None),
    ]
    with pytest.raises(
        WriteRefusedError, match=r"atomic=False needs DataFrame column 'id' \(int\)"
    ):
        write_table(df.selectExpr("cast(id as int) id"), write_db.settings(), name, atomic=False)
    with pytest.raises(WriteRefusedError, match="only for mode='append'"):
        write_table(df, write_db.settings(), name, mode="overwrite", atomic=False)
