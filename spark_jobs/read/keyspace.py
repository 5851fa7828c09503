"""Key values as integer ordinals: the integer itself, days since 1970-01-01 for ``date``,
microseconds since 1970-01-01 00:00 for ``timestamp``/``timestamptz``. Bounds, ``pg_stats``
distributions, cut points between partitions and the typed SQL literals that render ordinals
back. Pure functions (used by :mod:`spark_jobs.read.partitioning`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, List, Optional, Tuple

from connectors.errors import PartitioningError
from spark_jobs.read.facts import KeyBounds, KeyDistribution

_EPOCH_DATE = dt.date(1970, 1, 1)
_EPOCH = dt.datetime(1970, 1, 1)
_MICROS = 1_000_000


# --- cut points -----------------------------------------------------------------------------


def cut_points(
    bounds: KeyBounds, n: int, distribution: Optional[KeyDistribution] = None
) -> List[int]:
    """Up to ``n - 1`` strictly increasing cuts in ``(low, high]`` splitting the key domain.

    Partition ``i`` holds ``cut[i-1] <= key < cut[i]``. Without statistics the cuts are equally
    spaced; with them each partition gets about the same share of rows (NULLs count towards the
    first partition, which reads them).
    """
    low, high = bounds.low, bounds.high
    span = high - low + 1
    n = max(1, min(n, span))
    if n == 1:
        return []
    if distribution is None or not distribution.useful:
        return [low + (span * i) // n for i in range(1, n)]
    cdf = _Cdf(distribution, bounds)
    cuts: List[int] = []
    for i in range(1, n):
        cut = cdf.smallest_at_least(cdf.total * i / n, low + 1, high)
        if cut > low and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    return cuts


class _Cdf:
    """F(x) = estimated fraction of rows with key < x (NULLs sort first), from pg_stats."""

    def __init__(self, dist: KeyDistribution, bounds: KeyBounds) -> None:
        self.null_frac = min(max(dist.null_frac, 0.0), 1.0)
        self.points = sorted((v, max(f, 0.0)) for v, f in dist.most_common)
        mcv_mass = sum(f for _, f in self.points)
        hist = sorted(dist.histogram)
        buckets: List[Tuple[int, int, float]] = []
        remaining = max(0.0, 1.0 - self.null_frac - mcv_mass)
        if len(hist) >= 2:
            mass = remaining / (len(hist) - 1)
            buckets = [(a, b, mass) for a, b in zip(hist, hist[1:])]
        elif remaining > 0:
            # MCVs only (few distinct values): spread the rest uniformly over the bounds.
            buckets = [(bounds.low, bounds.high + 1, remaining)]
        self.buckets = buckets
        self.total = self.null_frac + mcv_mass + sum(m for _, _, m in buckets)

    def __call__(self, x: int) -> float:
        value = self.null_frac
        value += sum(f for v, f in self.points if v < x)
        for a, b, mass in self.buckets:
            if x >= b:
                value += mass
            elif x > a:
                value += mass * (x - a) / (b - a)
        return value

    def smallest_at_least(self, target: float, lo: int, hi: int) -> int:
        """The smallest integer x in [lo, hi] with F(x) >= target (hi if none)."""
        while lo < hi:
            mid = (lo + hi) // 2
            if self(mid) >= target:
                hi = mid
            else:
                lo = mid + 1
        return lo


# --- literals and ordinals ------------------------------------------------------------------


def render_literal(ordinal: int, kind: str) -> str:
    """A typed SQL literal for a key ordinal: ``42``, ``'2024-01-31'::date``,
    ``'2024-01-31 12:00:00'::timestamp``, ``'2024-01-31 12:00:00+00'::timestamptz``."""
    if kind == "integer":
        return str(ordinal)
    if kind == "date":
        try:
            return f"'{(_EPOCH_DATE + dt.timedelta(days=ordinal)).isoformat()}'::date"
        except OverflowError:
            return f"(DATE '1970-01-01' + {ordinal})"
    if kind in ("timestamp", "timestamptz"):
        try:
            text = (_EPOCH + dt.timedelta(microseconds=ordinal)).isoformat(sep=" ")
        except OverflowError:
            base = "TIMESTAMP" if kind == "timestamp" else "TIMESTAMPTZ"
            return f"({base} '1970-01-01 00:00:00+00' + {ordinal} * INTERVAL '1 microsecond')"
        if kind == "timestamp":
            return f"'{text}'::timestamp"
        return f"'{text}+00'::timestamptz"
    raise PartitioningError(f"unknown key kind {kind!r}")


def to_ordinal(value: Any, kind: str) -> int:
    """A user-given bound as an ordinal: ints, dates, datetimes (naive = UTC for timestamptz) or
    their ISO strings."""
    try:
        if kind == "integer":
            if isinstance(value, bool):
                raise TypeError
            if isinstance(value, str):
                return int(value.strip())
            if isinstance(value, float) and not value.is_integer():
                raise TypeError
            return int(value)
        if kind == "date":
            if isinstance(value, str):
                value = dt.date.fromisoformat(value.strip())
            if isinstance(value, dt.datetime):
                value = value.date()
            if not isinstance(value, dt.date):
                raise TypeError
            return (value - _EPOCH_DATE).days
        if kind in ("timestamp", "timestamptz"):
            if isinstance(value, str):
                value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                value = dt.datetime(value.year, value.month, value.day)
            if not isinstance(value, dt.datetime):
                raise TypeError
            if value.tzinfo is not None:
                value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
            delta = value - _EPOCH
            return (delta.days * 86400 + delta.seconds) * _MICROS + delta.microseconds
    except (TypeError, ValueError):
        raise PartitioningError(
            f"bound {value!r} is not a valid {kind} value (give an int, date, datetime or ISO text)"
        ) from None
    raise PartitioningError(f"unknown key kind {kind!r}")
