"""Catalog lookups for planning a read: the relation, its size, key candidates, bounds, pg_stats.

:func:`gather_tables_facts` / :func:`gather_query_facts` collect everything planning needs in one
step (a :class:`CatalogFacts`); the other functions are its parts.

Every function takes ``run_query(sql, params) -> rows`` (a :class:`spark_jobs.db.connection.DriverConnection`
or anything with that shape), so these are tested against a real server without Spark too.
Queries are cheap: catalog rows, one ``min``/``max`` (index-assisted for indexed keys), ``pg_stats``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

from connectors.errors import (
    ColumnNotFoundError,
    MaterializedViewNotPopulatedError,
    PartitioningError,
    TableNotFoundError,
)
from connectors.jdbc import TableRef, quote_ident, quote_literal
from spark_jobs.read.describe import RunQuery, describe_relations, describe_source
from spark_jobs.read.facts import (
    KeyBounds,
    KeyCandidate,
    KeyDistribution,
    KeyFacts,
    PlanLimits,
    RelationStats,
    SourceFacts,
)
from spark_jobs.read.partitioning import PartitionOverrides, split_key
from spark_jobs.read.types import PgColumn

if TYPE_CHECKING:
    from spark_jobs.db.connection import DriverConnection


READABLE_KINDS = ("r", "p", "v", "m", "f")
_KIND_OF_TYPE = {
    "smallint": "integer",
    "integer": "integer",
    "bigint": "integer",
    "date": "date",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
}
_ARRAY_TYPE = {
    "integer": "bigint[]",
    "date": "date[]",
    "timestamp": "timestamp[]",
    "timestamptz": "timestamptz[]",
}
# pgjdbc / ResultSetMetaData type names (``describe``) of the same types.
_KIND_OF_JDBC_TYPE = {
    "int2": "integer",
    "int4": "integer",
    "int8": "integer",
    "serial": "integer",
    "bigserial": "integer",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
}


@dataclass(frozen=True)
class Relation:
    """A table, view, materialized view or foreign table found in the catalog."""

    ref: TableRef
    oid: int
    stats: RelationStats

    @property
    def kind(self) -> str:
        """``pg_class.relkind``."""
        return self.stats.kind


_PARTITION_TREE = (
    "(WITH RECURSIVE tree(relid) AS (SELECT c.oid UNION ALL SELECT i.inhrelid "
    "FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.relid) "
    "SELECT coalesce({agg}(pg_relation_size(relid)), 0)::bigint FROM tree)"
)


def find_relations(run_query: RunQuery, refs: Sequence[TableRef]) -> List[Relation]:
    """Look every ref up in ``pg_class`` in ONE query, in order; the first ref not found raises
    :class:`TableNotFoundError` with close matches."""
    if not refs:
        return []
    wanted = ", ".join(
        f"({i}, {quote_literal(ref.schema)}, {quote_literal(ref.table)})"
        for i, ref in enumerate(refs)
    )
    rows = run_query(
        "SELECT w.i, c.oid::bigint, c.relkind::text, "
        "CASE WHEN c.relkind IN ('r', 'm') THEN pg_relation_size(c.oid) END, "
        "current_setting('block_size')::bigint, c.reltuples::float8, c.relispopulated, "
        f"CASE WHEN c.relkind = 'p' THEN {_PARTITION_TREE.format(agg='sum')} END, "
        f"CASE WHEN c.relkind = 'p' THEN {_PARTITION_TREE.format(agg='max')} END, "
        "CASE WHEN c.relkind IN ('r', 'm') THEN pg_relation_filenode(c.oid)::bigint END "
        f"FROM (VALUES {wanted}) AS w(i, nspname, relname) "
        "JOIN pg_catalog.pg_namespace n ON n.nspname = w.nspname "
        "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.relname "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
        [],
    )
    found = {int(row[0]): row[1:] for row in rows}
    return [_relation(run_query, ref, found.get(i)) for i, ref in enumerate(refs)]


def _relation(run_query: RunQuery, ref: TableRef, row: Optional[Tuple[Any, ...]]) -> Relation:
    if row is None:
        raise TableNotFoundError(_not_found_message(run_query, ref))
    oid, kind, size, block_size, reltuples, populated, tree_size, tree_largest, filenode = row
    if kind == "m" and not populated:
        raise MaterializedViewNotPopulatedError(
            f"materialized view {ref} has never been populated (it was created WITH NO DATA or "
            "its last refresh failed), so PostgreSQL cannot read it: run REFRESH MATERIALIZED "
            f"VIEW {ref.qualified_name} (as its owner), then read it again",
            sqlstate="55000",
        )
    pages: Optional[int] = None
    if kind == "p":
        size = tree_size
        pages = -(-int(tree_largest) // int(block_size))
    elif size is not None:
        pages = -(-int(size) // int(block_size))
    estimated = int(reltuples) if reltuples is not None and reltuples >= 0 else None
    stats = RelationStats(
        kind=str(kind),
        size_bytes=int(size) if size is not None else None,
        pages=pages,
        estimated_rows=estimated,
        storage=(int(oid), int(filenode)) if filenode is not None else None,
    )
    return Relation(ref=ref, oid=int(oid), stats=stats)


def _not_found_message(run_query: RunQuery, ref: TableRef) -> str:
    rows = run_query(
        "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
        "ORDER BY 1, 2 LIMIT 20000",
        [],
    )
    wanted = f"{ref.schema}.{ref.table}"
    names = {f"{schema}.{table}": TableRef(ref.connection, schema, table) for schema, table in rows}
    exact_ci = [name for name in names if name.lower() == wanted.lower()]
    close = exact_ci + [
        name
        for name in difflib.get_close_matches(wanted, list(names), n=5, cutoff=0.6)
        if name not in exact_ci
    ]
    same_table = [name for name, r in names.items() if r.table.lower() == ref.table.lower()]
    close += [name for name in same_table if name not in close]
    schemas = {schema for schema, _ in rows}
    text = f"table {ref} not found"
    if ref.schema not in schemas:
        text += f" (connection {ref.connection!r} has no visible schema {ref.schema!r})"
    if close:
        text += "; did you mean: " + ", ".join(str(names[name]) for name in close[:5])
    else:
        text += f"; {len(names)} table(s) are visible to this user"
    if exact_ci:
        found = names[exact_ci[0]]
        return (
            f"{text}. Names match exactly as stored, case included (unlike unquoted SQL, which "
            f"folds them to lower case): write {found}"
        )
    return f"{text}. Names match exactly as stored, case included"


def key_candidates(run_query: RunQuery, relation: Relation) -> List[KeyCandidate]:
    """Integer, date and timestamp columns that lead a valid, non-partial b-tree index:
    primary key first, then unique indexes, then other indexes (NOT NULL columns first)."""
    return key_candidates_of(run_query, [relation])[0]


def key_candidates_of(
    run_query: RunQuery, relations: Sequence[Relation]
) -> List[List[KeyCandidate]]:
    """:func:`key_candidates` of every relation, in ONE query, in order."""
    if not relations:
        return []
    wanted = ", ".join(
        f"({i}, {int(r.oid)}::oid, {quote_literal(r.ref.schema)}, {quote_literal(r.ref.table)}, "
        f"{'true' if r.kind == 'p' else 'false'})"
        for i, r in enumerate(relations)
    )
    rows = run_query(
        "SELECT DISTINCT ON (w.i, a.attnum) w.i, a.attname::text, format_type(a.atttypid, NULL), "
        "CASE WHEN i.indisprimary THEN 'primary key' WHEN i.indisunique THEN 'unique index' "
        "ELSE 'index' END, s.correlation::float8, "
        "(CASE WHEN i.indisprimary THEN 0 WHEN i.indisunique THEN 1 ELSE 2 END) AS rank, "
        "a.attnotnull, a.attnum "
        f"FROM (VALUES {wanted}) AS w(i, relid, nspname, relname, inherited) "
        "JOIN pg_catalog.pg_index i ON i.indrelid = w.relid "
        "JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
        "JOIN pg_catalog.pg_am am ON am.oid = ic.relam AND am.amname = 'btree' "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "LEFT JOIN pg_catalog.pg_stats s ON s.schemaname = w.nspname AND s.tablename = w.relname "
        "AND s.attname = a.attname AND s.inherited = w.inherited "
        "WHERE i.indisvalid AND i.indpred IS NULL "
        "AND NOT a.attisdropped AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, "
        "'int8'::regtype, 'date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype) "
        "ORDER BY w.i, a.attnum, rank",
        [],
    )
    by_relation: List[List[Tuple[Any, ...]]] = [[] for _ in relations]
    for row in rows:
        by_relation[int(row[0])].append(row[1:])
    return [
        [
            KeyCandidate(
                column=str(name),
                kind=_KIND_OF_TYPE[str(type_name)],
                index=str(index),
                correlation=None if corr is None else float(corr),
                not_null=bool(not_null),
            )
            for name, type_name, index, corr, _rank, not_null, _attnum in sorted(
                found, key=lambda r: (r[4], not r[5], r[6])
            )
        ]
        for found in by_relation
    ]


def column_key(run_query: RunQuery, relation: Relation, column: str) -> KeyCandidate:
    """``column`` as a partition key (the user named it): its kind and the index it leads, if any."""
    for candidate in key_candidates(run_query, relation):
        if candidate.column == column:
            return candidate
    rows = run_query(
        "SELECT format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a "
        "WHERE a.attrelid = ?::text::oid AND a.attname = ?::text AND a.attnum > 0 "
        "AND NOT a.attisdropped",
        [str(relation.oid), column],
    )
    if not rows:
        raise ColumnNotFoundError(
            f"partition key column {column!r} does not exist in {relation.ref}"
            + _close_columns(run_query, relation, column)
        )
    type_name = str(rows[0][0])
    if type_name not in _KIND_OF_TYPE:
        raise PartitioningError(
            f"partition key column {column!r} of {relation.ref} has type {type_name}; a key must "
            "be smallint, integer, bigint, date, timestamp or timestamptz"
        )
    return KeyCandidate(column=column, kind=_KIND_OF_TYPE[type_name], index=None)


def query_column_key(columns: Sequence[Tuple[str, str]], column: str, what: str) -> KeyCandidate:
    """``column`` of a query's result (names and pgjdbc type names) as a partition key."""
    for name, type_name in columns:
        if name == column:
            kind = _KIND_OF_JDBC_TYPE.get(type_name.lower())
            if kind is None:
                raise PartitioningError(
                    f"partition key column {column!r} of {what} has type {type_name}; a key "
                    "must be smallint, integer, bigint, date, timestamp or timestamptz"
                )
            return KeyCandidate(column=column, kind=kind, index="query column")
    names = [name for name, _ in columns]
    close = difflib.get_close_matches(column, names, n=3)
    hint = f"; did you mean {', '.join(close)}" if close else f"; columns: {', '.join(names)}"
    raise ColumnNotFoundError(f"{what} has no column {column!r}{hint}")


def _close_columns(run_query: RunQuery, relation: Relation, column: str) -> str:
    rows = run_query(
        "SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = ?::text::oid "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [str(relation.oid)],
    )
    names = [str(r[0]) for r in rows]
    close = difflib.get_close_matches(column, names, n=3)
    return f"; did you mean {', '.join(close)}?" if close else f"; columns: {', '.join(names)}"


def _ordinal_sql(expr: str, kind: str) -> str:
    if kind == "integer":
        return f"({expr})::bigint"
    if kind == "date":
        return f"(({expr}) - DATE '1970-01-01')"
    return f"floor(extract(epoch FROM ({expr})) * 1000000)::bigint"


def _finite_sql(expr: str, kind: str) -> str:
    return "true" if kind == "integer" else f"isfinite({expr})"


def key_bounds(run_query: RunQuery, source_sql: str, key: KeyCandidate) -> Optional[KeyBounds]:
    """Smallest and largest finite value of the key, as ordinals, in ONE query (None: no values).

    ``source_sql`` is a quoted table name or a parenthesised, aliased subquery.
    """
    col = quote_ident(key.column)
    rows = run_query(
        f"SELECT {_ordinal_sql('lo', key.kind)}, {_ordinal_sql('hi', key.kind)} "
        f"FROM (SELECT min({col}) AS lo, max({col}) AS hi FROM {source_sql} "
        f"WHERE {_finite_sql(col, key.kind)}) AS b",
        [],
    )
    if not rows or rows[0][0] is None:
        return None
    return KeyBounds(int(rows[0][0]), int(rows[0][1]))


def key_distribution(
    run_query: RunQuery, relation: Relation, key: KeyCandidate
) -> Optional[KeyDistribution]:
    """The key's ``pg_stats`` (null fraction, histogram, most common values) as ordinals, or None
    when the table was never analyzed."""
    array = _ARRAY_TYPE[key.kind]
    rows = run_query(
        "SELECT s.null_frac::float8, "
        f"array_to_string(ARRAY(SELECT {_ordinal_sql('v', key.kind)} "
        f"FROM unnest(s.histogram_bounds::text::{array}) AS h(v) "
        f"WHERE {_finite_sql('v', key.kind)}), ','), "
        f"array_to_string(ARRAY(SELECT {_ordinal_sql('v', key.kind)} || ':' || f "
        f"FROM unnest(s.most_common_vals::text::{array}, s.most_common_freqs) AS m(v, f) "
        f"WHERE {_finite_sql('v', key.kind)}), ',') "
        "FROM pg_catalog.pg_stats s WHERE s.schemaname = ?::text AND s.tablename = ?::text "
        "AND s.attname = ?::text AND s.inherited = ?::boolean",
        [relation.ref.schema, relation.ref.table, key.column, relation.kind == "p"],
    )
    if not rows:
        return None
    null_frac, histogram, common = rows[0]
    hist = tuple(int(v) for v in str(histogram or "").split(",") if v)
    mcv: List[Tuple[int, float]] = []
    for item in str(common or "").split(","):
        if item:
            value, freq = item.rsplit(":", 1)
            mcv.append((int(value), float(freq)))
    return KeyDistribution(float(null_frac or 0.0), hist, tuple(mcv))


def is_in_recovery(run_query: RunQuery) -> bool:
    """True on a hot standby (a read replica)."""
    return bool(run_query("SELECT pg_is_in_recovery()", [])[0][0])


# --- one step: every fact a plan needs ------------------------------------------------------------


@dataclass(frozen=True)
class CatalogFacts:
    """What the catalog says about one source of a read: how to name it in SQL, its columns
    (types resolved) and the partitioning facts."""

    what: str
    """The source in messages: ``table aurora.public.orders`` or ``query on connection 'x'``."""
    from_sql: str
    """A quoted table name or a parenthesised, aliased subquery."""
    columns: Tuple[PgColumn, ...]
    partition: SourceFacts


def gather_tables_facts(
    run_query: RunQuery, refs: Sequence[TableRef], overrides: PartitionOverrides, limits: PlanLimits
) -> List[CatalogFacts]:
    """Every ref's relation, statistics, key candidates, columns and (for the key a split will
    use) bounds and ``pg_stats``, in order, with a constant number of catalog queries (relations,
    key candidates, columns, type closure); only tables big enough to split add their key's
    bounds and ``pg_stats``."""
    relations = find_relations(run_query, refs)
    if overrides.key_column is not None:
        key_column = overrides.key_column
        candidate_lists = [[column_key(run_query, r, key_column)] for r in relations]
    else:
        candidate_lists = key_candidates_of(run_query, relations)
    columns = describe_relations(run_query, [r.oid for r in relations])
    facts = []
    for relation, candidates, described in zip(relations, candidate_lists, columns):
        from_sql = relation.ref.qualified_name
        key_facts = _key_facts(run_query, from_sql, relation, candidates, overrides, limits)
        facts.append(
            CatalogFacts(
                what=f"table {relation.ref}",
                from_sql=from_sql,
                columns=tuple(described),
                partition=SourceFacts(relation.stats, tuple(candidates), key_facts),
            )
        )
    return facts


def gather_query_facts(
    source: DriverConnection,
    from_sql: str,
    what: str,
    overrides: PartitionOverrides,
    limits: PlanLimits,
) -> CatalogFacts:
    """The columns of a query (names, types, numeric typmods from pgjdbc's result metadata) and,
    when the user names a key column, its bounds."""
    result = source.result_columns(f"SELECT * FROM {from_sql}", what=what)
    candidates: List[KeyCandidate] = []
    if overrides.key_column is not None:
        described = [(c.name, c.type_name) for c in result]
        candidates = [query_column_key(described, overrides.key_column, what)]
    stats = RelationStats("query")
    key_facts = _key_facts(source, from_sql, None, candidates, overrides, limits)
    columns = describe_source(source, from_sql, query_typmods=[c.typmod for c in result])
    return CatalogFacts(
        what=what,
        from_sql=from_sql,
        columns=tuple(columns),
        partition=SourceFacts(stats, tuple(candidates), key_facts),
    )


def _key_facts(
    run_query: RunQuery,
    from_sql: str,
    relation: Optional[Relation],
    candidates: Sequence[KeyCandidate],
    overrides: PartitionOverrides,
    limits: PlanLimits,
) -> Optional[KeyFacts]:
    stats = relation.stats if relation is not None else RelationStats("query")
    key = split_key(stats, candidates, overrides, limits)
    if key is None:
        return None
    user_bounds = overrides.lower_bound is not None or overrides.upper_bound is not None
    bounds = None
    if overrides.lower_bound is None or overrides.upper_bound is None:
        bounds = key_bounds(run_query, from_sql, key)
    distribution = None
    if relation is not None and not user_bounds:
        distribution = key_distribution(run_query, relation, key)
    return KeyFacts(key, bounds, distribution)
