"""What the catalog says about a source's columns: :func:`describe_source` (a table, view or
query) and :func:`describe_relations` (many tables in one round trip) return each column as a
:class:`~spark_jobs.read.types.PgColumn` with its base type, domains resolved, array element and
type modifier, for the type policy to plan.

Every function takes ``run_query(sql, params) -> rows`` (a driver connection, or a test double).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from connectors.errors import TypePolicyError
from connectors.jdbc import quote_literal
from spark_jobs.read.types import PgColumn

RunQuery = Callable[[str, Sequence[Any]], List[Tuple[Any, ...]]]
"""``run_query(sql, params) -> rows``: how planning code runs catalog SQL."""

# Built-in types that look like arrays in pg_type (category A) but are read as text.
_VECTOR_TYPES = frozenset({"int2vector", "oidvector"})


# A string column's filters (``PgColumn.string_filter``): ranges only where PostgreSQL orders its
# strings as Spark does, by their UTF-8 bytes: a collation that compares bytes (libc "C"/"POSIX",
# any of PostgreSQL 17's builtin provider: code point order), or the database's default
# collation when that is one (``datcollate`` of a libc default, any builtin default), in an
# encoding whose bytes keep code point order (UTF8, LATIN1, SQL_ASCII). Catalog columns that
# older servers lack are read through ``to_jsonb``.
_COLUMNS_OF_TABLES = """
WITH db AS (
    SELECT pg_catalog.pg_encoding_to_char(d.encoding) IN ('UTF8', 'LATIN1', 'SQL_ASCII')
               AS keeps_order,
           CASE coalesce(to_jsonb(d) ->> 'datlocprovider', 'c')
               WHEN 'c' THEN d.datcollate IN ('C', 'POSIX')
               WHEN 'b' THEN true
               ELSE false END AS default_sorts_bytes
    FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()
)
SELECT a.attrelid::int8, a.attname::text, a.atttypid::int8, a.atttypmod::int8, a.attndims::int8,
    CASE WHEN co.oid IS NULL THEN 'none'
         WHEN coalesce(db.keeps_order, false) AND (
              (co.collprovider = 'c' AND to_jsonb(co) ->> 'collcollate' IN ('C', 'POSIX'))
              OR co.collprovider = 'b'
              OR (co.collprovider = 'd' AND db.default_sorts_bytes))
         THEN 'ordering'
         WHEN coalesce((to_jsonb(co) ->> 'collisdeterministic')::bool, true) THEN 'equality'
         ELSE 'none' END
FROM pg_catalog.pg_attribute a
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN db ON true
WHERE a.attrelid = ANY({oids}::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_TYPE_CLOSURE = """
WITH RECURSIVE closure(oid) AS (
    SELECT unnest({oids}::oid[])
    UNION
    SELECT x.next
    FROM closure c
    JOIN pg_catalog.pg_type t ON t.oid = c.oid
    CROSS JOIN LATERAL (VALUES (t.typbasetype), (t.typelem)) AS x(next)
    WHERE x.next <> 0
)
SELECT t.oid::int8, t.typname::text, n.nspname::text, t.typtype::text, t.typcategory::text,
       t.typelem::int8, t.typbasetype::int8, t.typtypmod::int8, t.typlen::int8,
       pg_catalog.format_type(t.oid, NULL),
       pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.proname)
FROM closure c
JOIN pg_catalog.pg_type t ON t.oid = c.oid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_proc p ON p.oid = t.typoutput
LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
"""


@dataclass(frozen=True)
class _TypeRow:
    oid: int
    name: str
    schema: str
    typtype: str
    category: str
    elem: int
    basetype: int
    typtypmod: int
    typlen: int
    formatted: str
    output: Optional[str]


_RawColumn = Tuple[str, int, int, int, str]  # name, type oid, typmod, ndims, string filter


def describe_source(
    run_query: RunQuery, source_sql: str, *, query_typmods: Optional[Sequence[int]] = None
) -> List[PgColumn]:
    """The columns of ``source_sql``: a table ``'"schema"."table"'`` or a query ``'(select ...) q'``.

    Tables (also views, materialized views, foreign tables) come from ``pg_attribute`` in
    ``attnum`` order, without dropped or system columns. Queries are described by a one-row probe
    that joins them ``ON false`` (PostgreSQL plans the query but never runs it), so a read-only
    connection or a hot standby works; type modifiers are not visible that way: pass the query's
    column typmods (``query_typmods``, e.g. from pgjdbc's result metadata), else a ``numeric``
    query column is planned as unconstrained (exact text).

    ``run_query(sql, params)`` runs one statement and returns its rows; this function passes no
    parameters (literals are quoted inline), so callers need not translate placeholder styles.
    """
    if source_sql.lstrip().startswith("("):
        raw = _describe_query(run_query, source_sql)
        if query_typmods is not None and len(query_typmods) == len(raw):
            raw = [(n, o, int(m), d, f) for (n, o, _, d, f), m in zip(raw, query_typmods)]
        return _resolved([raw], run_query)[0]
    return describe_relations(run_query, [_table_oid(run_query, source_sql)])[0]


def describe_relations(run_query: RunQuery, oids: Sequence[int]) -> List[List[PgColumn]]:
    """The columns of every relation (``pg_class`` oids), in order: ONE query for all their
    columns and one type closure over all their types."""
    if not oids:
        return []
    literal = quote_literal("{" + ",".join(str(int(o)) for o in oids) + "}")
    by_oid: Dict[int, List[_RawColumn]] = {int(o): [] for o in oids}
    for relid, n, o, m, d, f in run_query(_COLUMNS_OF_TABLES.format(oids=literal), []):
        by_oid[int(relid)].append((str(n), int(o), int(m), int(d), str(f)))
    return _resolved([by_oid[int(o)] for o in oids], run_query)


def _resolved(raws: Sequence[List[_RawColumn]], run_query: RunQuery) -> List[List[PgColumn]]:
    """Raw columns with their types resolved by one type closure (none without columns)."""
    oids = {row[1] for raw in raws for row in raw}
    types = _type_closure(run_query, oids) if oids else {}
    return [[_column(*row, types=types) for row in raw] for raw in raws]


def _table_oid(run_query: RunQuery, table_sql: str) -> int:
    found = run_query(f"SELECT pg_catalog.to_regclass({quote_literal(table_sql)})::oid::int8", [])
    if not found or found[0][0] is None:
        raise TypePolicyError(
            f"table {table_sql} does not exist or is not visible to this user: check the schema "
            "and table names (they are case-sensitive once quoted) and the user's USAGE/SELECT grants"
        )
    return int(found[0][0])


def _describe_query(run_query: RunQuery, query_sql: str) -> List[_RawColumn]:
    # One row whatever the query returns, and the query itself is never executed.
    probe = (
        f"SELECT * FROM (SELECT 1 AS _sparkpg_probe) AS _sparkpg_one LEFT JOIN {query_sql} ON false"
    )
    rows = run_query(f"SELECT row_to_json(_sparkpg_row)::text FROM ({probe}) AS _sparkpg_row", [])
    if len(rows) != 1 or rows[0][0] is None:
        raise TypePolicyError(
            f"could not describe the query {query_sql!r}: the probe returned no row"
        )
    # json (not jsonb) keeps the column order and duplicate names; the first key is the probe's.
    names = [str(key) for key, _ in json.loads(str(rows[0][0]), object_pairs_hook=list)][1:]
    if not names:
        return []
    aliases = ", ".join(f"c{i}" for i in range(len(names) + 1))
    typeofs = ", ".join(f"pg_catalog.pg_typeof(c{i})::oid::int8" for i in range(1, len(names) + 1))
    type_rows = run_query(f"SELECT {typeofs} FROM ({probe}) AS _sparkpg_row({aliases})", [])
    # A query column's collation is not visible: no string filter is pushed into it.
    return [(name, int(oid), -1, 0, "none") for name, oid in zip(names, type_rows[0])]


def _type_closure(run_query: RunQuery, oids: Iterable[int]) -> Dict[int, _TypeRow]:
    literal = quote_literal("{" + ",".join(str(o) for o in sorted(oids)) + "}")
    rows = run_query(_TYPE_CLOSURE.format(oids=literal), [])
    return {
        int(r[0]): _TypeRow(
            oid=int(r[0]),
            name=str(r[1]),
            schema=str(r[2]),
            typtype=str(r[3]),
            category=str(r[4]),
            elem=int(r[5]),
            basetype=int(r[6]),
            typtypmod=int(r[7]),
            typlen=int(r[8]),
            formatted=str(r[9]),
            output=None if r[10] is None else str(r[10]),
        )
        for r in rows
    }


def _resolve_domain(oid: int, typmod: int, types: Dict[int, _TypeRow]) -> Tuple[_TypeRow, int]:
    """Follow domains down to the base type; the first typmod found on the way wins."""
    row = types[oid]
    while row.typtype == "d":
        if typmod < 0:
            typmod = row.typtypmod
        row = types[row.basetype]
    return row, typmod


def _is_array(row: _TypeRow) -> bool:
    return (
        row.category == "A"
        and row.elem != 0
        and row.typlen == -1
        and not (row.schema == "pg_catalog" and row.name in _VECTOR_TYPES)
    )


def _column(
    name: str, oid: int, typmod: int, ndims: int, string_filter: str, *, types: Dict[int, _TypeRow]
) -> PgColumn:
    declared = types[oid]
    base, base_typmod = _resolve_domain(oid, typmod, types)
    element: Optional[_TypeRow] = None
    element_is_domain = False
    if _is_array(base):
        element_is_domain = types[base.elem].typtype == "d"
        element, base_typmod = _resolve_domain(base.elem, base_typmod, types)
    return PgColumn(
        name=name,
        formatted_type=declared.formatted if typmod < 0 else _format_with_typmod(declared, typmod),
        base_type=base.name,
        base_schema=base.schema,
        base_typmod=base_typmod,
        typtype=base.typtype,
        typcategory=base.category,
        domain=declared.formatted if declared.typtype == "d" else None,
        element_type=element.name if element else None,
        element_schema=element.schema if element else None,
        element_typtype=element.typtype if element else None,
        element_is_domain=element_is_domain,
        dimensions=ndims,
        type_oid=oid,
        string_filter=string_filter,
        output_function=base.output,
    )


def _format_with_typmod(row: _TypeRow, typmod: int) -> str:
    # format_type(oid, typmod) without another round trip, for the common modifiers.
    if row.schema == "pg_catalog":
        if row.name in ("numeric", "_numeric") and typmod >= 4:
            p, s = ((typmod - 4) >> 16) & 0xFFFF, (((typmod - 4) & 0x7FF) ^ 1024) - 1024
            return row.formatted.replace("numeric", f"numeric({p},{s})", 1)
        if row.name in ("varchar", "bpchar", "_varchar", "_bpchar") and typmod >= 4:
            word = row.formatted.split("[")[0]
            return row.formatted.replace(word, f"{word}({typmod - 4})", 1)
        if row.name in ("bit", "varbit", "_bit", "_varbit"):
            word = row.formatted.split("[")[0]
            return row.formatted.replace(word, f"{word}({typmod})", 1)
        if row.name.lstrip("_") in ("timestamp", "timestamptz", "time", "timetz") and typmod >= 0:
            return f"{row.formatted} ({typmod})"
    return row.formatted
