"""The pushdown benchmark's pure helpers (the benchmark itself is not a test: see benchmarks/)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from benchmarks import pushdown_benchmark as pb
from benchmarks.read_benchmark import VariantResult

# Scan lines of real plans (Spark 3.5.9, the 200,000-row run): our engine's, then Spark's JDBC.
OURS_COUNT = (
    "+- BatchScan sparkpg_copy bench.public.bench_read[agg0#25L] sparkpg_copy "
    "bench.public.bench_read PushedFilters: [] PushedAggregates: [COUNT(*)], PushedGroupBy: [], "
    "complete Partitions: 1 RuntimeFilters: []"
)
OURS_TOP = (
    "+- BatchScan sparkpg_copy bench.public.bench_read[id#80L, amount#82] sparkpg_copy "
    "bench.public.bench_read PushedFilters: [] PushedTopN: ORDER BY (CASE WHEN "
    '(("amount" - "amount") = 0) THEN "amount" END) ASC NULLS FIRST PushedLimit: 10 '
    "Partitions: 4 RuntimeFilters: []"
)
OURS_NOTHING = (
    "   +- BatchScan sparkpg_copy bench.public.bench_read[] sparkpg_copy bench.public.bench_read "
    "PushedFilters: [] Partitions: 1 RuntimeFilters: []"
)
JDBC_GROUP = (
    "   +- Scan org.apache.spark.sql.execution.datasources.v2.jdbc.JDBCScan$$anon$1@295899c2 "
    "[active#291,count#292L] PushedAggregates: [COUNT(*), MAX(created_at)], PushedFilters: [], "
    "PushedGroupByExpressions: [active], ReadSchema: struct<active:boolean,count:bigint,max..."
)
JDBC_TOP = (
    "+- *(1) Scan org.apache.spark.sql.execution.datasources.v2.jdbc.JDBCScan$$anon$1@362ce9 "
    "[id#316L,amount#318] PushedFilters: [], PushedTopN: ORDER BY [amount ASC NULLS FIRST] "
    "LIMIT 10, ReadSchema: struct<id:bigint,amount:decimal(12,2)>"
)


def test_query_sql_is_the_spark_code_in_sql() -> None:
    assert pb.query_sql("count") == "SELECT count(*) FROM bench_read"
    assert pb.query_sql("group-by", "t") == (
        "SELECT active, count(*), count(note), sum(id), min(amount), max(amount), "
        "max(created_at) FROM t GROUP BY active"
    )
    assert pb.query_sql("top-10", "t") == "SELECT * FROM t ORDER BY amount NULLS FIRST LIMIT 10"
    for fn, col in pb.AGGREGATES:  # the Spark code recorded in the JSON names the same ones
        assert f'{fn}("{col}")' in pb.SPARK_CODE["group-by"]
    assert set(pb.SPARK_CODE) == set(pb.QUERIES)
    with pytest.raises(ValueError, match="top-5"):
        pb.query_sql("top-5")


def test_catalog_conf_names_spark_35_jdbc_options() -> None:
    conf = pb.catalog_conf({"url": "jdbc:postgresql://h:5432/db", "user": "u"}, 4, 5_000_000)
    prefix = "spark.sql.catalog.pg_jdbc"
    assert conf[prefix] == pb.JDBC_CATALOG_CLASS
    assert pb.JDBC_CATALOG_CLASS.endswith(".datasources.v2.jdbc.JDBCTableCatalog")
    assert {k[len(prefix) + 1 :]: v for k, v in conf.items() if k != prefix} == {
        "url": "jdbc:postgresql://h:5432/db",
        "user": "u",
        "pushDownAggregate": "true",
        "pushDownLimit": "true",
        "pushDownOffset": "true",
        "partitionColumn": "id",
        "lowerBound": "1",
        "upperBound": "5000000",
        "numPartitions": "4",
        "fetchsize": "10000",
    }
    assert all(k == prefix or k.startswith(prefix + ".") for k in conf)


def test_canonical_values_are_as_psql_prints_them() -> None:
    assert [pb.canonical(v) for v in (None, True, False, 7, "order ab")] == [
        "",
        "t",
        "f",
        "7",
        "order ab",
    ]
    assert pb.canonical(Decimal("12.30")) == "12.30"
    assert pb.canonical(Decimal("1E+2")) == "100"  # never an exponent
    assert pb.canonical(datetime.date(2023, 3, 25)) == "2023-03-25"
    utc = datetime.datetime(2024, 1, 3, 7, 33, 20, tzinfo=datetime.timezone.utc)
    assert pb.canonical(utc) == "2024-01-03 07:33:20+00"
    # PySpark's timestamps are naive, in this process's time zone: the same instant.
    local = datetime.datetime.fromtimestamp(utc.timestamp())
    assert local.tzinfo is None and pb.canonical(local) == "2024-01-03 07:33:20+00"
    assert pb.canonical(utc.replace(microsecond=120)) == "2024-01-03 07:33:20.00012+00"


def test_answers_compare_in_canonical_form() -> None:
    spark_rows = [(True, 66666, Decimal("0.01")), (False, 133334, Decimal("5.66"))]
    psql_rows = pb.parse_psql_rows("f\x1f133334\x1f5.66\nt\x1f66666\x1f0.01\n")
    assert psql_rows == [("f", "133334", "5.66"), ("t", "66666", "0.01")]
    unordered = {
        "sparkpg": pb.canonical_rows(spark_rows, ordered=False),
        "psql": pb.canonical_rows(psql_rows, ordered=False),
    }
    assert pb.first_difference(unordered) is None
    ordered = {
        "sparkpg": pb.canonical_rows(spark_rows, ordered=True),
        "psql": pb.canonical_rows(psql_rows, ordered=True),
    }
    assert pb.first_difference(ordered) == (
        "row 1: sparkpg gave ('t', '66666', '0.01'), psql ('f', '133334', '5.66')"
    )
    assert pb.first_difference({"a": [("1",)], "b": []}) == "a gave 1 rows, b 0"
    assert pb.first_difference({}) is None


def test_pushed_of_reads_both_scans() -> None:
    plan = "== Physical Plan ==\nAdaptiveSparkPlan isFinalPlan=false\n" + OURS_COUNT + "\n"
    assert pb.pushed_of(plan) == "PushedAggregates: [COUNT(*)]; PushedGroupBy: [], complete"
    assert pb.pushed_of(OURS_TOP) == (
        'PushedTopN: ORDER BY (CASE WHEN (("amount" - "amount") = 0) THEN "amount" END) ASC '
        "NULLS FIRST; PushedLimit: 10"
    )
    assert pb.pushed_of(OURS_NOTHING) == "nothing"
    assert pb.pushed_of("Scan ExistingRDD[a#1]") == "nothing"
    assert pb.pushed_of(JDBC_GROUP) == (
        "PushedAggregates: [COUNT(*), MAX(created_at)]; PushedGroupByExpressions: [active]"
    )
    assert pb.pushed_of(JDBC_TOP) == "PushedTopN: ORDER BY [amount ASC NULLS FIRST] LIMIT 10"


def test_summarise_and_format() -> None:
    results = {
        ("count", "sparkpg"): VariantResult(
            "sparkpg", "d", seconds=[0.5, 0.3, 0.4], client_cpu=[0.2, 0.4, 0.3], server_cpu=[1.0]
        ),
        ("count", "sparkpg-not-pushed"): VariantResult("sparkpg-not-pushed", "d", seconds=[2.0]),
        ("count", "jdbc-catalog"): VariantResult("jdbc-catalog", "d", error="SQLException: no"),
        ("top-10", "psql"): VariantResult("psql", "d", seconds=[0.1, 0.2]),
    }
    moved = {("count", "sparkpg"): 4, ("count", "sparkpg-not-pushed"): 5_000_000}
    pushed = {"count": {"sparkpg": "PushedAggregates: [COUNT(*)]"}}
    records = pb.summarise(results, moved, pushed)
    by_key = {(r["query"], r["variant"]): r for r in records}
    ours = by_key[("count", "sparkpg")]
    assert ours["median_seconds"] == 0.4 and ours["min_seconds"] == 0.3
    assert ours["ratio_to_sparkpg"] == 1.0 and ours["client_cpu_seconds"] == 0.3
    assert ours["server_cpu_seconds"] == 1.0 and ours["rows_moved"] == 4
    assert ours["pushed"] == "PushedAggregates: [COUNT(*)]"
    assert by_key[("count", "sparkpg-not-pushed")]["ratio_to_sparkpg"] == 5.0
    assert by_key[("count", "jdbc-catalog")]["status"] == "failed"
    top = by_key[("top-10", "psql")]
    assert top["median_seconds"] == pytest.approx(0.15) and top["ratio_to_sparkpg"] is None
    assert top["server_cpu_seconds"] is None and top["rows_moved"] is None

    lines = pb.format_table(records).splitlines()
    assert lines[0].split()[:4] == ["query", "variant", "median", "s"]
    assert lines[2].split() == ["count", "sparkpg", "0.40", "0.30", "1.00", "0.30", "1.00", "4"]
    assert lines[3].split()[-1] == "5,000,000" and lines[3].split()[4] == "5.00"
    assert lines[4].split()[:3] == ["count", "jdbc-catalog", "FAILED"]
    assert "count / sparkpg: PushedAggregates: [COUNT(*)]" in lines
    assert "count / jdbc-catalog: SQLException: no" in lines


def test_schedule_runs_every_pair_once_in_a_rotating_order() -> None:
    for rep in range(5):
        runs = pb.schedule(pb.QUERIES, pb.VARIANTS, rep)
        assert sorted(runs) == sorted((q, v) for q in pb.QUERIES for v in pb.VARIANTS)
    firsts = {pb.schedule(pb.QUERIES, pb.VARIANTS, rep)[0][1] for rep in range(4)}
    assert firsts == set(pb.VARIANTS)  # each variant starts a repetition in turn


def test_parse_args() -> None:
    args = pb.parse_args([])
    assert args.rows == 5_000_000 and args.repeat == 3 and args.json is None
    assert args.queries == list(pb.QUERIES) and args.variants == list(pb.VARIANTS)
    args = pb.parse_args(
        ["--queries", "top-10,count", "--variants", "psql,sparkpg", "--chart", "c.svg"]
    )
    assert args.queries == ["count", "top-10"] and args.variants == ["sparkpg", "psql"]
    assert str(args.chart) == "c.svg" and args.chart_with == []
    for bad in (["--queries", "count,median"], ["--variants", ""], ["--rows", "0"]):
        with pytest.raises(SystemExit):
            pb.parse_args(bad)
