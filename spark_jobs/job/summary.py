"""The main job's summary: one :class:`TableOutcome` per table (or ``--sql`` result), the
:class:`JobResult` of a run, :func:`render_summary`, the table printed at the end, and
:func:`change_outcome`, the line of a table read incrementally."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Optional, Sequence, Tuple

from connectors.errors import SparkPgError

if TYPE_CHECKING:
    from spark_jobs.read.incremental import IncrementalRead
    from spark_jobs.read.loading import LoadedTable


@dataclass(frozen=True)
class TableOutcome:
    """One line of the summary: a table's read (or the ``--sql`` result)."""

    name: str
    rows: Optional[int]
    partitions: Optional[int]
    strategy: str
    key: str
    seconds: float
    output: str = ""
    nulled: Optional[int] = None
    """Values read as NULL because their Spark type cannot hold them; None: not counted."""
    status: str = ""
    """Empty when done; else what happened instead (``FAILED: <why>``, ``not run``, ...)."""
    change: str = ""
    """``--incremental``: the method and the state before -> after (docs/incremental.md)."""


@dataclass(frozen=True)
class JobResult:
    """The outcomes of a job, in order, notes for the summary, and the error that stopped it
    (the summary still lists what ran before; raise ``error`` after printing it)."""

    outcomes: Tuple[TableOutcome, ...]
    notes: Tuple[str, ...] = ()
    error: Optional[SparkPgError] = None

    def summary(self) -> str:
        """The summary table (see :func:`render_summary`)."""
        return render_summary(self.outcomes, self.notes)


def plan_outcome(
    table: LoadedTable,
    *,
    rows: Optional[int] = None,
    seconds: float = 0.0,
    output: str = "",
    status: str = "",
) -> TableOutcome:
    plan = table.read.plan
    return TableOutcome(
        name=str(table.read.source),
        rows=rows,
        partitions=plan.num_partitions,
        strategy=str(plan.strategy),
        key=plan.key_column or "",
        seconds=table.read.planning_seconds + seconds,
        output=output,
        status=status,
    )


def render_summary(outcomes: Sequence[TableOutcome], notes: Sequence[str] = ()) -> str:
    """The per-table summary: rows, partitions, strategy, key, seconds, values read as NULL
    because their Spark type cannot hold them (``nulled``; ``-``: not counted), where it went
    (or what happened instead: ``FAILED: ...``, ``not run``); then ``notes``."""
    headers = ("table", "rows", "partitions", "strategy", "key", "seconds", "nulled")
    lines = [
        (
            o.name,
            "-" if o.rows is None else str(o.rows),
            "-" if o.partitions is None else str(o.partitions),
            o.strategy or "-",
            o.key or "-",
            f"{o.seconds:.2f}",
            "-" if o.nulled is None else str(o.nulled),
        )
        for o in outcomes
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    text = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    for outcome, line in zip(outcomes, lines):
        row = "  ".join(
            cell.rjust(w) if i in (1, 2, 5, 6) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths))
        )
        where = f"  -> {outcome.output}" if outcome.output else ""
        change = f"  ({outcome.change})" if outcome.change else ""
        text.append(row + where + change + (f"  [{outcome.status}]" if outcome.status else ""))
    text += [f"note: {note}" for note in notes]
    return "\n".join(text)


DELETES_NOTE = "deletes not captured"


def change_outcome(
    changes: IncrementalRead,
    rows: int,
    seconds: float,
    output: str,
    status: str = "",
    deletes: str = DELETES_NOTE,
) -> TableOutcome:
    """The summary line of a table read incrementally: the method, the state before -> after,
    and what happened to deletes."""
    outcome = plan_outcome(changes.loaded, rows=rows, seconds=seconds, output=output, status=status)
    return replace(outcome, change=f"{changes.describe_change()}, {deletes}")
