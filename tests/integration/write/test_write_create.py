"""``create=True`` keeps what the DataFrame knows (issue 19, item 11): NOT NULL, the lengths of
CHAR(n)/VARCHAR(n) Spark declared, and with ``key=`` the primary key."""

from __future__ import annotations

from typing import Any, List

import pytest
from pyspark.sql.types import StructField, StructType

from connectors.errors import WriteRefusedError
from spark_jobs.db.target import resolve_target
from spark_jobs.write.api import write_table
from spark_jobs.write.columns import CHAR_VARCHAR_METADATA
from tests.integration.write.conftest import CONNECTION, SCHEMA, WriteDb

pytestmark = pytest.mark.spark


def columns(write_db: WriteDb, table: str) -> List[Any]:
    return write_db.rows(
        "SELECT column_name, data_type, character_maximum_length, is_nullable "
        f"FROM information_schema.columns WHERE table_schema = '{SCHEMA}' "
        f"AND table_name = '{table}' ORDER BY ordinal_position"
    )


def primary_key(write_db: WriteDb, table: str) -> Any:
    """The primary key's columns, None without one."""
    return write_db.rows(
        "SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
        f"WHERE c.conrelid = '{SCHEMA}.{table}'::regclass AND c.contype = 'p'"
    )[0][0]


@pytest.fixture
def source_df(spark: Any, write_db: WriteDb) -> Any:
    """A table read by Spark's own JDBC source: it keeps NOT NULL as non-nullable fields and
    char(n)/varchar(n) in the fields' metadata."""
    write_db.table(
        "create_src", "id bigint NOT NULL, code char(3), name varchar(20) NOT NULL, note text"
    )
    write_db.execute(
        f"INSERT INTO {SCHEMA}.create_src VALUES (1, 'ab', 'one', NULL), (2, NULL, 'two', 'x')"
    )
    options = resolve_target(write_db.settings().connection(CONNECTION)).spark_jdbc_options()
    df = spark.read.format("jdbc").options(dbtable=f"{SCHEMA}.create_src", **options).load()
    assert [f.metadata.get(CHAR_VARCHAR_METADATA) for f in df.schema.fields] == [
        None,
        "char(3)",
        "varchar(20)",
        None,
    ]
    # pgjdbc reports every column of a query nullable: what a DataFrame knows otherwise
    fields = [
        StructField(f.name, f.dataType, f.name == "code" or f.name == "note", f.metadata)
        for f in df.schema.fields
    ]
    return spark.createDataFrame(df.rdd, StructType(fields))


def test_create_keeps_not_null_and_char_varchar_lengths(
    spark: Any, write_db: WriteDb, source_df: Any
) -> None:
    write_db.execute(f"DROP TABLE IF EXISTS {SCHEMA}.created_kept")
    write_table(source_df, write_db.settings(), f"{CONNECTION}.{SCHEMA}.created_kept", create=True)
    assert columns(write_db, "created_kept") == [
        ("id", "bigint", None, "NO"),
        ("code", "character", 3, "YES"),
        ("name", "character varying", 20, "NO"),
        ("note", "text", None, "YES"),
    ]
    assert primary_key(write_db, "created_kept") is None
    assert write_db.rows(f"SELECT * FROM {SCHEMA}.created_kept ORDER BY id") == [
        (1, "ab ", "one", None),
        (2, None, "two", "x"),
    ]


def test_create_with_a_key_makes_it_the_primary_key(
    spark: Any, write_db: WriteDb, source_df: Any
) -> None:
    target = f"{CONNECTION}.{SCHEMA}.created_keyed"
    write_db.execute(f"DROP TABLE IF EXISTS {SCHEMA}.created_keyed")
    write_table(source_df, write_db.settings(), target, mode="upsert", key=["id"], create=True)
    assert primary_key(write_db, "created_keyed") == ["id"]
    changed = source_df.selectExpr("id", "code", "'changed' AS name", "note").where("id = 2")
    write_table(changed, write_db.settings(), target, mode="upsert", key=["id"], create=True)
    assert write_db.rows(f"SELECT id, name FROM {SCHEMA}.created_keyed ORDER BY id") == [
        (1, "one"),
        (2, "changed"),
    ]
    write_db.execute(f"DROP TABLE IF EXISTS {SCHEMA}.created_badkey")
    with pytest.raises(WriteRefusedError, match=r"'ID' is not a DataFrame column"):
        write_table(
            source_df,
            write_db.settings(),
            f"{CONNECTION}.{SCHEMA}.created_badkey",
            mode="insert-missing",
            key=["ID"],
            create=True,
        )
    assert write_db.rows(f"SELECT to_regclass('{SCHEMA}.created_badkey')") == [(None,)]
