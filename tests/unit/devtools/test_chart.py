"""The standing chart (benchmarks/chart.py): SVG drawn from the benchmarks' JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List

import pytest

from benchmarks import chart

SVG = "{http://www.w3.org/2000/svg}"
RESULTS = Path(__file__).resolve().parents[3] / "benchmarks" / "results"


def read_report() -> Dict[str, Any]:
    def variant(name: str, seconds: float) -> Dict[str, Any]:
        return {"variant": name, "status": "ok", "error": None, "median_seconds": seconds}

    return {
        "benchmark": "read",
        "date": "2026-12-07",
        "rows": 2_000_000,
        "repeat": 3,
        "plan": {},
        "machine": {"cpus": 2, "load_average": [0.5, 0.4, 0.3]},
        "versions": {"spark": "3.5.9", "postgresql": "15.18 (Debian)"},
        "wide_table": {"rows": 400_000},
        "variants": [
            variant("floor", 0.5),
            {"variant": "plain", "status": "failed", "error": "OutOfMemoryError: Java heap space"},
            variant("hand-tuned", 1.5),
            variant("sparkpg", 0.75),
            variant("wide-floor", 1.0),
            variant("wide-sparkpg", 1.25),
        ],
    }


def write_report() -> Dict[str, Any]:  # the shape before the "benchmark" field
    return {
        "rows": 1_000_000,
        "repeat": 3,
        "load_average": [2.5, 2.0, 1.0],
        "results": [
            {"variant": "spark-jdbc", "median_seconds": 4.0},
            {"variant": "sparkpg", "median_seconds": 2.0},
            {"variant": "floor", "median_seconds": 1.0},
        ],
        "targets": {},
    }


def pushdown_report() -> Dict[str, Any]:
    def rec(query: str, variant: str, seconds: float) -> Dict[str, Any]:
        return {"query": query, "variant": variant, "status": "ok", "median_seconds": seconds}

    return {
        "benchmark": "pushdown",
        "date": "2026-12-07",
        "rows": 200_000,
        "repeat": 1,
        "machine": {"cpus": 2, "load_average": [1.0]},
        "queries": {"count": {"spark": "df.count()"}},
        "results": [
            rec("count", "sparkpg", 0.2),
            rec("count", "sparkpg-not-pushed", 0.8),
            rec("count", "psql", 0.1),
            rec("top-10", "sparkpg", 0.4),
            rec("top-10", "jdbc-catalog", 0.2),
        ],
    }


def bars(root: ET.Element) -> List[ET.Element]:
    return [r for r in root.iter(SVG + "rect") if r.get("class", "").startswith("bar")]


def texts(root: ET.Element) -> List[str]:
    return ["".join(t.itertext()) for t in root.iter(SVG + "text")]


def test_one_bar_per_variant_that_ran_widths_proportional_to_the_ratios() -> None:
    root = ET.fromstring(chart.standing_svg({"read": read_report()}))
    assert root.tag == SVG + "svg"
    drawn = bars(root)
    assert len(drawn) == 5  # 6 variants, plain failed
    widths = [float(b.get("width", "0")) for b in drawn]
    # narrow: floor 1x, hand-tuned 3x, sparkpg 1.5x; wide: wide-floor 1x, wide-sparkpg 1.25x
    ratios = [1.0, 3.0, 1.5, 1.0, 1.25]
    assert max(widths) == pytest.approx(chart.BAR_MAX)
    for width, ratio in zip(widths, ratios):
        assert width == pytest.approx(chart.BAR_MAX * ratio / 3.0, abs=0.01)
    assert [b.get("class") for b in drawn] == ["bar", "bar", "bar ours", "bar", "bar ours"]
    labels = texts(root)
    for expected in ("1.00x · 0.50 s", "3.00x · 1.50 s", "1.50x · 0.75 s", "1.25x · 1.25 s"):
        assert expected in labels
    assert "failed: OutOfMemoryError: Java heap space" in labels
    # the 1x line of the panel sits at the end of the reference's bar
    (one,) = [line for line in root.iter(SVG + "line") if line.get("class") == "one"]
    assert float(one.get("x1", "0")) == pytest.approx(chart.LABEL_WIDTH + widths[0], abs=0.01)


def test_title_lines_name_rows_date_and_machine() -> None:
    labels = texts(ET.fromstring(chart.standing_svg({"write": write_report()})))
    assert "Write 1,000,000 rows from Spark (median of 3; shorter is better)" in labels
    assert "date unknown · CPUs unknown · load 2.50 at the end" in labels
    labels = texts(ET.fromstring(chart.standing_svg({"read": read_report()})))
    assert "2026-12-07 · 2 CPUs · load 0.50 at the end · Spark 3.5.9, PostgreSQL 15.18" in labels
    assert "bench_wide, 400,000 rows, 30 columns: x wide floor" in labels


def test_every_panel_in_order_and_pushdown_ratios_to_sparkpg() -> None:
    svg = chart.standing_svg(
        {"pushdown": pushdown_report(), "write": write_report(), "read": read_report()}
    )
    labels = texts(ET.fromstring(svg))
    titles = [t for t in labels if t.startswith(("Read ", "Write ", "Count, group-by"))]
    assert [t.split()[0] for t in titles] == ["Read", "Write", "Count,"]
    assert "count: df.count()" in labels and "top-10" in labels
    for expected in ("4.00x · 0.80 s", "0.50x · 0.10 s", "0.50x · 0.20 s"):
        assert expected in labels
    assert "Spark JDBC catalog, pushdown on" in labels
    assert len(bars(ET.fromstring(svg))) == 5 + 3 + 5
    assert chart.standing_svg({"read": read_report()}) == chart.standing_svg(
        {"read": read_report()}
    )


def test_text_is_escaped() -> None:
    report = read_report()
    report["variants"].append(
        {"variant": 'x<y & "z"', "status": "ok", "median_seconds": 1.0, "error": None}
    )
    report["variants"].append(
        {"variant": "broken", "status": "failed", "error": "<script>alert(1)</script>"}
    )
    svg = chart.standing_svg({"read": report})
    assert "<script>" not in svg and "x<y" not in svg
    labels = texts(ET.fromstring(svg))
    assert 'x<y & "z"' in labels
    assert "failed: <script>alert(1)</script>" in labels


def test_kind_and_date_of_a_report(tmp_path: Path) -> None:
    assert chart.kind_of(read_report()) == "read"
    assert chart.kind_of(write_report()) == "write"
    assert chart.kind_of(pushdown_report()) == "pushdown"
    legacy_read = {k: v for k, v in read_report().items() if k != "benchmark"}
    assert chart.kind_of(legacy_read) == "read"
    with pytest.raises(ValueError, match="not a read, write or pushdown"):
        chart.kind_of({"benchmark": "incremental"})
    assert chart.date_from_name("write_benchmark_1m_2026-12-06_after.json") == "2026-12-06"
    assert chart.date_from_name("write_benchmark.json") is None
    path = tmp_path / "w_2026-11-30.json"
    path.write_text(json.dumps(write_report()))
    assert chart.load_report(path)["date"] == "2026-11-30"


def test_redraw_and_the_command_line(tmp_path: Path) -> None:
    write = tmp_path / "write.json"
    write.write_text(json.dumps(write_report()))
    out = tmp_path / "sub" / "standing.svg"
    chart.redraw(out, read_report(), [write])
    assert len(bars(ET.parse(out).getroot())) == 5 + 3
    with pytest.raises(ValueError, match="already has one"):
        chart.redraw(out, write_report(), [write])
    read = tmp_path / "read.json"
    read.write_text(json.dumps(read_report()))
    assert chart.main(["--read", str(read), "--write", str(write), "--out", str(out)]) == 0
    assert out.read_text() == chart.standing_svg(
        {"read": read_report(), "write": chart.load_report(write)}
    )
    with pytest.raises(SystemExit):
        chart.main(["--read", str(write), "--out", str(out)])  # a write benchmark's JSON
    with pytest.raises(SystemExit):
        chart.main(["--out", str(out)])


def test_the_committed_results_draw() -> None:
    reports = {
        "read": chart.load_report(RESULTS / "read_benchmark_2m_2026-12-06_after.json"),
        "write": chart.load_report(RESULTS / "write_benchmark_1m_2026-12-06_after.json"),
    }
    root = ET.fromstring(chart.standing_svg(reports))
    assert len(bars(root)) == 8 + 7
    assert "1.45x · 0.71 s" in texts(root)  # sparkpg, 0.712 s over the floor's 0.491 s
