"""The doctor's results: :class:`CheckResult`, the verdict, and the two renderings (table, JSON).

Every result says what it looked at (``evidence``) and, when it is not a pass, the exact fix;
``ref`` names the entry of docs/troubleshooting.md that explains the failure.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, dataclass
from typing import Dict, Sequence

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
STATUSES = (PASS, WARN, FAIL, SKIP)


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: ``status`` is pass, warn, fail or skip.

    ``evidence`` says what was looked at and what was found; ``fix`` is the exact remedy (empty on
    a pass); ``ref`` is the anchor of the entry in docs/troubleshooting.md that explains the failure
    (``postgresql-connection-timeout``, ...); :attr:`doc` is the full reference.
    """

    name: str
    status: str
    evidence: str
    fix: str = ""
    ref: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def doc(self) -> str:
        """Where the failure is explained: ``docs/troubleshooting.md#<ref>`` (empty without a ref)."""
        return f"docs/troubleshooting.md#{self.ref}" if self.ref else ""

    def to_dict(self) -> Dict[str, str]:
        """A JSON-ready mapping."""
        return asdict(self)


def passed(results: Sequence[CheckResult]) -> bool:
    """True when no check failed (warnings and skips are fine)."""
    return all(r.status != FAIL for r in results)


def summary(results: Sequence[CheckResult]) -> Dict[str, int]:
    """How many checks ended in each status."""
    return {status: sum(1 for r in results if r.status == status) for status in STATUSES}


def render_json(results: Sequence[CheckResult]) -> str:
    """The report as JSON for CI: ``ok``, counts, and every check."""
    return json.dumps(
        {
            "ok": passed(results),
            "summary": summary(results),
            "checks": [r.to_dict() for r in results],
        },
        indent=2,
    )


def render_table(results: Sequence[CheckResult], width: int = 110) -> str:
    """A readable table: status, check, evidence; the fix under every warn/fail."""
    name_width = max([len(r.name) for r in results] + [5])
    indent = " " * (7 + name_width + 2)
    text_width = max(40, width - len(indent))
    lines = [f"{'STATUS':<7}{'CHECK':<{name_width + 2}}EVIDENCE"]
    for r in results:
        status = r.status.upper() if r.status in (FAIL, WARN) else r.status
        evidence = textwrap.wrap(
            r.evidence, text_width, break_long_words=False, break_on_hyphens=False
        ) or [""]
        lines.append(f"{status:<7}{r.name:<{name_width + 2}}{evidence[0]}")
        lines.extend(indent + line for line in evidence[1:])
        if r.fix and r.status in (FAIL, WARN):
            fix = textwrap.wrap(
                f"fix: {r.fix}",
                text_width,
                break_long_words=False,
                break_on_hyphens=False,
            )
            lines.extend(indent + line for line in fix)
    counts = summary(results)
    verdict = "OK" if passed(results) else "FAILED"
    lines.append(
        f"\n{verdict}: {counts[PASS]} passed, {counts[WARN]} warnings, {counts[FAIL]} failed, "
        f"{counts[SKIP]} skipped"
    )
    return "\n".join(lines)
