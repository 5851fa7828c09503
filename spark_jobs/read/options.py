"""What a read may be asked for, as one frozen value: :class:`ReadOptions`.

Every public read function takes ``options=ReadOptions(...)`` and/or the same fields as keywords
(``read_table(spark, settings, "aurora.orders", columns=["id"], where="id > 10")``); keywords
override the fields of ``options``. Pure: no Spark, no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

from connectors.errors import PartitioningError, SettingsError
from spark_jobs.read.partitioning import PartitionOverrides
from spark_jobs.read.snapshots import Snapshot
from spark_jobs.read.types import UNREPRESENTABLE_MODES

ENGINES = ("copy", "jdbc")
"""The loaders of a finished plan: sparkpg's COPY engine (default) and Spark's JDBC source."""

Partitioning = Union[PartitionOverrides, Mapping[str, Any], None]

PUSHDOWNS: Mapping[str, str] = {
    "aggregate": "Aggregate",
    "top_n": "TopN",
    "offset": "Offset",
    "sample": "TableSample",
}
"""What the COPY engine may push into PostgreSQL (``pushdown_off`` names), and the engine's name
of each (``spark.sparkpg.read.pushDown<name>``, docs/reading.md)."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read one source (``docs/reading.md``).

    ``columns`` selects columns (names as stored, case-sensitive; tables only); ``where`` is a
    SQL filter run by PostgreSQL (tables only); ``partitioning`` overrides the planner (a
    :class:`PartitionOverrides` or a mapping with ``strategy``, ``key_column``,
    ``num_partitions``, ``lower_bound``, ``upper_bound``); ``fetch_size`` overrides the
    connection's rows per round trip; ``binary_transfer`` uses pgjdbc's binary protocol;
    ``unrepresentable`` is the type policy's choice for values no native Spark type holds
    (``"null"`` or ``"text"``, ``docs/types.md``); ``report_unrepresentable`` counts the values
    read as NULL during the first action; ``snapshot`` (from
    :func:`spark_jobs.read.snapshots.consistent_snapshot`) makes every partition read one snapshot;
    ``engine`` picks the loader: ``"copy"`` (default, binary COPY decoded by sparkpg's engine) or
    ``"jdbc"`` (Spark's JDBC source); ``pushdown_off`` names what the COPY engine must not push
    into PostgreSQL for this read (any of :data:`PUSHDOWNS`; the Spark confs switch them off for
    every read).
    """

    columns: Optional[Tuple[str, ...]] = None
    where: Optional[str] = None
    partitioning: PartitionOverrides = field(default_factory=PartitionOverrides)
    fetch_size: Optional[int] = None
    binary_transfer: bool = True
    unrepresentable: str = "null"
    report_unrepresentable: bool = True
    snapshot: Optional[Snapshot] = None
    engine: str = "copy"
    pushdown_off: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.columns is not None:
            if isinstance(self.columns, str):
                raise SettingsError(
                    f"columns must be a list of column names, got the string {self.columns!r}"
                )
            object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "partitioning", _overrides(self.partitioning))
        if self.fetch_size is not None and (
            isinstance(self.fetch_size, bool) or not isinstance(self.fetch_size, int)
        ):
            raise SettingsError(f"fetch_size must be an integer, got {self.fetch_size!r}")
        if self.fetch_size is not None and self.fetch_size < 1:
            raise SettingsError(f"fetch_size must be >= 1, got {self.fetch_size}")
        if self.unrepresentable not in UNREPRESENTABLE_MODES:
            raise SettingsError(
                f"unrepresentable must be one of {', '.join(UNREPRESENTABLE_MODES)}, got "
                f"{self.unrepresentable!r} (docs/types.md)"
            )
        off = (self.pushdown_off,) if isinstance(self.pushdown_off, str) else self.pushdown_off
        unknown = sorted(set(off) - set(PUSHDOWNS))
        if unknown:
            raise SettingsError(
                f"pushdown_off: unknown pushdown(s) {', '.join(unknown)}; use any of "
                f"{', '.join(PUSHDOWNS)} (docs/reading.md)"
            )
        object.__setattr__(self, "pushdown_off", tuple(off))
        if self.engine not in ENGINES:
            raise SettingsError(
                f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r} (docs/reading.md)"
            )
        if self.snapshot is not None and not isinstance(self.snapshot, Snapshot):
            raise SettingsError(
                "snapshot must come from consistent_snapshot(...), got "
                f"{type(self.snapshot).__name__}"
            )

    @classmethod
    def of(cls, options: Optional[ReadOptions] = None, **overrides: Any) -> ReadOptions:
        """``options`` (default: all defaults) with ``overrides`` applied; an unknown keyword is
        refused with the list of valid ones."""
        base = options if options is not None else cls()
        if not isinstance(base, ReadOptions):
            raise SettingsError(f"options must be a ReadOptions, got {type(base).__name__}")
        unknown = sorted(set(overrides) - set(OPTION_NAMES))
        if unknown:
            raise SettingsError(
                f"unknown read option(s) {', '.join(unknown)}; valid: {', '.join(OPTION_NAMES)}"
            )
        return replace(base, **overrides) if overrides else base

    def only_source_wide(self, what: str) -> None:
        """Refuse ``columns`` and ``where`` where they cannot apply (several tables, a query)."""
        given = [name for name in ("columns", "where") if getattr(self, name) is not None]
        if given:
            raise SettingsError(
                f"{' and '.join(given)} cannot be used with {what}: read a single table with "
                "read_table(..., columns=..., where=...)"
            )


OPTION_NAMES: Sequence[str] = tuple(f.name for f in fields(ReadOptions))


def _overrides(partitioning: Partitioning) -> PartitionOverrides:
    if partitioning is None:
        return PartitionOverrides()
    if isinstance(partitioning, PartitionOverrides):
        return partitioning
    try:
        return PartitionOverrides(**dict(partitioning))
    except TypeError as exc:
        raise PartitioningError(
            f"unknown partitioning option ({exc}); use strategy, key_column, num_partitions, "
            "lower_bound, upper_bound"
        ) from None
