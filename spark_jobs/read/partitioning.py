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
  PostgreSQL 14+ by **page ranges** (``ctid``, TID range scans), the last range open-ended; so is
  a table or materialized view read in one snapshot, where page ranges are exact and cheaper;
* never a plan in which every partition scans the whole table: on PostgreSQL < 14 without a key
  the read is one partition, and the plan says why;
* the number of partitions is capped by the connection's ``max_connections`` (each partition is a
  connection to the database) and rounded to a multiple of the Spark task slots when known.

Key values are handled as integer *ordinals*: the integer itself, days since 1970-01-01 for
``date``, microseconds since 1970-01-01 00:00 for ``timestamp``/``timestamptz``. Predicates render
them back as typed literals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

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
from spark_jobs.read.strategy import (
    SMALL_TABLE_BYTES,
    STRATEGIES,
    TARGET_PARTITION_BYTES,
    PartitionOverrides,
    Strategy,
    StrategyChoice,
    choose_strategy,
    split_key,
)


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
        in_snapshot=limits.in_snapshot,
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
