"""Differential fuzz of the COPY engine's pushdown: generated tables (``pushdown_fuzz.py``) and
generated DataFrame queries, each answered twice, pushed and not, and compared exactly (rows,
schema, or the error Spark raises).

* **Pushed**: the table read through the engine with every pushdown on (filters, aggregates,
  top-N, limit, offset, sample), the query applied to it.
* **Not pushed**: the same read with the four switches off (``OFF``) and checkpointed
  (``localCheckpoint``: Spark keeps the rows and forgets the source), the query applied to the
  checkpoint; the engine has no switch for filter pushdown, so this is how the reference
  evaluates the filters in Spark too.
* **Sampled**: ``df.sample(0.6, 17)`` and a query, against a checkpoint of the same sample
  pushed alone (PostgreSQL's ``BERNOULLI ... REPEATABLE`` keeps the same rows whatever else is
  pushed; Spark's own sampler would keep others).

Both sides read the same partitions (one; three by id ranges, where groups span partitions and
aggregates are pushed partially; three by ``g``, where a ``groupBy("g")`` is complete, with
Spark's ANSI mode on; two by the date ``d``, whose infinities sit in both) in the same row order
(the tables have no index: every read is a sequential scan).

Comparison: the schema exactly (names, types, decimal precision and scale, nullability); rows as
multisets, in order where the query orders totally (every order ends with the unique id; an
offset without an order keeps the read's order), and as a subset of the unlimited answer for a
``limit`` without an order; a failure by Spark's error class. Dates and timestamps are compared
as Spark's integers (days, microseconds), so years after 9999 compare too. Floats compare
exactly: NaN equals NaN, and **-0.0 and 0.0 are different values**. Spark itself normalizes
-0.0 to 0.0 where it compares values as keys (group keys, DISTINCT), so its output there carries
no sign to hide; everywhere else the sign in Spark's answer is a fact of the rows read (a
selected value, the first of equal values a MIN keeps in the order it reads, a sum's order of
addition), which both sides read in the same order. A pushed MIN/MAX or GROUP BY that returned
the other zero would be a real difference, as the one fixed in ``AggregateSql`` (MIN/MAX of
floats stay in Spark) was.

Deterministic: fixed seeds; a failure prints the table (``table_sql(generate_tables(seed)[i])``
rebuilds it), the partitioning, the query's seed and index and its PySpark line. Bounded: 442
queries, about 1.5 minutes on two quiet cores (2.5 under another job's load).
``SPARKPG_FUZZ_SEED`` / ``SPARKPG_FUZZ_SCALE`` run other seeds and more queries by hand. The last
test checks that the fuzz pushed each kind of pushdown often enough, so a pushdown that silently
stopped working fails here too.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple
from unittest import mock

import psycopg
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, TimestampType

from spark_jobs.read.describe import describe_source

from .conftest import EngineDb
from .pushdown_fuzz import (
    NOCASE_COLLATION,
    PARTITIONINGS,
    TYPES_SQL,
    Partitioning,
    Query,
    Step,
    Table,
    generate_queries,
    generate_tables,
    partitionings,
    table_sql,
)

#: the fixed seed; ``SPARKPG_FUZZ_SEED`` and ``SPARKPG_FUZZ_SCALE`` (a factor on the number of
#: queries) explore further by hand, the suite runs the defaults
SEED = int(os.environ.get("SPARKPG_FUZZ_SEED", "20261207"))
SCALE = float(os.environ.get("SPARKPG_FUZZ_SCALE", "1"))
#: queries per (table, partitioning); the empty table gets fewer
QUERIES = {
    name: max(1, int(n * SCALE))
    for name, n in {"fz_wide": 50, "fz_dupes": 40, "fz_empty": 8}.items()
}
#: samples (fraction, seed) pushed on both sides: PostgreSQL's BERNOULLI ... REPEATABLE keeps
#: the same rows whatever else the query pushes
SAMPLE = (0.6, 17)
QUERIES_SAMPLED = max(1, int(25 * SCALE))
ANSI_PARTITIONING = "by_g"
ERROR_CLASS = re.compile(r"\[[A-Z][A-Z_]+(?:\.[A-Z_]+)?\]")
TASK_ERROR = re.compile(r"(?<=executor driver\): )[\w.$]+: [^\n]*")
OFF = {"Aggregate": False, "TopN": False, "Offset": False, "TableSample": False}
#: at least this many of the 442 queries must push each kind (the default seed pushes filters
#: in 237, aggregates in 22 complete and 37 partial, 34 with a GROUP BY, 40 top-N, 7 offsets,
#: 27 limits, 46 samples); a pushdown that silently declines everything fails the last test
MINIMUM_PUSHED = {
    "filters": 150,
    "aggregate complete": 15,
    "aggregate partial": 18,
    "group by": 20,
    "top-N": 20,
    "offset": 3,
    "limit": 12,
    "sample": QUERIES_SAMPLED,  # of 2 * QUERIES_SAMPLED (some plans are optimized to no scan)
}


@dataclass
class Outcome:
    """What the fuzz found: the mismatches per (table, partitioning), and how many queries
    pushed each kind of pushdown."""

    failures: Dict[str, List[str]] = field(default_factory=dict)
    pushed: Counter[str] = field(default_factory=Counter)
    cases: int = 0


@pytest.fixture(scope="module")
def tables(engine_db: EngineDb) -> List[Table]:
    """The generated tables, created in the engine's database (``ci`` only with ICU)."""
    [(icu,)] = engine_db.rows("SELECT count(*) > 0 FROM pg_collation WHERE collprovider = 'i'")
    if icu:
        engine_db.execute(NOCASE_COLLATION)
    engine_db.execute(TYPES_SQL)
    generated = generate_tables(SEED, icu=bool(icu))
    for t in generated:
        engine_db.execute(table_sql(t))
    return generated


def string_filters(db: EngineDb, t: Table) -> Dict[str, str]:
    """Which string filters the production planner allows per column (by collation)."""
    with psycopg.connect(db.conninfo, autocommit=True) as conn:

        def run(query: str, params: Sequence[Any]) -> List[Tuple[Any, ...]]:
            return [tuple(r) for r in conn.execute(query).fetchall()]

        return {c.name: c.string_filter for c in describe_source(run, f'"public"."{t.name}"')}


def read(
    spark: Any,
    db: EngineDb,
    t: Table,
    p: Partitioning,
    filters: Dict[str, str],
    *,
    on: bool,
    sample: bool = False,
) -> DataFrame:
    """``t`` through the engine: every pushdown ``on``, or none (``sample``: only TABLESAMPLE)."""
    df, _ = db.read(
        spark,
        f'"public"."{t.name}"',
        predicates=p.predicates,
        string_filters=filters,
        pushdown=None if on else {**OFF, "TableSample": sample},
        partition_column=p.column,
    )
    return df


def apply(steps: Sequence[Step], df: DataFrame) -> DataFrame:
    """The query's ``steps`` on ``df`` (what :meth:`Query.code` prints)."""
    for step in steps:
        name, args = step[0], step[1:]
        if name == "where":
            df = df.where(args[0])
        elif name == "select":
            df = df.select(*args)
        elif name == "distinct":
            df = df.distinct()
        elif name == "agg":
            df = df.groupBy(*args[0]).agg(*[F.expr(a) for a in args[1]])
        elif name == "orderBy":
            df = df.orderBy(*[sort_column(o) for o in args])
        elif name == "offset":
            df = df.offset(args[0])
        elif name == "limit":
            df = df.limit(args[0])
        elif name == "sample":
            df = df.sample(fraction=args[0], seed=args[1])
        else:
            raise AssertionError(f"unknown step {step}")
    return df


def sort_column(order: Tuple[str, bool, bool]) -> Any:
    name, descending, nulls_first = order
    c = F.col(name)
    if descending:
        return c.desc_nulls_first() if nulls_first else c.desc_nulls_last()
    return c.asc_nulls_first() if nulls_first else c.asc_nulls_last()


def value(v: Any) -> Tuple[Any, ...]:
    """A value as a sortable tuple that compares exactly: NaN equals NaN, -0.0 is not 0.0,
    decimals keep their scale; dates and timestamps arrive as Spark's integers
    (:func:`raw_datetimes`)."""
    if v is None:
        return ("null",)
    if isinstance(v, float):
        return ("nan",) if math.isnan(v) else ("float", v, math.copysign(1.0, v))
    if isinstance(v, Decimal):
        return ("decimal", str(v))
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    return ("other", repr(v))


def rows_of(df: DataFrame) -> List[Tuple[Any, ...]]:
    with raw_datetimes():
        return [tuple(value(v) for v in r) for r in df.collect()]


class raw_datetimes:
    """Collect dates as days and timestamps as microseconds from 1970 (Python's dates end at
    9999; PostgreSQL's go to 5874897)."""

    def __enter__(self) -> None:
        self._patches = [
            mock.patch.object(DateType, "fromInternal", lambda self, v: v),
            mock.patch.object(TimestampType, "fromInternal", lambda self, v: v),
        ]
        for p in self._patches:
            p.start()

    def __exit__(self, *exc: Any) -> None:
        for p in self._patches:
            p.stop()


def pushed_kinds(df: DataFrame) -> List[str]:
    """The pushdowns in ``df``'s COPY scan (its description in the physical plan)."""
    leaves = df._jdf.queryExecution().sparkPlan().collectLeaves()
    text = " ".join(
        str(leaves.apply(i).scan().description())
        for i in range(leaves.size())
        if "BatchScan" in leaves.apply(i).nodeName()
    )
    kinds = []
    if "PushedFilters: [" in text and "PushedFilters: []" not in text:
        kinds.append("filters")
    if "PushedAggregates" in text:
        kinds.append("aggregate " + ("complete" if ", complete" in text else "partial"))
        if "PushedGroupBy: []" not in text:
            kinds.append("group by")
    if "PushedTopN" in text:
        kinds.append("top-N")
    elif "PushedLimit" in text:
        kinds.append("limit")
    if "PushedOffset" in text:
        kinds.append("offset")
    if "PushedSample" in text:
        kinds.append("sample")
    return kinds


@dataclass
class Answer:
    """One side's answer: its schema and rows, or Spark's error class (``[CAST_INVALID_INPUT]``,
    or the exception of a failed task), and the pushdowns in its plan."""

    schema: Any = None
    rows: Optional[List[Tuple[Any, ...]]] = None
    error: str = ""
    kinds: List[str] = field(default_factory=list)
    size: Optional[int] = None  # only the number of rows is known (rows is empty)


def answer(steps: Sequence[Step], df: DataFrame, *, plan: bool = False) -> Answer:
    """``steps`` on ``df``, planned (``plan``: noting what was pushed) and collected."""
    out = Answer()
    try:
        result = apply(steps, df)
        if plan:
            out.kinds = pushed_kinds(result)
        out.schema = result.schema
        out.rows = rows_of(result)
    except Exception as exc:  # both sides must fail alike
        text = str(exc)
        found = ERROR_CLASS.search(text) or TASK_ERROR.search(text)
        out.error = found.group(0) if found else f"{type(exc).__name__}: {text[:600]}"
    return out


def compare(q: Query, pushed: Answer, plain: Answer) -> Optional[str]:
    """None when ``pushed`` answers ``q`` as ``plain`` does (or fails as it fails, as Spark's
    ANSI arithmetic does on an overflow), else what differs; for a ``subset`` query ``plain``
    is the answer without its last limit (a limit without an order keeps any rows of it), or
    only its ``size`` when that answer fails where the limited one does not."""
    if pushed.rows is None or plain.rows is None:
        if pushed.error == plain.error:
            return None
        return f"errors differ: pushed {pushed.error or 'none'}, not {plain.error or 'none'}"
    if pushed.schema != plain.schema:
        return f"schemas differ:\n  pushed {pushed.schema.simpleString()}\n" + (
            f"  plain  {plain.schema.simpleString()}\n"
            f"  nullable {[f.nullable for f in pushed.schema]} vs "
            f"{[f.nullable for f in plain.schema]}"
        )
    got, want = pushed.rows, plain.rows
    if q.subset:
        size = min(len(want), q.limit) if plain.size is None else plain.size
        if len(got) == size and (plain.size is not None or not Counter(got) - Counter(want)):
            return None
        return f"{len(got)} rows (want {size}) not all in the unlimited answer: {got[:8]}"
    if (got == want) if q.ordered else (sorted(got) == sorted(want)):
        return None
    extra = list((Counter(got) - Counter(want)).elements())[:5]
    missing = list((Counter(want) - Counter(got)).elements())[:5]
    return (
        f"rows differ ({len(got)} pushed, {len(want)} not; ordered={q.ordered}):\n"
        f"  only pushed: {extra}\n  only not pushed: {missing}"
        + (f"\n  pushed: {got[:8]}\n  not:    {want[:8]}" if not extra and not missing else "")
    )


@pytest.fixture(scope="module")
def outcome(spark: Any, engine_db: EngineDb, tables: List[Table]) -> Iterator[Outcome]:
    """Run every generated query on every table and partitioning, pushed and not (Spark's
    ANSI mode on for the partitioning by g, off for the others); then on samples of the wide
    table, pushed (TABLESAMPLE) on both sides."""
    previous = spark.conf.get("spark.sql.ansi.enabled")
    out = Outcome()
    try:
        for ti, t in enumerate(tables):
            filters = string_filters(engine_db, t)
            for pi, p in enumerate(partitionings(t)):
                ansi = p.name == ANSI_PARTITIONING
                spark.conf.set("spark.sql.ansi.enabled", str(ansi).lower())
                on = read(spark, engine_db, t, p, filters, on=True)
                reference = read(spark, engine_db, t, p, filters, on=False).localCheckpoint()
                seed = SEED * 100 + ti * 10 + pi
                queries = generate_queries(seed, t, QUERIES[t.name])
                where = (
                    f"table {t.name} = generate_tables({SEED}, icu={t.columns[-1].name == 'ci'})"
                    f"[{ti}] (table_sql), ansi {ansi}, partitions {list(p.predicates)} key "
                    f"{p.column}, generate_queries({seed}, table, {len(queries)})"
                )
                fuzz(out, f"{t.name}-{p.name}", where, queries, on, reference)
        spark.conf.set("spark.sql.ansi.enabled", "false")
        t = tables[0]
        filters = string_filters(engine_db, t)
        for pi, p in enumerate(partitionings(t)[:2]):
            on = read(spark, engine_db, t, p, filters, on=True)
            sampled = read(spark, engine_db, t, p, filters, on=False, sample=True).sample(*SAMPLE)
            assert "PushedSample" in str(sampled._jdf.queryExecution().sparkPlan())
            seed = SEED * 100 + 90 + pi
            queries = generate_queries(seed, t, QUERIES_SAMPLED)
            where = (
                f"table {t.name} = generate_tables({SEED}, ...)[0], partitions "
                f"{list(p.predicates)}, sampled, generate_queries({seed}, table, {len(queries)})"
            )
            prefix = (("sample", *SAMPLE),)
            fuzz(
                out,
                f"{t.name}-sample-{p.name}",
                where,
                queries,
                on,
                sampled.localCheckpoint(),
                prefix,
            )
        yield out
    finally:
        spark.conf.set("spark.sql.ansi.enabled", previous)


def fuzz(
    out: Outcome,
    key: str,
    where: str,
    queries: Sequence[Query],
    on: DataFrame,
    reference: DataFrame,
    prefix: Tuple[Step, ...] = (),
) -> None:
    """Each query's steps (after ``prefix``) on ``on``, compared with the same steps on
    ``reference`` (which has ``prefix`` applied already); mismatches under ``key``."""
    out.failures[key] = []
    for n, q in enumerate(queries):
        out.cases += 1
        pushed = answer((*prefix, *q.steps), on, plan=True)
        plain = answer(q.unlimited, reference)
        if q.subset and plain.rows is None:
            # Spark's limit may stop before the rows that fail (an ANSI overflow in a group):
            # then only the number of rows can be compared
            limited = answer(q.steps, reference)
            plain = Answer(limited.schema, None if limited.rows is None else [], limited.error)
            plain.size = None if limited.rows is None else len(limited.rows)
        elif q.subset:  # the limited answer's schema
            plain.schema = apply(q.steps, reference).schema
        out.pushed.update(pushed.kinds)
        problem = compare(q, pushed, plain)
        if problem:
            code = Query(q.kind, (*prefix, *q.steps)).code()
            out.failures[key].append(
                f"query #{n} of {where}:\n  {code}\n  {problem}\n  pushed: {pushed.kinds}"
            )


CASES = [f"{t}-{p}" for t in QUERIES for p in PARTITIONINGS] + [
    f"fz_wide-sample-{p}" for p in PARTITIONINGS[:2]
]


def test_string_columns_get_the_filters_of_their_collation(
    engine_db: EngineDb, tables: List[Table]
) -> None:
    """The fuzz reads string columns as the planner does: ranges only under a collation that
    orders bytes ("C", or the database's default when that is "C")."""
    filters = string_filters(engine_db, tables[0])
    [(default_c,)] = engine_db.rows(
        "SELECT datcollate IN ('C', 'POSIX') AND pg_encoding_to_char(encoding) = 'UTF8' "
        "AND coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' "
        "FROM pg_database d WHERE datname = current_database()"
    )
    default = "ordering" if default_c else "equality"
    icu = tables[0].columns[-1].name == "ci"
    assert [filters[c] for c in ("sc", "st", "sv", "sch", "nu")] == [
        "ordering", "equality" if icu else default, default, default, "none",
    ]  # fmt: skip
    assert filters.get("ci", "none") == "none"  # nondeterministic (ICU): no string filter


@pytest.mark.parametrize("case", CASES)
def test_pushed_queries_answer_as_spark_does(outcome: Outcome, case: str) -> None:
    failures = outcome.failures[case]
    assert not failures, f"{len(failures)} queries differ pushed:\n" + "\n".join(failures[:10])


def test_the_fuzz_pushes_every_kind_of_pushdown(outcome: Outcome) -> None:
    """A pushdown that silently stops (declines everything) fails here, not only in its own
    tests: each kind was pushed in at least ``MINIMUM_PUSHED`` of the generated queries."""
    print(f"{outcome.cases} queries; pushed: {dict(outcome.pushed)}")
    short = {
        k: outcome.pushed[k] for k, least in MINIMUM_PUSHED.items() if outcome.pushed[k] < least
    }
    assert not short, f"pushed too rarely: {short} (all: {dict(outcome.pushed)})"
    assert outcome.cases == len(PARTITIONINGS) * sum(QUERIES.values()) + 2 * QUERIES_SAMPLED


AWKWARD = {
    "NaN in f4": "f4 = 'NaN'",
    "NaN in f8": "f8 = 'NaN'",
    "-0 in f8": "f8::text = '-0'",
    "+Infinity": "f8 = 'Infinity'",
    "-Infinity": "f4 = '-Infinity'",
    "NaN in numeric(10,2)": "n = 'NaN'",
    "NaN in the domain over numeric(12,3)": "nd = 'NaN'",
    "NaN in numeric(5,-2)": "nneg = 'NaN'",
    "numeric infinity": "nu = 'Infinity'",
    "int extremes": "i8 = 9223372036854775807 OR i4 = -2147483648",
    "the largest oid": "o = 4294967295",
    "date infinity": "d = 'infinity' OR d = '-infinity'",
    "a date after 9999": "d > '9999-12-31'",
    "a BC date": "d < '0001-01-01'",
    "a timestamp Spark reads as NULL": "ts > '294247-01-10 04:00:54.775807'",
    "a BC timestamptz": "tz < '0001-01-01 00:00:00+00'",
    "an empty string": "sc = ''",
    "a string with % or _": "st LIKE '%\\%%' OR st LIKE '%\\_%'",
    "non-ASCII": "sv ~ '[^\\x01-\\x7f]'",
    "the largest money": "m = '92233720368547758.07'",
}


def test_the_wide_table_holds_the_awkward_values(engine_db: EngineDb, tables: List[Table]) -> None:
    """The fuzz compares what the tables hold: each kind of awkward value is there."""
    missing = [
        what
        for what, condition in AWKWARD.items()
        if not engine_db.rows(f'SELECT 1 FROM "{tables[0].name}" WHERE {condition} LIMIT 1')
    ]
    assert not missing
    [(rows, groups, zero_groups)] = engine_db.rows(
        f'SELECT count(*), count(DISTINCT g), count(*) FILTER (WHERE g = 0) FROM "{tables[1].name}"'
    )
    assert rows == 90 and zero_groups > rows / 4 and groups < 15  # skewed, few groups
    counts = ", ".join(f'count("{c.name}")' for c in tables[1].columns)
    [non_null] = engine_db.rows(f'SELECT {counts} FROM "{tables[1].name}"')
    assert sorted(non_null)[:2] == [0, min(n for n in non_null if n)]  # one column only NULLs
    assert sorted(non_null)[1] > 0
    assert engine_db.rows(f'SELECT count(*) FROM "{tables[2].name}"') == [(0,)]
