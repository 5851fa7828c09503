"""The cursor method of incremental reads (docs/incremental.md, "Cursor method"): rows whose
``(cursor, primary key)`` lies above the last watermark and at most the new one, through an
index on the cursor.

The new watermark never passes a point below which a transaction that was still open could
commit: the **safe bound** is the earliest start (``xact_start``) of every transaction open in
the database just before the read's snapshot, or that moment itself when none is. A row
written later carries a cursor at or above its transaction's start (``now()``), so at or above
the bound; the new watermark is the greatest ``(cursor, key)`` below the bound, so a row at the
watermark itself is neither skipped nor read again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence, Tuple

from connectors.errors import IncrementalStateError
from connectors.jdbc import TableRef, quote_ident, quote_literal

if TYPE_CHECKING:
    from spark_jobs.db.connection import DriverConnection

CURSOR_TYPES = ("timestamp with time zone", "timestamp without time zone")
"""Cursor columns set from the writing transaction's clock (``now()``) on insert and update."""
Watermark = Tuple[str, ...]


@dataclass(frozen=True)
class CursorColumns:
    """The cursor and the primary key that orders rows with equal cursor values, with their
    types (``format_type``) for typed literals."""

    cursor: str
    key: Tuple[str, ...]
    types: Tuple[str, ...]
    """Of ``(cursor, *key)``."""

    def _row(self) -> str:
        return "(" + ", ".join(quote_ident(c) for c in (self.cursor, *self.key)) + ")"

    def _literal(self, values: Watermark) -> str:
        parts = [f"{quote_literal(v)}::{t}" for v, t in zip(values, self.types)]
        return "(" + ", ".join(parts) + ")"

    def above(self, low: Optional[Watermark]) -> str:
        """Rows above watermark ``low`` (all rows when None); the cursor's own bound first, so
        that an index on the cursor alone is used.

        >>> cols = CursorColumns("t", ("id",), ("timestamptz", "integer"))
        >>> print(cols.above(("2024-01-01", "7")))
        "t" >= '2024-01-01'::timestamptz AND ("t", "id") > ('2024-01-01'::timestamptz, '7'::integer)
        """
        if low is None:
            return "true"
        first = f"{quote_ident(self.cursor)} >= {quote_literal(low[0])}::{self.types[0]}"
        return f"{first} AND {self._row()} > {self._literal(low)}"

    def between(self, low: Optional[Watermark], high: Optional[Watermark]) -> str:
        """The read's filter: above ``low``, at most ``high`` (None: nothing to read)."""
        if high is None:
            return "false"
        return f"{self.above(low)} AND {self._row()} <= {self._literal(high)}"

    def watermark_sql(self, from_sql: str, low: Optional[Watermark], bound: str) -> str:
        """The new watermark, run in the read's snapshot: the greatest ``(cursor, key)`` above
        ``low`` whose cursor is below the safe ``bound``."""
        names = (self.cursor, *self.key)
        # Aliased: ORDER BY must sort the columns' own values, not their text (10 < 9).
        columns = ", ".join(
            f"{quote_ident(c)}::text AS {quote_ident(f'__sparkpg_w{i}')}"
            for i, c in enumerate(names)
        )
        order = ", ".join(f"{quote_ident(c)} DESC" for c in names)
        return (
            f"SELECT {columns} FROM {from_sql} WHERE {self.above(low)} AND "
            f"{quote_ident(self.cursor)} < {quote_literal(bound)}::timestamptz "
            f"ORDER BY {order} LIMIT 1"
        )


def safe_bound(source: DriverConnection, ref: TableRef) -> str:
    """The earliest start of a transaction open in the database now, or now (as timestamptz
    text). Run BEFORE the read's snapshot is taken: a transaction open at the snapshot is then
    either listed or started after this moment. Refused when the role cannot see every
    session's ``xact_start`` or a prepared transaction is pending."""
    rows = source.query(
        "SELECT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') "
        "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
        "(SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()), "
        "(SELECT least(statement_timestamp(), min(xact_start)) FROM pg_stat_activity "
        "WHERE datname = current_database())::text",
        what=f"finding the open transactions for the cursor of {ref}",
    )
    allowed, prepared, bound = rows[0]
    if not allowed:
        raise IncrementalStateError(
            f"{ref}: the cursor method needs to see when every open transaction started "
            "(pg_stat_activity.xact_start) and the role may not: GRANT pg_read_all_stats to it "
            "(on Aurora and RDS, rds_superuser has it), or use the snapshot method"
        )
    if prepared:
        raise IncrementalStateError(
            f"{ref}: {prepared} prepared transaction(s) are pending in the database, whose "
            "start is unknown, so no safe watermark exists: COMMIT PREPARED or ROLLBACK "
            "PREPARED them, or use the snapshot method"
        )
    return str(bound)


def cursor_columns(source: DriverConnection, ref: TableRef, cursor: str) -> CursorColumns:
    """The cursor's and the primary key's columns and types, checked: the cursor is a
    timestamp set from the clock, the table has a primary key (it orders equal cursor values).
    Warns nothing; an index leading with the cursor is reported by :func:`has_cursor_index`."""
    rows = source.query(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), "
        "COALESCE(array_position(i.indkey::int2[], a.attnum) + 1, 0) "  # indkey starts at 0
        "FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_index i "
        "ON i.indrelid = a.attrelid AND i.indisprimary "
        "WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped "
        "AND (a.attname = ? OR a.attnum = ANY (i.indkey::int2[]))",
        [ref.qualified_name, cursor],
        what=f"looking up the cursor column of {ref}",
    )
    found = {str(name): (str(kind), int(position)) for name, kind, position in rows}
    if cursor not in found:
        raise IncrementalStateError(f"{ref} has no column {cursor!r} to use as --cursor")
    kind = found[cursor][0]
    if kind not in CURSOR_TYPES:
        raise IncrementalStateError(
            f"--cursor {cursor}: the column is {kind}; the cursor method needs a timestamp set "
            "to the writing transaction's time (now()) on insert and update. Use the snapshot "
            "method (no --cursor) for other columns (docs/incremental.md)"
        )
    key = sorted((p, n) for n, (_, p) in found.items() if p > 0)
    if not key:
        raise IncrementalStateError(
            f"{ref} has no primary key: the cursor method orders rows with equal --cursor "
            "values by it. Add one, or use the snapshot method"
        )
    names = tuple(n for _, n in key)
    return CursorColumns(cursor, names, (kind, *(found[n][0] for n in names)))


def has_cursor_index(source: DriverConnection, ref: TableRef, cursor: str) -> bool:
    """Whether a valid, non-partial b-tree index leads with ``cursor`` (else every run scans)."""
    rows = source.query(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE i.indrelid = to_regclass(?) AND a.attname = ? AND i.indisvalid "
        "AND i.indpred IS NULL)",
        [ref.qualified_name, cursor],
        what=f"looking for an index on the cursor of {ref}",
    )
    return bool(rows[0][0])


def watermark_of(row: Optional[Sequence[object]]) -> Optional[Watermark]:
    """A watermark query's row as text values (None: no row)."""
    return None if row is None else tuple(str(v) for v in row)
