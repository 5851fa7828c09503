"""The facts partitioning decides on, as the catalog step (:mod:`spark_jobs.read.catalog`) hands them
over: relation statistics, key candidates, the chosen key's bounds and ``pg_stats`` (as ordinals,
see :mod:`spark_jobs.read.keyspace`), and the limits of the plan. Plain frozen values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from connectors.errors import PartitioningError

KEY_KINDS = ("integer", "date", "timestamp", "timestamptz")

MIN_PHYSICAL_CORRELATION = 0.5
"""A key whose ``pg_stats.correlation`` is below this (in absolute value) is not in physical
order: each key range would touch most pages, so page ranges win on PostgreSQL 14+."""


@dataclass(frozen=True)
class RelationStats:
    """What the catalog says about the relation being read.

    ``kind`` is ``pg_class.relkind`` (``r`` table, ``p`` partitioned, ``m`` materialized view,
    ``v`` view, ``f`` foreign table) or ``"query"`` for :func:`spark_jobs.read.api.read_query`.
    ``size_bytes`` and ``pages`` are None when unknown (views, queries). For a partitioned table
    ``size_bytes`` is the sum over its leaf partitions and ``pages`` the largest leaf's page count
    (ctid ranges apply to each leaf).
    """

    kind: str
    size_bytes: Optional[int] = None
    pages: Optional[int] = None
    estimated_rows: Optional[int] = None
    storage: Optional[Tuple[int, int]] = None
    """A table's or materialized view's oid and ``pg_relation_filenode`` (None for other
    kinds): a rewrite (VACUUM FULL, CLUSTER, TRUNCATE, a rewriting ALTER TABLE, pg_repack)
    gives it a new filenode."""

    @property
    def has_ctid(self) -> bool:
        """True when rows have a stable physical address (``ctid``) to split on."""
        return self.kind in ("r", "p", "m") and self.pages is not None


@dataclass(frozen=True)
class KeyCandidate:
    """A column that may split the read: its kind and why it qualifies.

    ``index`` is ``"primary key"``, ``"unique index"``, ``"index"`` or ``None`` when the column
    leads no usable index (only ever the case for a user-chosen key).
    """

    column: str
    kind: str
    index: Optional[str] = "primary key"
    correlation: Optional[float] = None
    not_null: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KEY_KINDS:
            raise PartitioningError(
                f"column {self.column!r} has kind {self.kind!r}; a partition key must be one of "
                f"{', '.join(KEY_KINDS)}"
            )

    @property
    def in_physical_order(self) -> bool:
        """False when pg_stats says the column is far from the table's physical order."""
        return self.correlation is None or abs(self.correlation) >= MIN_PHYSICAL_CORRELATION


@dataclass(frozen=True)
class KeyBounds:
    """The smallest and largest finite key values, as ordinals (both inclusive)."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if self.high < self.low:
            raise PartitioningError(f"lower bound {self.low} is above upper bound {self.high}")


@dataclass(frozen=True)
class KeyDistribution:
    """``pg_stats`` of the key, as ordinals: fraction of NULLs, equi-depth histogram bounds (which
    exclude the most common values) and the most common values with their frequencies."""

    null_frac: float = 0.0
    histogram: Tuple[int, ...] = ()
    most_common: Tuple[Tuple[int, float], ...] = ()

    @property
    def useful(self) -> bool:
        """True when there is something beyond a uniform guess."""
        return len(self.histogram) >= 2 or bool(self.most_common)


@dataclass(frozen=True)
class PlanLimits:
    """What shapes a plan besides the source: the server's version, the connection's
    ``max_connections``, Spark's task slots (``defaultParallelism``, None when unknown) and
    whether the read runs in one snapshot."""

    server_version_num: int
    max_connections: int
    parallelism: Optional[int] = None
    in_snapshot: bool = False
    """Whether every partition reads one exported snapshot (``ReadOptions.snapshot``)."""


@dataclass(frozen=True)
class KeyFacts:
    """Catalog facts of the key a key-range read would use: its bounds (None: no finite values,
    or not queried because the user gave both) and ``pg_stats`` (None: none, or not wanted)."""

    key: KeyCandidate
    bounds: Optional[KeyBounds] = None
    distribution: Optional[KeyDistribution] = None


@dataclass(frozen=True)
class SourceFacts:
    """Everything planning needs to know about a source, gathered in one step by
    :func:`spark_jobs.read.catalog.gather_tables_facts` (or ``gather_query_facts``): relation statistics, key candidates (best first)
    and, when a key-range split is possible, the facts of its key."""

    stats: RelationStats
    candidates: Tuple[KeyCandidate, ...] = ()
    key_facts: Optional[KeyFacts] = None
