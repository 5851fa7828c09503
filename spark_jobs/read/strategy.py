"""Choosing how to split a read: :func:`choose_strategy` turns a relation's statistics, its key
candidates, the server's version, the connection's ``max_connections`` and the user's
:class:`PartitionOverrides` into a :class:`StrategyChoice` (single, key range or page range, and
how many partitions), with the reason. Pure: no Spark, no database. The rules are listed in
:mod:`spark_jobs.read.partitioning` (and for users in ``docs/reading.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, List, Optional, Sequence, Tuple, Union

from connectors.errors import PartitioningError
from spark_jobs.read.facts import KeyCandidate, PlanLimits, RelationStats

SMALL_TABLE_BYTES = 64 * 1024 * 1024
"""Relations below this size (main fork, ``pg_relation_size``) are read in one partition."""


TARGET_PARTITION_BYTES = 128 * 1024 * 1024
"""The size of table one partition should read when the planner picks the count."""


TID_RANGE_SCAN_VERSION = 140000
"""``server_version_num`` from which PostgreSQL has TID range scans (``ctid`` ranges)."""


class Strategy(str, Enum):
    """How a read is split. A ``str`` enum: ``Strategy.SINGLE == "single"``."""

    SINGLE = "single"
    KEY_RANGE = "key_range"
    PAGE_RANGE = "page_range"

    def __str__(self) -> str:
        return self.value


STRATEGIES = tuple(s.value for s in Strategy)


@dataclass(frozen=True)
class PartitionOverrides:
    """What the user fixed; None leaves the choice to the planner.

    ``lower_bound``/``upper_bound`` take values of the key's type (``int``, ``datetime.date``,
    ``datetime.datetime``) or ISO strings; they replace the ``min``/``max`` query (rows outside
    them are still read, by the first and last partitions).
    """

    strategy: Optional[Union[Strategy, str]] = None
    key_column: Optional[str] = None
    num_partitions: Optional[int] = None
    lower_bound: Any = None
    upper_bound: Any = None

    def __post_init__(self) -> None:
        if self.strategy is not None and self.strategy not in (*STRATEGIES, "auto"):
            raise PartitioningError(
                f"unknown partitioning strategy {self.strategy!r}; use auto, "
                + ", ".join(STRATEGIES)
            )
        strategy = None if self.strategy in (None, "auto") else Strategy(self.strategy)
        object.__setattr__(self, "strategy", strategy)
        if self.num_partitions is not None and self.num_partitions < 1:
            raise PartitioningError(f"num_partitions must be >= 1, got {self.num_partitions}")
        if self.strategy in ("single", "page_range") and (
            self.key_column is not None
            or self.lower_bound is not None
            or self.upper_bound is not None
        ):
            raise PartitioningError(
                f"strategy {self.strategy} takes no key column or bounds; use key_range"
            )

    @property
    def wants_key(self) -> bool:
        """True when the user asked for a key-range read, explicitly or by giving a key/bounds."""
        return (
            self.strategy == "key_range"
            or self.key_column is not None
            or self.lower_bound is not None
            or self.upper_bound is not None
        )


@dataclass(frozen=True)
class StrategyChoice:
    """The first planning step: which strategy, which key, how many partitions, and why."""

    strategy: Strategy
    num_partitions: int
    reason: str
    key: Optional[KeyCandidate] = None
    notes: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategy", Strategy(self.strategy))


def choose_strategy(
    stats: RelationStats,
    candidates: Sequence[KeyCandidate],
    *,
    server_version_num: int,
    max_connections: int,
    overrides: Optional[PartitionOverrides] = None,
    parallelism: Optional[int] = None,
    in_snapshot: bool = False,
) -> StrategyChoice:
    """Pick the strategy, key and partition count (bounds come later, from one query).

    ``candidates`` are ordered best first (primary key, unique index, other index); when the user
    named a key column, pass exactly that column. ``parallelism`` is the number of Spark task
    slots (``defaultParallelism``), used to round the automatic count. ``in_snapshot``: every
    partition reads one snapshot, in which page ranges are exact (see the automatic choice).
    """
    ov = overrides or PartitionOverrides()
    notes: List[str] = []
    requested = ov.num_partitions
    if requested is not None and requested > max_connections:
        notes.append(
            f"{requested} partitions requested, capped at max_connections={max_connections} "
            "(raise it in the connection settings to allow more connections)"
        )
        requested = max_connections
    key = _user_key(candidates, ov) if ov.key_column is not None else None

    if ov.strategy == "single" or requested == 1:
        return StrategyChoice(Strategy.SINGLE, 1, "single partition requested", notes=tuple(notes))
    if ov.strategy == "page_range":
        _check_page_range_possible(stats, server_version_num)
        n = requested or _auto_count(stats, max_connections, parallelism)
        return _page_ranges(n, stats, "page ranges requested", notes)
    if ov.wants_key:
        key = key or _first_key(candidates)
        if key is None:
            raise PartitioningError(
                "a key-range read needs a key column: none of the columns is an integer, date or "
                "timestamp leading a b-tree index; name one with key_column"
            )
        if key.index is None:
            notes.append(
                f"{key.column} leads no index: each partition may scan the whole table; "
                "consider an index on it, or page ranges"
            )
        n = requested or _auto_count(stats, max_connections, parallelism)
        return StrategyChoice(Strategy.KEY_RANGE, n, "key range requested", key, tuple(notes))

    # Automatic choice.
    size = stats.size_bytes
    if requested is None:
        if stats.kind in ("v", "f", "query") or size is None:
            what = {"v": "a view", "f": "a foreign table", "query": "a query"}.get(
                stats.kind, "a relation of unknown size"
            )
            return StrategyChoice(
                Strategy.SINGLE,
                1,
                f"{what}: size unknown; pass key_column and num_partitions to split it",
                notes=tuple(notes),
            )
        if size < SMALL_TABLE_BYTES:
            return StrategyChoice(
                Strategy.SINGLE,
                1,
                f"small table ({_mib(size)} < {_mib(SMALL_TABLE_BYTES)})",
                notes=tuple(notes),
            )
        if max_connections == 1:
            return StrategyChoice(Strategy.SINGLE, 1, "max_connections is 1", notes=tuple(notes))
    n = requested or _auto_count(stats, max_connections, parallelism)
    size_text = f"{_mib(size)} table" if size is not None else "table"
    tid_ranges = server_version_num >= TID_RANGE_SCAN_VERSION and stats.has_ctid
    if in_snapshot and tid_ranges and stats.kind in ("r", "m"):
        # In one snapshot every row version a partition can see sits on one page, so page
        # ranges read each row once; a TID range scan reads its pages in order, without the
        # key's index (less server CPU: benchmarks/README.md, sparkpg-snapshot).
        return _page_ranges(n, stats, f"{size_text} read in one snapshot: page ranges", notes)
    key = _first_key(candidates)
    if key is not None and (key.in_physical_order or not tid_ranges):
        if not key.in_physical_order:
            notes.append(
                f"{key.column} is not in physical order (correlation {key.correlation:.2f}) and "
                "PostgreSQL < 14 has no TID range scans: partitions may read overlapping pages"
            )
        return StrategyChoice(
            Strategy.KEY_RANGE,
            n,
            f"{size_text}, split on {key.index} column {key.column}",
            key,
            tuple(notes),
        )
    if tid_ranges:
        why = (
            f"key {key.column} is not in physical order (correlation {key.correlation:.2f})"
            if key is not None
            else "no integer/date/timestamp column leads a b-tree index"
        )
        return _page_ranges(n, stats, f"{size_text}, {why}: page ranges", notes)
    if stats.kind not in ("r", "p", "m"):
        reason = f"{size_text} of kind {stats.kind!r} without a key: one partition"
    else:
        reason = (
            f"{size_text} without an indexed integer/date/timestamp key on PostgreSQL "
            f"{_version_text(server_version_num)} (< 14, no TID range scans): every split would "
            "scan the whole table, so one partition; add such an index or pass key_column"
        )
    return StrategyChoice(Strategy.SINGLE, 1, reason, notes=tuple(notes))


def split_key(
    stats: RelationStats,
    candidates: Sequence[KeyCandidate],
    overrides: PartitionOverrides,
    limits: PlanLimits,
) -> Optional[KeyCandidate]:
    """The key whose bounds and statistics the plan will use (None: the plan uses no key), so
    that the catalog step fetches exactly those facts."""
    choice = choose_strategy(
        stats,
        candidates,
        server_version_num=limits.server_version_num,
        max_connections=limits.max_connections,
        overrides=overrides,
        parallelism=limits.parallelism,
        in_snapshot=limits.in_snapshot,
    )
    return choice.key if choice.strategy is Strategy.KEY_RANGE else None


def _user_key(candidates: Sequence[KeyCandidate], ov: PartitionOverrides) -> KeyCandidate:
    for candidate in candidates:
        if candidate.column == ov.key_column:
            return candidate
    raise PartitioningError(
        f"key column {ov.key_column!r} is not a usable partition key (integer, date or timestamp)"
    )


def _first_key(candidates: Sequence[KeyCandidate]) -> Optional[KeyCandidate]:
    indexed = [c for c in candidates if c.index is not None]
    return indexed[0] if indexed else None


def _auto_count(
    stats: RelationStats,
    max_connections: int,
    parallelism: Optional[int],
) -> int:
    """ceil(size / TARGET_PARTITION_BYTES), at least 2, rounded up to a multiple of the task slots,
    at most ``max_connections``. Unknown size: ``max_connections``."""
    if stats.size_bytes is None:
        return max_connections
    n = max(2, math.ceil(stats.size_bytes / TARGET_PARTITION_BYTES))
    slots = min(parallelism or 1, max_connections)
    if slots > 1:
        n = slots * math.ceil(n / slots)
    return max(1, min(n, max_connections))


def _page_ranges(n: int, stats: RelationStats, reason: str, notes: List[str]) -> StrategyChoice:
    """A page-range choice of ``n`` partitions, no more than the relation has pages."""
    return StrategyChoice(
        Strategy.PAGE_RANGE, max(1, min(n, stats.pages or 1)), reason, notes=tuple(notes)
    )


def _check_page_range_possible(stats: RelationStats, server_version_num: int) -> None:
    if not stats.has_ctid:
        raise PartitioningError(
            f"page ranges need a table or materialized view (relkind r, p or m), not {stats.kind!r}"
        )
    if server_version_num < TID_RANGE_SCAN_VERSION:
        raise PartitioningError(
            f"page ranges need PostgreSQL 14+ (TID range scans); this server is "
            f"{_version_text(server_version_num)}, where every range would scan the whole table. "
            "Use key_range with an indexed column, or single"
        )


def _mib(size: Optional[int]) -> str:
    if size is None:
        return "? MiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def _version_text(num: int) -> str:
    major = num // 10000
    return f"{major}" if major >= 10 else f"{num // 10000}.{(num // 100) % 100}"
