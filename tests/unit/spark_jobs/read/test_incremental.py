"""The incremental state and its rules without Spark or a server: the JSON form, the filters,
when a state cannot be continued, the state row's compare-and-set, the job's options."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from benchmarks.incremental_benchmark import ratios
from connectors.errors import IncrementalStateError, SettingsError, SparkPgError
from connectors.jdbc import TableRef
from entrypoints.read_tables import build_parser, job_options
from spark_jobs.job.incremental_write import state_update_sql
from spark_jobs.read.incremental_cursor import CursorColumns
from spark_jobs.read.incremental_state import (
    IncrementalState,
    ServerFacts,
    XidSnapshot,
    changed_rows_filter,
    check_continuation,
    seen_xids_sql,
)

COLUMNS = (("id", "integer"), ("v", "text"))
STATE = IncrementalState(
    "it.public.t",
    "snapshot",
    XidSnapshot(1000, 1010, (1002,)),
    COLUMNS,
    seen=(1001, 1005),
    system_identifier="7716308588304670081",
    timeline=1,
    table_oid=16384,
)
NOW = ServerFacts(XidSnapshot(1100, 1100), "7716308588304670081", 1, 16384)


def test_snapshot_text_round_trip_and_bad_text() -> None:
    text = "4294967300:4294967310:4294967302,4294967305"
    assert str(XidSnapshot.parse(text)) == text
    with pytest.raises(IncrementalStateError, match="'1:x:' is not of the form"):
        XidSnapshot.parse("1:x:")


def test_state_json_round_trip() -> None:
    assert IncrementalState.from_json(STATE.to_json(), "here") == STATE
    cursor = IncrementalState(
        "it.public.t",
        "cursor",
        XidSnapshot(5, 5),
        COLUMNS,
        cursor="updated_at",
        key=("id",),
        watermark=("2024-01-01 00:00:00+00", "7"),
    )
    assert IncrementalState.from_json(cursor.to_json(), "here") == cursor
    assert cursor.describe() == "updated_at <= '2024-01-01 00:00:00+00'"


@pytest.mark.parametrize("text", ["not json", '{"format": 2}', '{"format": 1}'])
def test_an_unreadable_state_names_where_it_is(text: str) -> None:
    with pytest.raises(IncrementalStateError, match="state at out/t/batch=1 cannot be read"):
        IncrementalState.from_json(text, "out/t/batch=1")


def test_changed_rows_filter_skips_the_seen_xids() -> None:
    where = changed_rows_filter(STATE, NOW.snapshot)
    assert " >= 1000 AND " in where and where.endswith(" NOT IN (1001, 1005)")
    assert "NOT IN" not in changed_rows_filter(IncrementalState("s", "snapshot", XidSnapshot(3, 3), ()), NOW.snapshot)  # fmt: skip


def test_seen_xids_are_queried_only_when_transactions_ran() -> None:
    assert seen_xids_sql('"t"', XidSnapshot(7, 7)) is None
    sql = seen_xids_sql('"t"', XidSnapshot(7, 9, (8,)))
    assert sql is not None and sql.startswith("SELECT DISTINCT") and ">= 7 AND" in sql


def _refused(facts: ServerFacts = NOW, columns: Any = COLUMNS, **state: Any) -> str:
    changed = IncrementalState(**{**STATE.__dict__, **state})
    with pytest.raises(IncrementalStateError) as info:
        check_continuation(changed, facts, "it.public.t", columns, "snapshot")
    return str(info.value)


def test_states_that_cannot_be_continued() -> None:
    check_continuation(STATE, NOW, "it.public.t", COLUMNS, "snapshot")  # fine
    assert "system identifier 1, the server is now 77" in _refused(system_identifier="1")
    unknown = ServerFacts(NOW.snapshot, None, None)
    assert "pg_control_system() not readable" in _refused(unknown)
    assert "timeline changed from 2 to 1" in _refused(timeline=2)
    assert "dropped and created again since the state was recorded (oid 1, now 16384)" in _refused(
        table_oid=1
    )
    assert "is ahead of the server" in _refused(snapshot=XidSnapshot(1000, 5000))
    far = ServerFacts(XidSnapshot(2**31 + 1000, 2**31 + 1000), NOW.system_identifier, 1)
    assert "more than 2^31" in _refused(far)
    assert "the snapshot method" in _refused(method="cursor")
    assert "is of it.public.other" in _refused(source="it.public.other")
    added = (*COLUMNS, ("extra", "integer"))
    assert "(added extra)" in _refused(columns=added)
    retyped = (("id", "bigint"), ("v", "text"))
    assert "retyped id integer -> bigint" in _refused(columns=retyped)
    for message in (_refused(system_identifier="1"), _refused(columns=added)):
        assert "--incremental-reset" in message


def test_cursor_filter_ties_at_the_watermark() -> None:
    cols = CursorColumns("updated_at", ("id",), ("timestamp with time zone", "integer"))
    low, high = ("2024-01-01 00:00:00+00", "3"), ("2024-01-02 00:00:00+00", "9")
    where = cols.between(low, high)
    assert where.startswith("\"updated_at\" >= '2024-01-01 00:00:00+00'::timestamp with time zone")
    assert "(\"updated_at\", \"id\") > ('2024-01-01 00:00:00+00'::timestamp with time zone, '3'::integer)" in where  # fmt: skip
    assert where.endswith("<= ('2024-01-02 00:00:00+00'::timestamp with time zone, '9'::integer)")
    assert cols.between(low, None) == "false"


def test_state_row_is_compare_and_set() -> None:
    target = TableRef("it", "w", "copy")
    new = IncrementalState(**{**STATE.__dict__, "seen": ()})
    first = state_update_sql(target, "it.public.t", None, new)
    assert "ON CONFLICT (target, source) DO NOTHING" in first and "IF NOT FOUND" in first
    stored = '{"format": 1, "written by": "an older version"}'
    again = state_update_sql(target, "it.public.t", stored, new)
    assert f"AND state = '{stored}'::jsonb" in again  # compared as stored, not re-serialized
    reset = state_update_sql(target, "it.public.t", None, new, reset=True)
    assert "DO UPDATE SET state = EXCLUDED.state" in reset
    odd = IncrementalState(**{**STATE.__dict__, "columns": (("$sparkpg_state$", "int"),)})
    with pytest.raises(SparkPgError, match="cannot quote"):
        state_update_sql(target, "it.public.t", None, odd)


def _parse(*argv: str) -> Dict[str, Any]:
    args = build_parser().parse_args(["--settings", "s.json", "--table", "it.t", *argv])
    return job_options(args).__dict__


def test_incremental_options() -> None:
    options = _parse("--output", "/tmp/o", "--incremental", "--cursor", "updated_at")
    assert options["incremental"] and options["cursor"] == "updated_at"
    refusals = {
        ("--output", "/tmp/o", "--incremental-reset"): "go with --incremental",
        ("--output", "/tmp/o", "--cursor", "c"): "go with --incremental",
        ("--incremental",): "needs --output or --write",
        ("--incremental", "--sql", "SELECT 1", "--output", "/tmp/o"): "cannot run --sql",
        ("--incremental", "--output", "/tmp/o", "--mode", "overwrite"): "leave --mode out",
        ("--incremental", "--output", "/tmp/o", "--snapshot"): "drop --snapshot",
        ("--incremental", "--output", "/tmp/o", "--delete-missing"): "add --write",
        ("--write", "c.s.t", "--delete-missing"): "go with --incremental",
    }
    for argv, message in refusals.items():
        with pytest.raises(SettingsError, match=message):
            _parse(*argv)


def test_benchmark_ratios_are_over_the_full_read() -> None:
    medians = {"full": {"wall": 10.0, "rows": 100.0}, "snapshot": {"wall": 4.0, "rows": 1.0}}
    assert ratios(medians)["snapshot"] == {"wall": 0.4, "rows": 0.01}
    assert ratios({"full": {"rows": 0.0}})["full"] == {"rows": None}
