"""Partition planning: pure functions from catalog facts to the WHERE predicates of a Spark read.

No Spark and no database here: :mod:`spark_jobs.read.catalog` gathers the facts of a source in one
step (:class:`SourceFacts`), :func:`plan_partitions` turns them into the finished
:class:`PartitionPlan`.

The rules (``docs/reading.md`` explains them to users):

* a relation smaller than :data:`SMALL_TABLE_BYTES` (``pg_relation_size``) is read in **one**
  partition; so are views and queries, whose size is unknown, unless the caller overrides;
* a larger one is split by a **key**: an integer, date or timestamp column that leads a valid
  b-tree index (primary key first, then unique indexes, then other indexes), between bounds from
  one ``min``/``max`` query, at quantiles from ``pg_stats`` when they exist (skewed keys give
  balanced partitions). The first predicate also takes ``key IS NULL`` and everything below the
  first cut, the last everything from the last cut up, so NULL keys and rows outside stale bounds
  are read exactly once;
* without a suitable key (or when the key is not in physical order, ``pg_stats.correlation``), on
  PostgreSQL 14+ by **page ranges** (``ctid``, TID range scans), the last range open-ended;
* never a plan in which every partition scans the whole table: on PostgreSQL < 14 without a key
  the read is one partition, and the plan says why;
* the number of partitions is capped by the connection's ``max_connections`` (each partition is a
  connection to the database) and rounded to a multiple of the Spark task slots when known.

Key values are handled as integer *ordinals*: the integer itself, days since 1970-01-01 for
``date``, microseconds since 1970-01-01 00:00 for ``timestamp``/``timestamptz``. Predicates render
them back as typed literals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, List, Optional, Sequence, Tuple, Union

from connectors.errors import PartitioningError
from connectors.jdbc import quote_ident
from spark_jobs.read.facts import (
    KEY_KINDS,
    KeyBounds,
    KeyCandidate,
    KeyDistribution,
    KeyFacts,
    PlanLimits,
    RelationStats,
    SourceFacts,
)
from spark_jobs.read.keyspace import cut_points, render_literal, to_ordinal

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


@dataclass(frozen=True)
class Split:
    """Where a multi-partition read is cut: ``expression`` is the SQL of the column it splits on
    (``ctid`` or the quoted key), ``cuts`` the SQL literals between partitions, ascending. The
    first partition is open below (and takes the NULLs when ``with_nulls``), the last open above,
    so every row is read exactly once."""

    expression: str
    cuts: Tuple[str, ...]
    with_nulls: bool = False

    def predicates(self, column_sql: Optional[str] = None) -> Tuple[str, ...]:
        """One WHERE condition per partition, over ``column_sql`` (default: ``expression``; an
        engine that reads through a subquery names the column by its alias there)."""
        col = column_sql or self.expression
        first = f"{col} < {self.cuts[0]}"
        predicates = [f"({first} OR {col} IS NULL)" if self.with_nulls else first]
        predicates += [f"{col} >= {a} AND {col} < {b}" for a, b in zip(self.cuts, self.cuts[1:])]
        predicates.append(f"{col} >= {self.cuts[-1]}")
        return tuple(predicates)


@dataclass(frozen=True)
class PartitionPlan:
    """How a read is split: the strategy, where it is cut (:class:`Split`; None for one
    partition), and why. ``bounds`` holds the rendered key bounds of a key-range plan."""

    strategy: Strategy
    split: Optional[Split] = None
    reason: str = ""
    key_column: Optional[str] = None
    bounds: Optional[Tuple[str, str]] = None
    notes: Tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategy", Strategy(self.strategy))

    @property
    def predicates(self) -> Tuple[str, ...]:
        """Each partition's WHERE condition over the source's own columns (empty: one
        partition reading everything)."""
        return self.split.predicates() if self.split is not None else ()

    @property
    def num_partitions(self) -> int:
        """The number of Spark partitions (= database connections) of the read."""
        return len(self.split.cuts) + 1 if self.split is not None else 1

    def describe(self) -> str:
        """One line for logs and the job summary."""
        text = f"{self.strategy}, {self.num_partitions} partition(s)"
        if self.key_column is not None:
            text += f" on {self.key_column}"
            if self.bounds is not None:
                text += f" [{self.bounds[0]} .. {self.bounds[1]}]"
        return f"{text}: {self.reason}" if self.reason else text


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
    )
    return choice.key if choice.strategy is Strategy.KEY_RANGE else None


def plan_partitions(
    facts: SourceFacts,
    overrides: PartitionOverrides,
    limits: PlanLimits,
) -> PartitionPlan:
    """The finished plan of a source: strategy, key, partition count and where it is cut."""
    choice = choose_strategy(
        facts.stats,
        facts.candidates,
        server_version_num=limits.server_version_num,
        max_connections=limits.max_connections,
        overrides=overrides,
        parallelism=limits.parallelism,
    )
    if choice.strategy is Strategy.SINGLE:
        return single_plan(choice)
    if choice.strategy is Strategy.PAGE_RANGE:
        return plan_page_ranges(choice, facts.stats.pages or 1)
    key_facts = facts.key_facts
    if key_facts is None or key_facts.key != choice.key:
        raise PartitioningError(  # pragma: no cover - gather_facts asks split_key for the key
            f"no catalog facts for the partition key {choice.key}"
        )
    bounds = override_bounds(overrides, key_facts.key.kind, key_facts.bounds)
    return plan_key_ranges(choice, bounds, distribution=key_facts.distribution)


def choose_strategy(
    stats: RelationStats,
    candidates: Sequence[KeyCandidate],
    *,
    server_version_num: int,
    max_connections: int,
    overrides: Optional[PartitionOverrides] = None,
    parallelism: Optional[int] = None,
) -> StrategyChoice:
    """Pick the strategy, key and partition count (bounds come later, from one query).

    ``candidates`` are ordered best first (primary key, unique index, other index); when the user
    named a key column, pass exactly that column. ``parallelism`` is the number of Spark task
    slots (``defaultParallelism``), used to round the automatic count.
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
        return StrategyChoice(
            Strategy.PAGE_RANGE, _cap_pages(n, stats), "page ranges requested", notes=tuple(notes)
        )
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
        return StrategyChoice(
            Strategy.PAGE_RANGE,
            _cap_pages(n, stats),
            f"{size_text}, {why}: page ranges",
            notes=tuple(notes),
        )
    if stats.kind not in ("r", "p", "m"):
        reason = f"{size_text} of kind {stats.kind!r} without a key: one partition"
    else:
        reason = (
            f"{size_text} without an indexed integer/date/timestamp key on PostgreSQL "
            f"{_version_text(server_version_num)} (< 14, no TID range scans): every split would "
            "scan the whole table, so one partition; add such an index or pass key_column"
        )
    return StrategyChoice(Strategy.SINGLE, 1, reason, notes=tuple(notes))


def plan_key_ranges(
    choice: StrategyChoice,
    bounds: Optional[KeyBounds],
    *,
    distribution: Optional[KeyDistribution] = None,
) -> PartitionPlan:
    """The cuts of a key-range read of ``choice.num_partitions`` partitions.

    ``bounds`` None means the key has no finite non-NULL value (empty table): one partition.
    """
    key = choice.key
    if key is None:
        raise PartitioningError("plan_key_ranges needs a choice with a key")
    if bounds is None:
        return PartitionPlan(
            Strategy.SINGLE,
            None,
            f"{key.column} has no finite non-NULL values: one partition",
            key.column,
            notes=choice.notes,
        )
    cuts = cut_points(bounds, choice.num_partitions, distribution)
    rendered = (render_literal(bounds.low, key.kind), render_literal(bounds.high, key.kind))
    if not cuts:
        return PartitionPlan(
            Strategy.SINGLE,
            None,
            f"{key.column} spans one value: one partition",
            key.column,
            rendered,
            choice.notes,
        )
    lits = tuple(render_literal(c, key.kind) for c in cuts)
    # A NOT NULL key needs no IS NULL arm, which would turn the first range into a bitmap scan.
    split = Split(quote_ident(key.column), lits, with_nulls=not key.not_null)
    reason = choice.reason
    if distribution is not None and distribution.useful:
        reason += ", cuts at pg_stats quantiles"
    return PartitionPlan(Strategy.KEY_RANGE, split, reason, key.column, rendered, choice.notes)


def plan_page_ranges(choice: StrategyChoice, pages: int) -> PartitionPlan:
    """The cuts of a page-range read: ``ctid`` ranges of about ``pages / n`` pages each.

    The first range is open below and the last open above, so rows on pages added while the read
    runs are still read (once).
    """
    n = max(1, min(choice.num_partitions, pages))
    if n == 1:
        return PartitionPlan(
            Strategy.SINGLE, None, f"{choice.reason} (one page)", notes=choice.notes
        )
    tids = tuple(f"'({(pages * i) // n},0)'::tid" for i in range(1, n))
    split = Split("ctid", tids)
    return PartitionPlan(Strategy.PAGE_RANGE, split, choice.reason, notes=choice.notes)


def single_plan(choice: StrategyChoice) -> PartitionPlan:
    """The plan of a one-partition read."""
    return PartitionPlan(Strategy.SINGLE, None, choice.reason, notes=choice.notes)


def override_bounds(
    overrides: PartitionOverrides, kind: str, queried: Optional[KeyBounds]
) -> Optional[KeyBounds]:
    """The user's bounds where given, else the queried ones (None: no finite key values)."""
    low = to_ordinal(overrides.lower_bound, kind) if overrides.lower_bound is not None else None
    high = to_ordinal(overrides.upper_bound, kind) if overrides.upper_bound is not None else None
    if queried is not None:
        low = queried.low if low is None else low
        high = queried.high if high is None else high
    if low is None and high is None:
        return None
    low = high if low is None else low
    high = low if high is None else high
    assert low is not None and high is not None
    if high < low:
        raise PartitioningError(
            f"partition bounds are inverted: lower {render_literal(low, kind)} is above "
            f"upper {render_literal(high, kind)}"
        )
    return KeyBounds(low, high)


# --- helpers --------------------------------------------------------------------------------


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


def _cap_pages(n: int, stats: RelationStats) -> int:
    return max(1, min(n, stats.pages or 1))


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


__all__ = [
    "KEY_KINDS",
    "SMALL_TABLE_BYTES",
    "STRATEGIES",
    "TARGET_PARTITION_BYTES",
    "KeyBounds",
    "KeyCandidate",
    "KeyDistribution",
    "KeyFacts",
    "PartitionOverrides",
    "PartitionPlan",
    "PlanLimits",
    "RelationStats",
    "SourceFacts",
    "Strategy",
    "StrategyChoice",
    "choose_strategy",
    "cut_points",
    "override_bounds",
    "plan_key_ranges",
    "plan_page_ranges",
    "plan_partitions",
    "render_literal",
    "single_plan",
    "split_key",
    "to_ordinal",
]
