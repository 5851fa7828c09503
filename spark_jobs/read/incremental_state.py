"""The state of an incremental read and the pure rules that continue from it
(docs/incremental.md). No Spark, no database: :mod:`spark_jobs.read.incremental` gathers the
server's facts and reads; the job stores the state with the output.

The snapshot method records the 64-bit snapshot (``pg_current_snapshot()``) every partition
read in, and the xids in ``[xmin, xmax)`` that had rows visible in it (``seen``: the exported
snapshot's list of running xids leaves out subtransactions, so "not in xip" is not "visible").
The next read takes exactly the row versions whose creating xid is not visible in that snapshot:
``xid >= xmin and xid not in seen``, the row's 32-bit ``xmin`` widened to 64 bits against the
current snapshot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

from connectors.errors import IncrementalStateError

XID_SPAN = 1 << 32
"""32-bit ``xid`` values repeat every ``2**32`` transactions (one epoch)."""
WRAP_LIMIT = 1 << 31
"""A 32-bit ``xmin`` is widened exactly only within ``2**31`` transactions of the current one
(PostgreSQL freezes older rows): a state older than that cannot be continued."""
FIRST_NORMAL_XID = 3
"""``xmin`` 0, 1 and 2 (invalid, bootstrap, frozen before PostgreSQL 9.4) mean "always visible"."""
STATE_FORMAT = 1
METHODS = ("snapshot", "cursor")
RESET_HINT = "--incremental-reset"


@dataclass(frozen=True)
class XidSnapshot:
    """A snapshot as 64-bit transaction ids (``pg_current_snapshot()``'s text form
    ``xmin:xmax:xip,...``).

    >>> XidSnapshot.parse("4294967300:4294967310:4294967302,4294967305").xip
    (4294967302, 4294967305)
    >>> str(XidSnapshot(10, 12, (11,)))
    '10:12:11'
    """

    xmin: int
    xmax: int
    xip: Tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> XidSnapshot:
        """The snapshot of ``xmin:xmax:xip1,xip2`` (refused with the bad text otherwise)."""
        try:
            low, high, running = str(text).split(":")
            xip = tuple(int(x) for x in running.split(",") if x)
            return cls(int(low), int(high), xip)
        except ValueError:
            raise IncrementalStateError(
                f"snapshot {text!r} is not of the form xmin:xmax:xip1,xip2,..."
            ) from None

    def __str__(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(str(x) for x in self.xip)}"


@dataclass(frozen=True)
class ServerFacts:
    """What the current read knows about its server: the cluster's identity (None where the
    role may not read it), the 64-bit snapshot every partition reads in, the table's oid."""

    snapshot: XidSnapshot
    system_identifier: Optional[str] = None
    timeline: Optional[int] = None
    table_oid: Optional[int] = None


@dataclass(frozen=True)
class IncrementalState:
    """What a successful incremental read of ``source`` leaves for the next one: stored with
    the output (a file in the batch, a row in the target database) and nowhere else.

    ``columns``: ``(name, type)`` of the rows delivered, so that a schema change is seen.
    ``cursor`` method: the watermark ``(cursor value, key values...)`` as text, with the
    column names in ``cursor`` and ``key``.
    """

    source: str
    method: str
    snapshot: XidSnapshot
    columns: Tuple[Tuple[str, str], ...]
    seen: Tuple[int, ...] = ()
    system_identifier: Optional[str] = None
    timeline: Optional[int] = None
    table_oid: Optional[int] = None
    cursor: Optional[str] = None
    key: Tuple[str, ...] = ()
    watermark: Optional[Tuple[str, ...]] = None

    def to_json(self) -> str:
        """The state as one JSON document (:meth:`from_json` reads it back)."""
        body: Dict[str, Any] = {
            "format": STATE_FORMAT,
            "source": self.source,
            "method": self.method,
            "snapshot": str(self.snapshot),
            "seen": list(self.seen),
            "columns": [list(c) for c in self.columns],
            "system_identifier": self.system_identifier,
            "timeline": self.timeline,
            "table_oid": self.table_oid,
        }
        if self.method == "cursor":
            body.update(cursor=self.cursor, key=list(self.key), watermark=self.watermark)
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str) -> IncrementalState:
        """The state stored at ``where`` (named in the error when it is not a valid state)."""
        try:
            body = json.loads(text)
            if body.get("format") != STATE_FORMAT:
                raise ValueError(f"format {body.get('format')!r}, expected {STATE_FORMAT}")
            watermark = body.get("watermark")
            return cls(
                source=str(body["source"]),
                method=str(body["method"]),
                snapshot=XidSnapshot.parse(body["snapshot"]),
                columns=tuple((str(n), str(t)) for n, t in body["columns"]),
                seen=tuple(int(x) for x in body.get("seen", ())),
                system_identifier=body.get("system_identifier"),
                timeline=body.get("timeline"),
                table_oid=body.get("table_oid"),
                cursor=body.get("cursor"),
                key=tuple(body.get("key") or ()),
                watermark=None if watermark is None else tuple(str(v) for v in watermark),
            )
        except (ValueError, KeyError, TypeError, IncrementalStateError) as exc:
            raise IncrementalStateError(
                f"the incremental state at {where} cannot be read ({exc}): restore it, or read "
                f"the table in full again with {RESET_HINT} (docs/incremental.md)"
            ) from None

    def describe(self) -> str:
        """Short: ``snapshot 731:735`` or ``updated_at <= '2024-05-01 10:00:00'``."""
        if self.method == "cursor":
            shown = "nothing" if self.watermark is None else repr(self.watermark[0])
            return f"{self.cursor} <= {shown}"
        return f"xid {self.snapshot.xmin}:{self.snapshot.xmax}"


def full_xid_sql(current: XidSnapshot, column: str = "xmin") -> str:
    """SQL widening a row's 32-bit ``column`` (an ``xid``) to 64 bits, exact for every xid
    within ``2**32`` below ``current.xmax`` (all unfrozen rows visible in ``current``); ``xmin``
    0, 1 and 2 (always visible) become 0.

    >>> full_xid_sql(XidSnapshot(4294967300, 4294967310))
    '(CASE WHEN xmin::text::bigint < 3 THEN 0 ELSE 4294967310 - ((14 - xmin::text::bigint) % 4294967296 + 4294967296) % 4294967296 END)'
    """
    raw = f"{column}::text::bigint"
    low = current.xmax % XID_SPAN
    return (
        f"(CASE WHEN {raw} < {FIRST_NORMAL_XID} THEN 0 ELSE {current.xmax} - "
        f"(({low} - {raw}) % {XID_SPAN} + {XID_SPAN}) % {XID_SPAN} END)"
    )


def changed_rows_filter(state: IncrementalState, current: XidSnapshot) -> str:
    """The SQL filter of the row versions created by a transaction not visible in
    ``state.snapshot``: ``xid >= xmin`` except the xids recorded in ``state.seen``.

    >>> s = IncrementalState("c.s.t", "snapshot", XidSnapshot(5, 9, (6,)), (), seen=(7, 8))
    >>> where = changed_rows_filter(s, XidSnapshot(9, 9))
    >>> ">= 5 AND" in where, where.endswith("NOT IN (7, 8)")
    (True, True)
    """
    full = full_xid_sql(current)
    where = f"{full} >= {state.snapshot.xmin}"
    if state.seen:
        where += f" AND {full} NOT IN ({', '.join(str(x) for x in state.seen)})"
    return where


def seen_xids_sql(from_sql: str, current: XidSnapshot) -> Optional[str]:
    """The query (run in ``current``) of the xids in ``[xmin, xmax)`` that have rows visible in
    it, or None when that range is empty (no transaction ran when the snapshot was taken)."""
    if current.xmin >= current.xmax:
        return None
    full = full_xid_sql(current)
    return (
        f"SELECT DISTINCT {full} FROM {from_sql} "
        f"WHERE {full} >= {current.xmin} AND {full} < {current.xmax}"
    )


def check_continuation(
    state: IncrementalState,
    facts: ServerFacts,
    source: str,
    columns: Sequence[Tuple[str, str]],
    method: str,
    cursor: Optional[str] = None,
) -> None:
    """Refuse to continue from ``state`` when the result would not be exact: another table or
    method, another cluster (system identifier, timeline), a server behind the state (restored
    or failed over), more than ``2**31`` transactions since it (wraparound), changed columns.
    The error says what to do; nothing here guesses."""
    full = f"read the table in full again with {RESET_HINT} (docs/incremental.md)"
    if state.source != source:
        raise IncrementalStateError(
            f"the stored incremental state is of {state.source}, not {source}: use another "
            "--output (or --write target) per table"
        )
    if state.method != method:
        raise IncrementalStateError(
            f"{source}: the stored state was made by the {state.method} method, this run asks "
            f"for the {method} method: keep the method, or {full}"
        )
    if state.cursor != cursor:
        raise IncrementalStateError(
            f"{source}: the stored state follows --cursor {state.cursor}, this run asks for "
            f"--cursor {cursor}: keep the cursor, or {full}"
        )
    if state.system_identifier is not None and (facts.system_identifier != state.system_identifier):
        now = facts.system_identifier or "unknown (pg_control_system() not readable)"
        raise IncrementalStateError(
            f"{source}: the state was recorded on the cluster with system identifier "
            f"{state.system_identifier}, the server is now {now}: its transaction ids are not "
            f"comparable (a restored or another cluster): {full}"
        )
    if state.timeline is not None and facts.timeline not in (None, state.timeline):
        raise IncrementalStateError(
            f"{source}: the server's timeline changed from {state.timeline} to "
            f"{facts.timeline} since the state was recorded (a point-in-time restore or a "
            f"failover): transactions after the state may have been lost: {full}"
        )
    if state.table_oid is not None and facts.table_oid not in (None, state.table_oid):
        raise IncrementalStateError(
            f"{source} was dropped and created again since the state was recorded (oid "
            f"{state.table_oid}, now {facts.table_oid}): every row of the new table looks "
            f"new: {full}"
        )
    current = facts.snapshot
    if state.snapshot.xmax > current.xmax:
        raise IncrementalStateError(
            f"{source}: the stored state (transaction ids up to {state.snapshot.xmax}) is ahead "
            f"of the server (next {current.xmax}): the server was restored from a backup or failed "
            f"over to a replica that lost transactions: {full}"
        )
    if method == "snapshot" and current.xmax - state.snapshot.xmin >= WRAP_LIMIT:
        raise IncrementalStateError(
            f"{source}: {current.xmax - state.snapshot.xmin} transactions since the stored state, "
            f"more than 2^31: row xids can no longer be told apart (wraparound): {full}"
        )
    if tuple(map(tuple, columns)) != state.columns:
        raise IncrementalStateError(f"{source}: {schema_change(state.columns, columns)}")


def schema_change(before: Sequence[Tuple[str, str]], after: Sequence[Tuple[str, str]]) -> str:
    """What changed in the columns, and what to do.

    >>> schema_change([("id", "integer"), ("a", "text")], [("id", "bigint"), ("b", "text")])[:60]
    'the columns changed since the last run (added b; dropped a; '
    """
    old, new = dict(before), dict(after)
    parts = []
    added = [n for n in new if n not in old]
    dropped = [n for n in old if n not in new]
    retyped = [f"{n} {old[n]} -> {new[n]}" for n in new if n in old and old[n] != new[n]]
    for label, names in (("added", added), ("dropped", dropped), ("retyped", retyped)):
        if names:
            parts.append(f"{label} {', '.join(names)}")
    if not parts:
        parts.append("column order")
    return (
        f"the columns changed since the last run ({'; '.join(parts)}): new rows would not "
        "match the rows already delivered. Write to a new --output folder (or alter the --write "
        f"target to match), then read the table in full with {RESET_HINT} (docs/incremental.md)"
    )
