"""The main job's typed options, built from the command line, without Spark."""

from __future__ import annotations

import pytest

from connectors.errors import IdentifierError, SettingsError
from connectors.jdbc import TableRef
from entrypoints.read_tables import build_parser, job_options
from spark_jobs.job.options import JobOptions
from spark_jobs.read.options import ReadOptions
from spark_jobs.read.partitioning import PartitionOverrides, Strategy


def parse(*argv: str) -> JobOptions:
    return job_options(build_parser().parse_args(["--settings", "s.json", *argv]))


def test_arguments_become_typed_job_options() -> None:
    options = parse(
        "--table",
        'aurora."Sales"."Daily Totals"',
        "--table",
        "aurora.orders",
        "--strategy",
        "key_range",
        "--key-column",
        "id",
        "--num-partitions",
        "4",
        "--fetch-size",
        "500",
        "--no-binary-transfer",
        "--unrepresentable",
        "text",
        "--output",
        "/tmp/out",
        "--mode",
        "overwrite",
        "--snapshot",
    )
    assert options.tables == (
        TableRef("aurora", "Sales", "Daily Totals"),
        TableRef("aurora", "public", "orders"),
    )
    assert options.read == ReadOptions(
        partitioning=PartitionOverrides(
            strategy=Strategy.KEY_RANGE, key_column="id", num_partitions=4
        ),
        fetch_size=500,
        binary_transfer=False,
        unrepresentable="text",
    )
    assert (options.output, options.mode, options.snapshot, options.strict) == (
        "/tmp/out",
        "overwrite",
        True,
        False,
    )
    assert options.counts_unrepresentable
    assert parse("--table", "a.t", "--strategy", "auto").read.partitioning.strategy is None


def test_sql_counts_only_under_strict() -> None:
    assert not parse("--table", "a.t", "--sql", "SELECT 1").counts_unrepresentable
    assert parse("--table", "a.t", "--sql", "SELECT 1", "--strict").counts_unrepresentable


def test_bad_job_options_are_refused_with_the_value() -> None:
    with pytest.raises(SettingsError, match="--fetch-size must be >= 1, got 0"):
        parse("--table", "a.t", "--fetch-size", "0")
    with pytest.raises(SettingsError, match="--show must be >= 0, got -1"):
        parse("--table", "a.t", "--show", "-1")
    with pytest.raises(IdentifierError, match="empty part"):
        parse("--table", "a..t")
    with pytest.raises(SettingsError, match="no table to read"):
        JobOptions(tables=())
    with pytest.raises(SettingsError, match="format 'xml'"):
        JobOptions(tables=("a.t",), format="xml")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="columns cannot be used with the main job"):
        JobOptions(tables=("a.t",), read=ReadOptions(columns=["x"]))  # type: ignore[arg-type]


def test_output_options_are_refused_before_spark_starts() -> None:
    for empty in ("", "  "):
        with pytest.raises(SettingsError, match=r"--output .* is empty"):
            parse("--table", "a.t", "--output", empty)
    for root in ("s3://bucket", "s3://bucket/", "/"):
        with pytest.raises(SettingsError, match="is a bucket or file-system root"):
            parse("--table", "a.t", "--output", root)
    assert parse("--table", "a.t", "--output", "s3://b/out/").output == "s3://b/out"
    with pytest.raises(SettingsError, match=r"tables a.public.t and a.public.t are the same table"):
        parse("--table", "a.t", "--table", "a.public.t", "--output", "/o")
    with pytest.raises(SettingsError, match=r"tables a.public.t and a.other.t would both write"):
        parse("--table", "a.t", "--table", "a.other.t", "--output", "/o")
    with pytest.raises(SettingsError, match=r"tables a.public.Orders and a.public.orders"):
        parse("--table", 'a."Orders"', "--table", "a.orders", "--output", "/o")
    # without --output nothing is written: no folder to collide
    assert len(parse("--table", "a.t", "--table", "a.other.t").tables) == 2


def test_each_run_names_its_database_sessions() -> None:
    from connectors.settings import settings_from_dict
    from spark_jobs.job.main import with_run_application_name

    long_name = "x" * 63
    base = {"host": "h", "database": "d", "credentials_env": "PG"}
    settings = settings_from_dict(
        {
            "postgres": {
                "connections": [
                    {**base, "name": "a", "application_name": long_name},
                    {**base, "name": "b"},
                ]
            }
        },
        source="test",
    )
    named = with_run_application_name(
        settings, parse("--table", "A.t"), "20261202T000000Z-1a2b3c4d"
    )
    assert named.connection("a").application_name == "x" * 54 + "-1a2b3c4d"
    assert named.connection("b").application_name == "sparkpg"  # not used by the job
