"""Consistent snapshots: one exported PostgreSQL snapshot that every partition of every read
given it imports (``docs/reading.md``, "One snapshot for several reads")."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Mapping, Optional, Tuple

from connectors.errors import SnapshotError
from connectors.jdbc import quote_literal

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from connectors.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """A snapshot exported by :func:`consistent_snapshot`; valid only inside its ``with`` block."""

    connection: str
    snapshot_id: str

    @property
    def session_init_statement(self) -> str:
        """What each partition's connection runs before its query (Spark ``sessionInitStatement``)."""
        return "; ".join(self.session_statements)

    @property
    def session_statements(self) -> Tuple[str, ...]:
        """The statements of :attr:`session_init_statement`, one by one (the COPY engine)."""
        return (
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            f"SET TRANSACTION SNAPSHOT {quote_literal(self.snapshot_id)}",
        )


@contextmanager
def consistent_snapshot(
    spark: SparkSession, settings: Settings, connection: str
) -> Iterator[Snapshot]:
    """Export a snapshot that every partition of every read given it will share.

    The driver holds a REPEATABLE READ transaction open for the whole block; run the Spark
    actions INSIDE it (each partition imports the snapshot when its task starts)::

        with consistent_snapshot(spark, settings, "aurora") as snap:
            orders = read_table(spark, settings, "aurora.orders", snapshot=snap)
            orders.write.parquet("s3://bucket/orders/")

    Refused on an Aurora reader endpoint (``.cluster-ro-``: partitions may land on different
    replicas) and on a hot standby; use the cluster (writer) endpoint.
    """
    from spark_jobs.db.connection import connect
    from spark_jobs.db.target import resolve_target
    from spark_jobs.read import catalog

    target = resolve_target(settings.connection(connection))
    if target.endpoint.is_reader:
        raise SnapshotError(
            f"connection {target.name!r} points at the Aurora reader endpoint "
            f"{target.endpoint.host}: each partition may be routed to a different replica, so "
            "they cannot share one snapshot. Use the cluster (writer) endpoint for --snapshot reads"
        )
    source = connect(spark, target)
    began = False
    try:
        if catalog.is_in_recovery(source):
            raise SnapshotError(
                f"connection {target.name!r} ({target.host_port}) is a hot standby "
                "(read replica): a snapshot exported there can be imported only by sessions on "
                "that same standby, which an endpoint in front of replicas does not guarantee. "
                "Use the primary (writer) endpoint for --snapshot reads"
            )
        source.set_autocommit(False)
        began = True
        source.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", what="starting snapshot")
        snapshot_id = str(
            source.query("SELECT pg_export_snapshot()", what="exporting a snapshot")[0][0]
        )
        logger.info("connection %r: exported snapshot %s", target.name, snapshot_id)
        yield Snapshot(target.name, snapshot_id)
    finally:
        try:
            if began:  # a refusal before the transaction began has nothing to roll back
                source.rollback()
        finally:
            source.close()


def snapshot_for(
    snapshots: Mapping[str, Snapshot], connection: str, snapshot: Optional[Snapshot]
) -> Optional[Snapshot]:
    """The snapshot a read on ``connection`` uses: its entry in ``snapshots`` (by connection
    name, case-insensitive), else ``snapshot``, which must have been exported on it."""
    for name, snap in snapshots.items():
        if name.lower() == connection.lower():
            return snap
    if snapshot is not None and snapshot.connection.lower() != connection.lower():
        raise SnapshotError(
            f"the snapshot was exported on connection {snapshot.connection!r}, not "
            f"{connection!r}: a snapshot is valid only on the server that exported it"
        )
    return snapshot
