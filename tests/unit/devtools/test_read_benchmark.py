"""The read benchmark's pure helpers (the benchmark itself is not a test: see benchmarks/)."""

from __future__ import annotations

import os

import pytest

from benchmarks import read_benchmark as rb
from spark_jobs.read.partitioning import StrategyChoice, plan_page_ranges


@pytest.mark.parametrize(("pages", "n"), [(10, 3), (57_000, 4), (7, 2), (3, 8), (1, 4), (100, 1)])
def test_page_ranges_match_the_readers_cuts(pages: int, n: int) -> None:
    ranges = rb.page_ranges(pages, n)
    plan = plan_page_ranges(StrategyChoice("page_range", n, "test"), pages)
    assert len(ranges) == max(1, len(plan.predicates))
    conditions = [rb.ctid_condition(low, high) for low, high in ranges]
    if plan.predicates:
        assert conditions == list(plan.predicates)
    else:
        assert conditions == ["true"]


def test_page_ranges_cover_every_page_once() -> None:
    ranges = rb.page_ranges(1001, 4)
    assert ranges[0][0] is None and ranges[-1][1] is None
    for (_, high), (low, _) in zip(ranges, ranges[1:]):
        assert high == low
    assert rb.copy_statement("t", 5, None) == (
        "COPY (SELECT * FROM t WHERE ctid >= '(5,0)'::tid) TO STDOUT (FORMAT binary)"
    )


def test_parse_vm_kib() -> None:
    status = "Name:\tjava\nVmPeak:\t 5000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1000 kB\n"
    assert rb.parse_vm_kib(status) == 123456
    assert rb.parse_vm_kib(status, "VmRSS") == 1000
    assert rb.parse_vm_kib("Name:\tx\n") is None


def test_rotated() -> None:
    assert rb.rotated(["a", "b", "c"], 0) == ["a", "b", "c"]
    assert rb.rotated(["a", "b", "c"], 4) == ["b", "c", "a"]
    assert rb.rotated([], 3) == []


def test_summarise_and_format() -> None:
    floor = rb.VariantResult("floor", "d", seconds=[1.0, 3.0, 2.0], peak_rss_kib=10 * 1024)
    ours = rb.VariantResult("sparkpg", "d", seconds=[2.6, 2.4, 2.5], peak_rss_kib=600 * 1024)
    plain = rb.VariantResult("plain", "d", error="worker JVM died: java.lang.OutOfMemoryError")
    records = rb.summarise([floor, plain, ours], rows=5_000_000)
    by_name = {r["variant"]: r for r in records}
    assert by_name["floor"]["median_seconds"] == 2.0
    assert by_name["floor"]["min_seconds"] == 1.0
    assert by_name["floor"]["rows_per_second"] == 2_500_000
    assert by_name["sparkpg"]["ratio_to_floor"] == 1.25
    assert by_name["floor"]["ratio_to_sparkpg"] == 0.8
    assert by_name["sparkpg"]["peak_rss_mib"] == 600
    assert by_name["plain"]["status"] == "failed"
    assert by_name["plain"]["ratio_to_floor"] is None
    text = rb.format_table(records)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["variant", "median", "s"]
    assert "FAILED" in text and "OutOfMemoryError" in text
    assert any(line.startswith("sparkpg") and "1.25" in line for line in lines)


def test_thread_groups_split_the_client_cpu() -> None:
    """Per-thread CPU deltas by group: a new thread counts from zero, an ended one not at all."""
    tick = os.sysconf("SC_CLK_TCK")
    before = {1: ("task", 10), 2: ("jit", 5), 3: ("other", 7), 4: ("task", 3)}
    after = {1: ("task", 10 + 2 * tick), 2: ("jit", 5 + tick), 3: ("other", 7), 5: ("task", tick)}
    assert rb.group_cpu_seconds(before, after) == {"task": 3.0, "jit": 1.0, "other": 0.0}
    assert rb.thread_group("Executor task l") == "task"
    assert rb.thread_group("C1 CompilerThre") == "jit"
    assert rb.thread_group("Thread-4") == "other"


def test_thread_cpu_ticks_reads_this_process() -> None:
    threads = rb.thread_cpu_ticks(os.getpid())
    assert os.getpid() in threads  # the main thread's id is the process's
    group, ticks = threads[os.getpid()]
    assert group == "other" and ticks >= 0


def test_task_and_jit_cpu_are_reported() -> None:
    ours = rb.VariantResult("sparkpg", "d", seconds=[1.0, 1.2], task_cpu=[0.7, 0.9], jit_cpu=[0.2])
    [record] = rb.summarise([ours], rows=10)
    assert (record["client_task_cpu_seconds"], record["client_jit_cpu_seconds"]) == (0.8, 0.2)
    header, _, row = rb.format_table([record]).splitlines()
    assert header.endswith("task CPU s  JIT CPU s")
    assert row.split()[-2:] == ["0.80", "0.20"]


def test_format_report_and_args() -> None:
    ours = rb.VariantResult("sparkpg", "d", seconds=[1.0])
    report = {
        "rows": 10,
        "repeat": 1,
        "tls": False,
        "table": {"pages": 1, "heap_bytes": 8192},
        "plan": {
            "strategy": "single",
            "partitions": 1,
            "reason": "small",
            "fetch_size": 10_000,
            "binary_transfer": True,
        },
        "versions": {
            "spark": "3.5",
            "pgjdbc": "x",
            "postgresql": "15",
            "java": "17",
            "python": "3",
        },
        "machine": {"cpus": 2, "platform": "linux", "load_average": [0.1, 0.2, 0.3]},
        "spark": {"master": "local[*]", "driver_memory": "1g"},
        "variants": rb.summarise([ours], rows=10),
    }
    text = rb.format_report(report)
    assert "single, 1 partitions" in text and "2 CPUs" in text
    args = rb.parse_args(["--rows", "1000", "--skip", "plain"])
    assert args.rows == 1000 and args.repeat == rb.DEFAULT_REPEAT and args.skip == ["plain"]
    with pytest.raises(SystemExit):
        rb.parse_args(["--repeat", "0"])


def test_parse_stat_cpu_ticks() -> None:
    # pid (comm with ") " inside) state ppid ... utime stime cutime cstime ...
    stat = "42 (post) gres) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 7000 300 20 0 1 0"
    assert rb.parse_stat_cpu_ticks(stat) == 300
    assert rb.parse_stat_cpu_ticks(stat, children=True) == 7300
    own = rb.cpu_seconds(__import__("os").getpid())
    assert own is not None and own >= 0
