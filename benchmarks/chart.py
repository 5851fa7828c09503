"""The standing chart: the read, write and pushdown benchmarks' JSON drawn as one small SVG.

    python -m benchmarks.chart --read R.json --write W.json [--pushdown P.json] \\
        --out benchmarks/results/standing.svg

One panel per benchmark, one horizontal bar per variant: its median seconds as a multiple of the
panel's reference (the floor for reads and writes, the pushed ``sparkpg`` read for pushdown),
labelled with that ratio and the seconds; sparkpg's own variants are highlighted, a dashed line
marks 1x, a failed variant says so instead of a bar. Each panel's title line gives the rows, the
date and the machine (CPU count, load average at the end of the run).

The benchmark scripts draw it too: ``--chart PATH`` writes the chart of the run just finished
plus the JSON files given with ``--chart-with`` (the other benchmarks' latest runs), so one
command refreshes both the figures and the picture.

Plain SVG written by hand (no plotting library: nothing to install, and the same JSON gives the
same bytes); :func:`standing_svg` is a pure function, tested in
``tests/unit/devtools/test_chart.py``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from xml.sax.saxutils import escape, quoteattr

KINDS = ("read", "write", "pushdown")

LABELS: Dict[str, Dict[str, str]] = {
    "read": {
        "floor": "floor: psql binary COPY, /dev/null",
        "plain": "spark.read.jdbc, plain",
        "hand-tuned": "spark.read.jdbc, hand-tuned",
        "sparkpg-jdbc": "sparkpg, JDBC engine",
        "sparkpg": "sparkpg (COPY engine, default)",
        "sparkpg-text": "sparkpg, text protocol",
        "sparkpg-pages": "sparkpg, page ranges",
        "sparkpg-snapshot": "sparkpg in one snapshot (page ranges)",
        "sparkpg-nocount": "sparkpg, no NULL counting",
    },
    "write": {
        "spark-jdbc": "Spark JDBC writer, defaults",
        "spark-jdbc-tuned": "Spark JDBC writer, tuned",
        "sparkpg": "sparkpg atomic append (default)",
        "sparkpg-direct": "sparkpg direct append",
        "floor": "floor: parallel psql \\copy FROM",
        "one-transaction": "bound: one INSERT ... SELECT",
        "one-transaction-key-order": "bound: the same, rows in key order",
    },
    "pushdown": {
        "sparkpg": "sparkpg, pushed (default)",
        "sparkpg-not-pushed": "sparkpg, pushdown off",
        "psql": "PostgreSQL alone (psql)",
        "jdbc-catalog": "Spark JDBC catalog, pushdown on",
    },
}
"""What each variant is called on the chart (an unknown variant keeps its name)."""

WIDTH = 720
MARGIN = 12
LABEL_WIDTH = 250
BAR_MAX = 330
ROW = 20
BAR_HEIGHT = 14
OURS = "#d9480f"
OTHERS = "#adb5bd"
INK = "#212529"
MUTED = "#6c757d"


@dataclass(frozen=True)
class Bar:
    """One variant: its ratio to the panel's reference, or why it has none (``failed``)."""

    label: str
    ratio: Optional[float]
    seconds: Optional[float]
    ours: bool
    failed: Optional[str] = None


@dataclass(frozen=True)
class Group:
    title: str
    bars: Tuple[Bar, ...]


@dataclass(frozen=True)
class Panel:
    title: str
    subtitle: str
    groups: Tuple[Group, ...]


# --- from the benchmarks' JSON to panels --------------------------------------------------------


def kind_of(report: Mapping[str, Any]) -> str:
    """Which benchmark wrote ``report``: its ``benchmark`` field, or for files written before
    that field existed, their shape (the write benchmark's has ``targets``, the read
    benchmark's ``plan`` and ``variants``)."""
    kind = report.get("benchmark")
    if kind is None and "targets" in report and "results" in report:
        kind = "write"
    elif kind is None and "plan" in report and "variants" in report:
        kind = "read"
    if kind not in KINDS:
        raise ValueError(
            f"not a read, write or pushdown benchmark's JSON (benchmark={kind!r}); give the "
            "file written by --json (read, pushdown) or --out (write)"
        )
    return str(kind)


def date_from_name(name: str) -> Optional[str]:
    """The ``YYYY-MM-DD`` in a results file's name (older JSON has no ``date`` field).

    >>> date_from_name("read_benchmark_2m_2026-12-06_after.json")
    '2026-12-06'
    """
    match = re.search(r"\d{4}-\d{2}-\d{2}", name)
    return match.group(0) if match else None


def _bars(
    kind: str, records: Sequence[Mapping[str, Any]], reference: str, prefix: str = ""
) -> Tuple[Bar, ...]:
    by_name = {r["variant"]: r for r in records}
    ref = by_name.get(reference, {}).get("median_seconds")
    bars = []
    for r in records:
        name = r["variant"]
        failed = r.get("error") if r.get("status", "ok") != "ok" else None
        seconds = None if failed else r.get("median_seconds")
        if seconds is None and not failed:
            failed = "no time"
        bars.append(
            Bar(
                label=LABELS[kind].get(name[len(prefix) :], name),
                ratio=seconds / ref if seconds is not None and ref else None,
                seconds=seconds,
                ours="sparkpg" in name,
                failed=_first_words(failed) if failed else None,
            )
        )
    return tuple(bars)


def _first_words(text: str, limit: int = 48) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _subtitle(report: Mapping[str, Any]) -> str:
    machine = report.get("machine", {})
    cpus = machine.get("cpus")
    load = machine.get("load_average") or report.get("load_average")
    parts = [
        str(report.get("date") or "date unknown"),
        f"{cpus} CPUs" if cpus else "CPUs unknown",
        f"load {float(load[0]):.2f} at the end" if load else "load unknown",
    ]
    v = report.get("versions")
    if v:
        parts.append(f"Spark {v['spark']}, PostgreSQL {str(v['postgresql']).split()[0]}")
    return " · ".join(parts)


def _repeat(report: Mapping[str, Any]) -> str:
    repeat = report.get("repeat")
    return f"median of {repeat}" if repeat else "medians"


def read_panel(report: Mapping[str, Any]) -> Panel:
    """The read benchmark's panel: the narrow table's variants as multiples of ``floor``, the
    wide table's (``wide-``) of ``wide-floor``."""
    records = report["variants"]
    narrow = [r for r in records if not r["variant"].startswith("wide-")]
    wide = [r for r in records if r["variant"].startswith("wide-")]
    groups = [Group("bench_read, 7 columns: x floor", _bars("read", narrow, "floor"))]
    if wide:
        wide_rows = report.get("wide_table", {}).get("rows")
        rows_text = f"{wide_rows:,} rows, " if wide_rows else ""
        groups.append(
            Group(
                f"bench_wide, {rows_text}30 columns: x wide floor",
                _bars("read", wide, "wide-floor", "wide-"),
            )
        )
    return Panel(
        f"Read {report['rows']:,} rows into Spark ({_repeat(report)}; shorter is better)",
        _subtitle(report),
        tuple(groups),
    )


def write_panel(report: Mapping[str, Any]) -> Panel:
    """The write benchmark's panel: every variant as a multiple of ``floor``."""
    records = [{**r, "status": r.get("status", "ok")} for r in report["results"]]
    return Panel(
        f"Write {report['rows']:,} rows from Spark ({_repeat(report)}; shorter is better)",
        _subtitle(report),
        (Group("x floor (parallel binary COPY FROM files)", _bars("write", records, "floor")),),
    )


def pushdown_panel(report: Mapping[str, Any]) -> Panel:
    """The pushdown benchmark's panel: one group per query, variants as multiples of the pushed
    ``sparkpg`` read."""
    queries: List[str] = []
    for r in report["results"]:
        if r["query"] not in queries:
            queries.append(r["query"])
    code = report.get("queries", {})
    groups = []
    for query in queries:
        records = [r for r in report["results"] if r["query"] == query]
        spark_code = code.get(query, {}).get("spark")
        title = f"{query}: {spark_code}" if spark_code else query
        groups.append(Group(_first_words(title, 95), _bars("pushdown", records, "sparkpg")))
    return Panel(
        f"Count, group-by, top-10 over {report['rows']:,} rows: x sparkpg pushed "
        f"({_repeat(report)}; shorter is better)",
        _subtitle(report),
        tuple(groups),
    )


PANELS = {"read": read_panel, "write": write_panel, "pushdown": pushdown_panel}


# --- drawing ------------------------------------------------------------------------------------


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(f" {k.rstrip('_').replace('_', '-')}={quoteattr(v)}" for k, v in attrs.items())
    return f'<text x="{x:g}" y="{y:g}"{extra}>{escape(text)}</text>'


def standing_svg(reports: Mapping[str, Mapping[str, Any]]) -> str:
    """The chart of ``reports`` (benchmark kind -> its JSON, any of ``read``, ``write``,
    ``pushdown``, drawn in that order) as an SVG document.

    Within a panel, bar widths are proportional to the ratios (the longest bar is ``BAR_MAX``
    pixels), so bars of one panel compare; panels have their own scale.
    """
    unknown = sorted(set(reports) - set(KINDS))
    if unknown or not reports:
        raise ValueError(f"reports: give any of {', '.join(KINDS)}; got {sorted(reports)}")
    panels = [PANELS[kind](reports[kind]) for kind in KINDS if kind in reports]
    heading = "sparkpg against the alternatives: median seconds as a multiple of a reference"
    body: List[str] = [_text(MARGIN, 22, heading, font_size="15", font_weight="bold")]
    y = 34.0
    for panel in panels:
        y += 18
        body.append(_text(MARGIN, y, panel.title, font_size="13", font_weight="bold"))
        y += 16
        body.append(_text(MARGIN, y, panel.subtitle, fill=MUTED))
        ratios = [b.ratio for g in panel.groups for b in g.bars if b.ratio is not None]
        scale = BAR_MAX / max([*ratios, 1.0])
        top, first = y + 6, len(body)
        for group in panel.groups:
            y += 20
            body.append(_text(MARGIN, y, group.title, font_style="italic"))
            for bar in group.bars:
                y += ROW
                body.append(
                    _text(LABEL_WIDTH - 8, y, bar.label, text_anchor="end", font_weight="bold")
                    if bar.ours
                    else _text(LABEL_WIDTH - 8, y, bar.label, text_anchor="end")
                )
                if bar.ratio is None or bar.seconds is None:
                    body.append(_text(LABEL_WIDTH, y, f"failed: {bar.failed}", fill="#c92a2a"))
                    continue
                width = bar.ratio * scale
                body.append(
                    f'<rect class="{"bar ours" if bar.ours else "bar"}" x="{LABEL_WIDTH}" '
                    f'y="{y - BAR_HEIGHT + 3:g}" width="{width:.2f}" height="{BAR_HEIGHT}" '
                    f'fill="{OURS if bar.ours else OTHERS}"/>'
                )
                body.append(
                    _text(
                        LABEL_WIDTH + width + 6,
                        y,
                        f"{bar.ratio:.2f}x · {bar.seconds:.2f} s",
                        class_="value",
                    )
                )
        one = LABEL_WIDTH + scale
        body.insert(  # behind the panel's bars and labels
            first,
            f'<line class="one" x1="{one:.2f}" y1="{top:g}" x2="{one:.2f}" y2="{y + 5:g}" '
            f'stroke="{MUTED}" stroke-dasharray="3,3" stroke-width="1"/>',
        )
        y += 8
    y += 20
    body.append(
        _text(
            MARGIN,
            y,
            "orange, bold: sparkpg's own variants · grey: the alternatives · dashed line: 1x, "
            "the panel's reference",
            fill=MUTED,
        )
    )
    height = int(y + MARGIN)
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12" '
            f'fill="{INK}">',
            f"<title>{escape(heading)}</title>",
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
            *body,
            "</svg>",
            "",
        ]
    )


# --- files --------------------------------------------------------------------------------------


def load_report(path: Path) -> Dict[str, Any]:
    """A benchmark's JSON; without a ``date`` field, the date in the file's name."""
    report: Dict[str, Any] = json.loads(path.read_text())
    if not report.get("date"):
        report["date"] = date_from_name(path.name)
    return report


def redraw(out: Path, fresh: Mapping[str, Any], others: Sequence[Path]) -> None:
    """Draw ``out`` from the run just finished (``fresh``) and the other benchmarks' JSON."""
    reports: Dict[str, Mapping[str, Any]] = {kind_of(fresh): fresh}
    for path in others:
        report = load_report(path)
        kind = kind_of(report)
        if kind in reports:
            raise ValueError(
                f"--chart-with {path}: a {kind} benchmark's JSON, but the chart already has one "
                "(this run's, or an earlier --chart-with); give one file per benchmark"
            )
        reports[kind] = report
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(standing_svg(reports))


def add_chart_arguments(parser: argparse.ArgumentParser) -> None:
    """``--chart`` and ``--chart-with``, the same on every benchmark script."""
    parser.add_argument(
        "--chart",
        type=Path,
        help="also draw the standing chart (SVG) here: this run plus the --chart-with files",
    )
    parser.add_argument(
        "--chart-with",
        type=Path,
        action="append",
        default=[],
        metavar="JSON",
        help="another benchmark's JSON (read, write or pushdown) for --chart (repeatable)",
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.chart", description=__doc__.split("\n\n")[0]
    )
    for kind in KINDS:
        parser.add_argument(
            f"--{kind}", type=Path, metavar="JSON", help=f"the {kind} benchmark's JSON"
        )
    parser.add_argument("--out", type=Path, required=True, help="the SVG to write")
    args = parser.parse_args(argv)
    reports: Dict[str, Mapping[str, Any]] = {}
    for kind in KINDS:
        path = getattr(args, kind)
        if path is None:
            continue
        report = load_report(path)
        try:
            found = kind_of(report)
        except ValueError as exc:
            parser.error(f"--{kind} {path}: {exc}")
        if found != kind:
            parser.error(f"--{kind} {path}: that is the {found} benchmark's JSON")
        reports[kind] = report
    if not reports:
        parser.error("give at least one of --read, --write, --pushdown")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(standing_svg(reports))
    print(f"chart drawn in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
