"""The partition planner, without Spark or PostgreSQL (integer predicates are checked in sqlite)."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from typing import List, Optional

import pytest

from connectors.errors import PartitioningError
from spark_jobs.read.partitioning import (
    SMALL_TABLE_BYTES,
    TARGET_PARTITION_BYTES,
    KeyBounds,
    KeyCandidate,
    KeyDistribution,
    PartitionOverrides,
    RelationStats,
    choose_strategy,
    cut_points,
    override_bounds,
    plan_key_ranges,
    plan_page_ranges,
    plan_partitions,
    render_literal,
    to_ordinal,
)

MIB = 1024 * 1024
BIG = RelationStats("r", size_bytes=1024 * MIB, pages=131072, estimated_rows=10_000_000)
SMALL = RelationStats("r", size_bytes=SMALL_TABLE_BYTES - 1, pages=8000)
PK = KeyCandidate("id", "integer", "primary key", correlation=1.0)
PG15 = 150004
PG13 = 130012


def choose(stats: RelationStats = BIG, candidates: Optional[List[KeyCandidate]] = None, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("server_version_num", PG15)
    kw.setdefault("max_connections", 8)
    return choose_strategy(stats, [PK] if candidates is None else candidates, **kw)


def rows_per_predicate(predicates: List[str], values: List[Optional[int]]) -> List[int]:
    """How many times each value is selected, over all predicates (must be exactly once)."""
    db = sqlite3.connect(":memory:")
    db.execute('CREATE TABLE t ("id" INTEGER, rowno INTEGER)')
    db.executemany("INSERT INTO t VALUES (?, ?)", [(v, i) for i, v in enumerate(values)])
    seen = [0] * len(values)
    for predicate in predicates:
        for (rowno,) in db.execute(f"SELECT rowno FROM t WHERE ({predicate})"):
            seen[rowno] += 1
    return seen


# --- strategy choice --------------------------------------------------------------------------


def test_small_table_is_one_partition() -> None:
    choice = choose(SMALL)
    assert choice.strategy == "single"
    assert "small table" in choice.reason


def test_large_table_splits_on_primary_key() -> None:
    choice = choose(BIG)
    assert choice.strategy == "key_range"
    assert choice.key == PK
    assert choice.num_partitions == 8  # 1 GiB / 128 MiB = 8, the cap


def test_partition_count_from_size_and_rounded_to_task_slots() -> None:
    stats = RelationStats("r", size_bytes=3 * TARGET_PARTITION_BYTES - 1, pages=1000)
    assert choose(stats).num_partitions == 3
    assert choose(stats, parallelism=2).num_partitions == 4
    assert choose(stats, parallelism=4).num_partitions == 4
    assert choose(stats, max_connections=2).num_partitions == 2


def test_partitions_capped_by_max_connections_even_when_requested() -> None:
    choice = choose(BIG, max_connections=4, overrides=PartitionOverrides(num_partitions=50))
    assert choice.num_partitions == 4
    assert any("capped at max_connections=4" in note for note in choice.notes)


def test_max_connections_one_is_single() -> None:
    assert choose(BIG, max_connections=1).strategy == "single"


def test_no_key_uses_page_ranges_on_14_plus() -> None:
    choice = choose(BIG, candidates=[])
    assert choice.strategy == "page_range"


def test_no_key_before_14_is_single_and_says_why() -> None:
    choice = choose(BIG, candidates=[], server_version_num=PG13)
    assert choice.strategy == "single"
    assert "< 14" in choice.reason and "scan the whole table" in choice.reason


def test_key_before_14_still_key_range() -> None:
    assert choose(BIG, server_version_num=PG13).strategy == "key_range"


def test_uncorrelated_key_prefers_page_ranges_on_14_plus_only() -> None:
    scattered = KeyCandidate("uuid_ts", "timestamp", "index", correlation=0.02)
    assert choose(BIG, candidates=[scattered]).strategy == "page_range"
    older = choose(BIG, candidates=[scattered], server_version_num=PG13)
    assert older.strategy == "key_range"
    assert any("not in physical order" in note for note in older.notes)


def test_a_table_read_in_one_snapshot_uses_page_ranges() -> None:
    """In one snapshot page ranges are exact, and cheaper on the server than the key's index."""
    choice = choose(BIG, in_snapshot=True)
    assert (choice.strategy, choice.key) == ("page_range", None)
    assert "one snapshot" in choice.reason
    matview = RelationStats("m", size_bytes=1024 * MIB, pages=131072)
    assert choose(matview, in_snapshot=True).strategy == "page_range"
    # what the user asked for wins; small tables stay one partition; before 14, no TID scans;
    # a partitioned table keeps its key (page ranges would cut every leaf by the largest's pages)
    wanted = choose(BIG, in_snapshot=True, overrides=PartitionOverrides(key_column="id"))
    assert wanted.strategy == "key_range"
    assert choose(SMALL, in_snapshot=True).strategy == "single"
    assert choose(BIG, in_snapshot=True, server_version_num=PG13).strategy == "key_range"
    parted = RelationStats("p", size_bytes=1024 * MIB, pages=30000)
    assert choose(parted, in_snapshot=True).strategy == "key_range"
    assert choose(BIG, in_snapshot=False).strategy == "key_range"


def test_primary_key_preferred_over_other_indexes() -> None:
    other = KeyCandidate("created", "timestamp", "index", correlation=0.99)
    assert choose(BIG, candidates=[PK, other]).key == PK


def test_views_and_queries_are_single_unless_overridden() -> None:
    view = RelationStats("v")
    assert choose(view, candidates=[]).strategy == "single"
    query = RelationStats("query")
    assert "query" in choose(query, candidates=[]).reason
    forced = choose(query, candidates=[PK], overrides=PartitionOverrides(key_column="id"))
    assert forced.strategy == "key_range"
    assert forced.num_partitions == 8


def test_view_cannot_use_page_ranges() -> None:
    with pytest.raises(PartitioningError, match="relkind"):
        choose(RelationStats("v"), overrides=PartitionOverrides(strategy="page_range"))


def test_page_range_override_refused_before_14() -> None:
    with pytest.raises(PartitioningError, match="14"):
        choose(BIG, server_version_num=PG13, overrides=PartitionOverrides(strategy="page_range"))


def test_overrides() -> None:
    assert choose(BIG, overrides=PartitionOverrides(strategy="single")).strategy == "single"
    assert choose(BIG, overrides=PartitionOverrides(num_partitions=1)).strategy == "single"
    split_small = choose(SMALL, overrides=PartitionOverrides(num_partitions=3))
    assert (split_small.strategy, split_small.num_partitions) == ("key_range", 3)
    pages = choose(BIG, overrides=PartitionOverrides(strategy="page_range", num_partitions=5))
    assert (pages.strategy, pages.num_partitions) == ("page_range", 5)
    created = KeyCandidate("created", "date", None)
    keyed = choose(BIG, candidates=[created], overrides=PartitionOverrides(key_column="created"))
    assert keyed.key == created
    assert any("leads no index" in note for note in keyed.notes)


def test_override_validation() -> None:
    with pytest.raises(PartitioningError, match="unknown partitioning strategy"):
        PartitionOverrides(strategy="hash")
    with pytest.raises(PartitioningError, match=">= 1"):
        PartitionOverrides(num_partitions=0)
    with pytest.raises(PartitioningError, match="no key column"):
        PartitionOverrides(strategy="page_range", key_column="id")
    with pytest.raises(PartitioningError, match="not a usable partition key"):
        choose(BIG, overrides=PartitionOverrides(key_column="name"))
    with pytest.raises(PartitioningError, match="needs a key column"):
        choose(BIG, candidates=[], overrides=PartitionOverrides(strategy="key_range"))
    with pytest.raises(PartitioningError, match="partition key must be"):
        KeyCandidate("name", "text")


# --- key ranges ---------------------------------------------------------------------------------


def test_key_ranges_read_nulls_and_out_of_bounds_rows_exactly_once() -> None:
    choice = choose(BIG, max_connections=4)
    plan = plan_key_ranges(choice, KeyBounds(100, 199))
    assert plan.num_partitions == 4
    assert plan.predicates[0] == '("id" < 125 OR "id" IS NULL)'
    assert plan.predicates[-1] == '"id" >= 175'
    values: List[Optional[int]] = [None, None, -(2**62), 0, 99, 100, 124, 125, 150, 199, 200]
    values += [2**62, *range(90, 210)]
    assert rows_per_predicate(list(plan.predicates), values) == [1] * len(values)


def test_not_null_key_has_no_is_null_arm_and_still_reads_every_row_once() -> None:
    choice = choose(BIG, [KeyCandidate("id", "integer", not_null=True)], max_connections=4)
    plan = plan_key_ranges(choice, KeyBounds(100, 199))
    assert plan.predicates[0] == '"id" < 125'
    values: List[Optional[int]] = [-(2**62), 0, 99, 100, 124, 125, 150, 199, 200, 2**62]
    assert rows_per_predicate(list(plan.predicates), values) == [1] * len(values)


def test_key_ranges_exactly_once_random() -> None:
    rng = random.Random(7)
    for _ in range(200):
        low = rng.randint(-1000, 1000)
        high = low + rng.randint(0, 3000)
        n = rng.randint(2, 12)
        dist = None
        if rng.random() < 0.5:
            hist = sorted(rng.randint(low, high) for _ in range(rng.randint(0, 20)))
            mcv = tuple((rng.randint(low, high), rng.random() / 10) for _ in range(3))
            dist = KeyDistribution(rng.random() / 3, tuple(hist), mcv)
        choice = choose(BIG, max_connections=12, overrides=PartitionOverrides(num_partitions=n))
        plan = plan_key_ranges(choice, KeyBounds(low, high), distribution=dist)
        assert plan.num_partitions <= n
        values: List[Optional[int]] = [None, low - 5, high + 5]
        values += [rng.randint(low - 10, high + 10) for _ in range(50)]
        assert rows_per_predicate(list(plan.predicates) or ["1=1"], values) == [1] * len(values)


def test_one_value_or_empty_key_is_single_partition() -> None:
    choice = choose(BIG)
    assert plan_key_ranges(choice, KeyBounds(5, 5)).strategy == "single"
    empty = plan_key_ranges(choice, None)
    assert empty.strategy == "single" and "no finite non-NULL" in empty.reason


def test_narrow_range_has_at_most_one_partition_per_value() -> None:
    plan = plan_key_ranges(choose(BIG), KeyBounds(1, 3))
    assert plan.num_partitions == 3


def test_skewed_histogram_gives_balanced_cuts() -> None:
    # 90% of the rows have keys in [0, 1000), 10% spread up to 1,000,000.
    hist = (*range(0, 1000, 11), 10_000, 100_000, 500_000, 1_000_000)
    dist = KeyDistribution(0.0, hist)
    cuts = cut_points(KeyBounds(0, 1_000_000), 4, dist)
    assert len(cuts) == 3
    assert cuts[-1] < 1000  # equal spacing would put all cuts above 250,000
    assert cut_points(KeyBounds(0, 1_000_000), 4) == [250_000, 500_000, 750_000]


def test_most_common_value_and_nulls_count_towards_balance() -> None:
    # Half the rows are NULL: the first partition (which reads NULLs) gets few other rows.
    dist = KeyDistribution(0.5, tuple(range(0, 1001, 10)))
    cuts = cut_points(KeyBounds(0, 1000), 2, dist)
    assert cuts == [1]
    # One value holds 60% of the rows: it sits alone, balanced around it.
    dist = KeyDistribution(0.0, tuple(range(0, 1001, 100)), ((500, 0.6),))
    cuts = cut_points(KeyBounds(0, 1000), 3, dist)
    assert 500 in cuts or 501 in cuts


def test_date_and_timestamp_literals() -> None:
    assert render_literal(0, "date") == "'1970-01-01'::date"
    assert render_literal(19723, "date") == "'2024-01-01'::date"
    assert render_literal(-1, "timestamp") == "'1969-12-31 23:59:59.999999'::timestamp"
    assert render_literal(1_000_000, "timestamptz") == "'1970-01-01 00:00:01+00'::timestamptz"
    assert render_literal(10**13, "date").startswith("(DATE '1970-01-01' + ")
    assert render_literal(42, "integer") == "42"


def test_date_key_predicates() -> None:
    key = KeyCandidate("day", "date", "primary key")
    choice = choose(BIG, candidates=[key], max_connections=2)
    low = to_ordinal(dt.date(2024, 1, 1), "date")
    plan = plan_key_ranges(choice, KeyBounds(low, low + 9))
    assert plan.predicates == (
        '("day" < \'2024-01-06\'::date OR "day" IS NULL)',
        "\"day\" >= '2024-01-06'::date",
    )
    assert plan.bounds == ("'2024-01-01'::date", "'2024-01-10'::date")


def test_ordinals_of_user_bounds() -> None:
    assert to_ordinal("2024-01-01", "date") == 19723
    assert to_ordinal(dt.datetime(1970, 1, 1, 0, 0, 1), "timestamp") == 1_000_000
    aware = dt.datetime(1970, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert to_ordinal(aware, "timestamptz") == 0
    assert to_ordinal("1970-01-01T00:00:01Z", "timestamptz") == 1_000_000
    assert to_ordinal("12", "integer") == 12
    with pytest.raises(PartitioningError, match="not a valid integer"):
        to_ordinal("abc", "integer")
    with pytest.raises(PartitioningError, match="not a valid date"):
        to_ordinal(3.5, "date")


def test_override_bounds_mix_with_queried() -> None:
    queried = KeyBounds(1, 1000)
    assert override_bounds(PartitionOverrides(), "integer", queried) == queried
    both = PartitionOverrides(lower_bound=10, upper_bound=20)
    assert override_bounds(both, "integer", None) == KeyBounds(10, 20)
    assert override_bounds(PartitionOverrides(upper_bound=50), "integer", queried) == KeyBounds(
        1, 50
    )
    assert override_bounds(PartitionOverrides(lower_bound=0), "integer", None) == KeyBounds(0, 0)
    with pytest.raises(PartitioningError, match="inverted"):
        override_bounds(PartitionOverrides(lower_bound=5000), "integer", queried)


# --- page ranges --------------------------------------------------------------------------------


def test_page_ranges_cover_every_page_once_and_last_is_open() -> None:
    choice = choose(BIG, candidates=[], max_connections=4)
    plan = plan_page_ranges(choice, 1000)
    assert plan.predicates == (
        "ctid < '(250,0)'::tid",
        "ctid >= '(250,0)'::tid AND ctid < '(500,0)'::tid",
        "ctid >= '(500,0)'::tid AND ctid < '(750,0)'::tid",
        "ctid >= '(750,0)'::tid",
    )


def test_page_ranges_never_more_partitions_than_pages() -> None:
    choice = choose(BIG, candidates=[], max_connections=8)
    assert plan_page_ranges(choice, 3).num_partitions == 3
    assert plan_page_ranges(choice, 1).strategy == "single"


def test_describe_is_one_line() -> None:
    plan = plan_key_ranges(choose(BIG, max_connections=2), KeyBounds(1, 10))
    text = plan.describe()
    assert "\n" not in text
    assert text.startswith("key_range, 2 partition(s) on id [1 .. 10]")


# --- the finished plan from catalog facts -------------------------------------------------------


def test_plan_partitions_turns_facts_into_the_finished_plan() -> None:
    from spark_jobs.read.partitioning import KeyFacts, PlanLimits, SourceFacts, Strategy, split_key

    limits = PlanLimits(server_version_num=PG15, max_connections=4, parallelism=2)
    auto = PartitionOverrides()
    # the catalog step asks which key's facts it needs: none for a small table
    assert split_key(SMALL, [PK], auto, limits) is None
    assert split_key(BIG, [PK], auto, limits) == PK
    small = plan_partitions(SourceFacts(SMALL, (PK,)), auto, limits)
    assert (small.strategy, small.predicates, small.split) == (Strategy.SINGLE, (), None)

    facts = SourceFacts(BIG, (PK,), KeyFacts(PK, KeyBounds(1, 400)))
    keyed = plan_partitions(facts, auto, limits)
    assert keyed.strategy is Strategy.KEY_RANGE and keyed.num_partitions == 4
    assert keyed.split is not None and keyed.split.expression == '"id"'
    assert keyed.predicates[-1] == '"id" >= 301'
    assert keyed.split.predicates('"k"')[-1] == '"k" >= 301'  # an engine's alias for the key
    user = PartitionOverrides(lower_bound=1, upper_bound=800)  # user bounds win
    assert plan_partitions(facts, user, limits).bounds == (
        "1",
        "800",
    )

    pages = PartitionOverrides(strategy="page_range", num_partitions=2)
    assert split_key(BIG, [PK], pages, limits) is None
    paged = plan_partitions(SourceFacts(BIG, (PK,)), pages, limits)
    assert paged.split is not None and paged.split.expression == "ctid"
    assert paged.predicates == ("ctid < '(65536,0)'::tid", "ctid >= '(65536,0)'::tid")
    assert str(paged.strategy) == "page_range" == paged.strategy
