"""The unrepresentable-values report of one load: per-column counts of the values read as NULL
because their Spark type cannot hold them, observed while Spark reads (no extra query or action).

A loader returns the report beside the DataFrame; nothing writes it into the plan.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Protocol, Sequence, Tuple

from connectors.errors import UnrepresentableValuesError
from connectors.jdbc import quote_ident
from spark_jobs.read.types import ColumnPlan

if TYPE_CHECKING:
    from pyspark.sql import Observation

# What a guarded column's NULLs stand for, by ColumnPlan.policy (for messages).
_LOST_VALUES = {
    "decimal": "numeric NaN",
    "date": "date infinity or 1582-10-05..14",
    "timestamp": "timestamp infinity, 1582-10-05..14 or after 294247",
    "timestamptz": "timestamptz infinity, 1582-10-05..14 or after 294247",
    "array": "array with more dimensions or a lower bound other than 1",
}


class Metrics(Protocol):
    """Counts a report reads: ``{"c<i>": count}`` by column position, None while not known."""

    def get(self, wait_seconds: float) -> Optional[Dict[str, Any]]: ...


class ObservedMetrics:
    """The metrics of a :class:`pyspark.sql.Observation`, waited for with a bound.

    ``Observation.get`` (public API) blocks until an action over the observed DataFrame has
    finished, forever if none does; it runs once, in a daemon thread, so :meth:`get` can give up
    after ``wait_seconds`` and ask again later.
    """

    def __init__(self, observation: Observation) -> None:
        self._observation = observation
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._metrics: Optional[Dict[str, Any]] = None

    def get(self, wait_seconds: float) -> Optional[Dict[str, Any]]:
        """The metrics, or None when no action has finished within ``wait_seconds``."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._wait, name="sparkpg-observation", daemon=True
                )
                self._thread.start()
        self._done.wait(max(wait_seconds, 0.0))
        return self._metrics if self._done.is_set() else None

    def _wait(self) -> None:
        try:
            self._metrics = dict(self._observation.get)
        except Exception:  # pragma: no cover - the session stopped while waiting
            self._metrics = None
        finally:
            self._done.set()


class UnrepresentableReport:
    """Per-column counts of the values one load of a read returned as NULL because its Spark type
    cannot hold them, observed during the first Spark action over the DataFrame (or over anything
    built on it). Nothing here runs an action.

    The counts cover every row that action read from PostgreSQL, whatever the caller filtered or
    selected afterwards in Spark (a ``show()`` that stops early covers the partitions it read).
    """

    def __init__(
        self, source: str, columns: Sequence[ColumnPlan], metrics: Optional[Metrics]
    ) -> None:
        """``metrics.get(wait_seconds)`` gives ``{"c<i>": count}`` for ``columns[i]`` once an
        action has finished (None before); ``metrics=None``: not counted."""
        self.source = source
        self.columns: Tuple[ColumnPlan, ...] = tuple(columns)
        self._metrics = metrics

    @property
    def enabled(self) -> bool:
        """False when the read was planned with ``report_unrepresentable=False``."""
        return self._metrics is not None or not self.columns

    def counts(self, wait_seconds: float = 1.0) -> Optional[Dict[str, int]]:
        """``{column: values read as NULL}`` for every column that can lose values (zeros
        included; ``{}`` when none can), or None when not known: reporting switched off, or no
        action over the DataFrame has finished yet (waits at most ``wait_seconds`` for one that
        is finishing: Spark delivers observations on its listener bus, just after the action)."""
        if not self.columns:
            return {}
        if self._metrics is None:
            return None
        metrics = self._metrics.get(wait_seconds)
        if metrics is None:
            return None
        return {plan.name: int(metrics.get(f"c{i}") or 0) for i, plan in enumerate(self.columns)}

    def lost(self, wait_seconds: float = 1.0) -> Optional[Dict[str, int]]:
        """Only the columns with values read as NULL (``{}``: none), or None when not known."""
        counts = self.counts(wait_seconds)
        return None if counts is None else {k: v for k, v in counts.items() if v}

    def message(self, counts: Mapping[str, int]) -> str:
        """The warning for ``counts`` (from :meth:`lost`): table, columns, counts and the fix."""
        policies = {plan.name: plan.policy for plan in self.columns}
        parts = ", ".join(
            f"{quote_ident(name)} {count} ({_LOST_VALUES.get(policies.get(name, ''), 'unrepresentable')})"
            for name, count in counts.items()
        )
        total = sum(counts.values())
        return (
            f"{self.source}: {total} value(s) read as NULL because their Spark type cannot hold "
            f'them: {parts}. Read with --unrepresentable text (unrepresentable="text") to keep '
            "them exactly as PostgreSQL text"
        )

    def raise_if_lost(self, wait_seconds: float = 1.0) -> None:
        """Raise :class:`UnrepresentableValuesError` when values were read as NULL (strict mode)."""
        lost = self.lost(wait_seconds)
        if lost:
            raise UnrepresentableValuesError(self.message(lost))
