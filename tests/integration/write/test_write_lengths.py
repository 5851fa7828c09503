"""Length-limited targets: a value too long for ``varchar(n)``, ``char(n)``, a domain over
``varchar(n)``, ``varchar(n)[]`` or ``bit(n)`` is refused with the target unchanged, never
truncated (an explicit cast to the column's type would truncate it silently)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from connectors.errors import WriteFailedError
from spark_jobs.write.api import write_table
from tests.integration.write.conftest import SCHEMA, WriteDb

pytestmark = pytest.mark.spark

COLUMNS = "id bigint PRIMARY KEY, v varchar(3), c char(3), d w_short, a varchar(3)[], b bit(3)"


@pytest.fixture
def lengths(write_db: WriteDb) -> str:
    write_db.execute(f"DROP TABLE IF EXISTS {SCHEMA}.lengths")
    write_db.execute(f"DROP DOMAIN IF EXISTS {SCHEMA}.w_short")
    write_db.execute(f"CREATE DOMAIN {SCHEMA}.w_short AS varchar(3)")
    name = write_db.table("lengths", COLUMNS.replace("w_short", f"{SCHEMA}.w_short"))
    write_db.execute(f"INSERT INTO {SCHEMA}.lengths (id, v) VALUES (0, 'old')")
    return name


def _frame(spark: Any, **values: Any) -> Any:
    row = {"id": 1, "v": "abc", "c": "ab", "d": "xyz", "a": ["abc"], "b": "101", **values}
    schema = "id bigint, v string, c string, d string, a array<string>, b string"
    return spark.createDataFrame([tuple(row.values())], schema)


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_values_that_fit_are_written_exactly(
    spark: Any, write_db: WriteDb, lengths: str, mode: str
) -> None:
    key = ["id"] if mode == "upsert" else None
    write_table(_frame(spark), write_db.settings(), lengths, mode=mode, key=key)
    assert write_db.rows(f"SELECT id, v, c, d, a, b::text FROM {SCHEMA}.lengths ORDER BY id") == [
        (0, "old", None, None, None, None),
        (1, "abc", "ab ", "xyz", ["abc"], "101"),
    ]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("v", "abcdef", "value too long for type character varying(3)"),
        ("c", "abcd", "value too long for type character(3)"),
        ("d", "abcdef", "value too long for type character varying(3)"),
        ("a", ["abcdef"], "value too long for type character varying(3)"),
        ("b", "1010", "bit string length 4 does not match type bit(3)"),
    ],
)
@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_a_value_too_long_is_refused_not_truncated(
    spark: Any, write_db: WriteDb, lengths: str, mode: str, column: str, value: Any, message: str
) -> None:
    key = ["id"] if mode == "upsert" else None
    with pytest.raises(WriteFailedError, match=re.escape(message)) as caught:
        write_table(
            _frame(spark, **{column: value}), write_db.settings(), lengths, mode=mode, key=key
        )
    assert "unchanged" in str(caught.value)
    assert write_db.rows(f"SELECT id, v FROM {SCHEMA}.lengths") == [(0, "old")]
