"""Spark DECIMAL -> PostgreSQL binary numeric (the engine's RowEncoder) at its edges: the largest
and smallest values of decimal(38,0) and decimal(38,38), base-10000 digit-group boundaries,
leading and trailing zero groups, zero with a scale, negatives, NULLs and arrays with NULL
elements. One DataFrame holds every case; it is written four times (same typmod, unconstrained
numeric, another scale through the commit's cast, and atomic=False straight into the same typmod)
and every value is compared with PostgreSQL's own text of it (which shows the display scale)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest

from spark_jobs.write.api import write_table
from tests.integration.write.conftest import SCHEMA, WriteDb

pytestmark = pytest.mark.spark

#: Exact arithmetic for 38-digit values; PostgreSQL rounds half away from zero, as ROUND_HALF_UP.
EXACT = Context(prec=100, rounding=ROUND_HALF_UP)
MAX38 = 10**38 - 1

#: Column -> (precision, scale, values). Comments: base-10000 digit groups of the value.
SCALARS: Dict[str, Tuple[int, int, List[Decimal]]] = {
    "i38": (
        38,
        0,
        [
            Decimal(MAX38),  # 10 groups, the largest decimal(38,0)
            Decimal(-MAX38),  # the smallest
            Decimal(0),
            Decimal(1),
            Decimal(-1),
            Decimal(9999),  # 1 group, the largest
            Decimal(10000),  # 2 groups, a trailing zero group
            Decimal(-10001),
            Decimal(99990000),
            Decimal(1000000),  # scale 0, trailing zeros
            Decimal(10**20),  # 6 groups, 5 of them trailing zeros
            Decimal(-(10**20)),
            Decimal(10**37),  # the first group is 10
            Decimal(1234567890123456),  # 4 groups
            Decimal(12345678901234567890),  # 5 groups
        ],
    ),
    "f38": (
        38,
        38,
        [
            Decimal("1E-38"),  # the smallest positive decimal(38,38): weight -10
            Decimal("-1E-38"),
            Decimal("0.99999999999999999999999999999999999999"),  # the largest
            Decimal("-0.12345678901234567890123456789012345678"),
            Decimal("0.00000001"),  # integer part zero, a leading zero group
            Decimal("0.0001"),
            Decimal("0.00010001"),
            Decimal("0.5"),
            Decimal(0),  # zero with scale 38
            Decimal("1.5E-20"),  # rounds up at scale 20
            Decimal("-5E-21"),  # rounds away from zero at scale 20
        ],
    ),
    "m38": (
        38,
        10,
        [
            Decimal("9999.9999"),  # 2 groups around the boundary
            Decimal("10000.0001"),  # 3 groups
            Decimal("-9999.9999"),
            Decimal("-10000.0001"),
            Decimal("9999999999999999999999999999.9999999999"),  # the largest decimal(38,10)
            Decimal("-9999999999999999999999999999.9999999999"),
            Decimal("1234567890123456789012345678.0123456789"),
            Decimal("0.0000000001"),
            Decimal("0.00000001"),
            Decimal("0.00005"),  # rounds to 0.0001 at scale 4
            Decimal("-0.00005"),  # rounds to -0.0001
            Decimal("0.00004999"),  # rounds to 0.0000
            Decimal(10**20),
            Decimal(0),
        ],
    ),
    "s10": (
        10,
        2,
        [
            Decimal("0.00"),
            Decimal("-0.01"),
            Decimal("0.10"),
            Decimal("100.00"),
            Decimal("1000000.00"),
            Decimal("12345678.90"),
            Decimal("99999999.99"),
            Decimal("-99999999.99"),
        ],
    ),
}
ARRAY_COLUMN = "arr"
ARRAY_PRECISION, ARRAY_SCALE = 20, 4
ARRAYS: List[Optional[List[Optional[Decimal]]]] = [
    [Decimal(1), None, Decimal("-0.0001")],
    [],
    [None],
    [Decimal("9999.9999"), Decimal("10000.0001"), Decimal("9999999999999999.9999")],
    [Decimal("0.0050"), Decimal("-0.0050"), Decimal(0)],  # 0.01, -0.01, 0.00 at scale 2
    None,
]
#: Target types: the same typmod; unconstrained; another precision and scale (through the cast).
SAME = {
    **{c: f"numeric({p},{s})" for c, (p, s, _) in SCALARS.items()},
    ARRAY_COLUMN: "numeric(20,4)[]",
}
FREE = {**{c: "numeric" for c in SCALARS}, ARRAY_COLUMN: "numeric[]"}
RESCALED = {
    "i38": "numeric(40,2)",
    "f38": "numeric(39,20)",
    "m38": "numeric(40,4)",
    "s10": "numeric(13,5)",
    ARRAY_COLUMN: "numeric(22,2)[]",
}
ROWS = max(len(ARRAYS), *(len(values) for _, _, values in SCALARS.values())) + 1  # last: NULLs
COLUMNS = [*SCALARS, ARRAY_COLUMN]


def _value(values: Sequence[Any], row: int) -> Any:
    return values[row] if row < len(values) else None


def _rows() -> List[Tuple[Any, ...]]:
    return [
        (row, *(_value(values, row) for _, _, values in SCALARS.values()), _value(ARRAYS, row))
        for row in range(ROWS)
    ]


def _text(value: Optional[Decimal], scale: int) -> str:
    """PostgreSQL's text of ``value`` in a numeric column of display scale ``scale``."""
    if value is None:
        return "NULL"
    rounded = EXACT.quantize(value, Decimal(1).scaleb(-scale))
    return format(rounded.copy_abs() if rounded.is_zero() else rounded, "f")


def _expected(scales: Dict[str, int]) -> List[Tuple[Any, ...]]:
    """Every row as PostgreSQL's text of each value at the given display scales."""
    expected = []
    for row in range(ROWS):
        texts: List[Optional[str]] = []
        for column, (_, _, values) in SCALARS.items():
            value = _value(values, row)
            texts.append(None if value is None else _text(value, scales[column]))
        array = _value(ARRAYS, row)
        texts.append(
            None
            if array is None
            else "{" + ",".join(_text(v, scales[ARRAY_COLUMN]) for v in array) + "}"
        )
        expected.append((row, *texts))
    return expected


def _target(write_db: WriteDb, name: str, types: Dict[str, str]) -> str:
    return write_db.table(name, ", ".join(["id int", *(f"{c} {types[c]}" for c in COLUMNS)]))


def _back(write_db: WriteDb, name: str) -> List[Tuple[Any, ...]]:
    texts = ", ".join(f"{c}::text" for c in COLUMNS)
    return write_db.rows(f"SELECT id, {texts} FROM {SCHEMA}.{name} ORDER BY id")


@pytest.fixture(scope="module")
def decimals(spark: Any) -> Any:
    """Every case as one row each (two partitions), the last row all NULL."""
    schema = ", ".join(
        [
            "id int",
            *(f"{c} decimal({p},{s})" for c, (p, s, _) in SCALARS.items()),
            f"{ARRAY_COLUMN} array<decimal({ARRAY_PRECISION},{ARRAY_SCALE})>",
        ]
    )
    return spark.createDataFrame(_rows(), schema).repartition(2)


SPARK_SCALES = {**{c: s for c, (_, s, _) in SCALARS.items()}, ARRAY_COLUMN: ARRAY_SCALE}


def test_the_fixture_covers_every_case(decimals: Any) -> None:
    """Spark holds the values exactly (so a difference below is the engine's)."""
    back = sorted(tuple(r) for r in decimals.collect())
    assert back == _rows()
    assert _expected(SPARK_SCALES)[-1] == (ROWS - 1, *[None] * len(COLUMNS))


@pytest.mark.parametrize(
    ("name", "types", "atomic"),
    [
        ("num_same", SAME, True),
        ("num_free", FREE, True),
        ("num_direct", SAME, False),
    ],
)
def test_decimals_land_exactly(
    decimals: Any, write_db: WriteDb, name: str, types: Dict[str, str], atomic: bool
) -> None:
    """Into the same typmod and into unconstrained numeric (both keep Spark's scale), through
    staging (atomic) and straight into the target by binary COPY (atomic=False)."""
    table = _target(write_db, name, types)
    write_table(decimals, write_db.settings(), table, atomic=atomic)
    assert _back(write_db, name) == _expected(SPARK_SCALES)


def test_decimals_into_another_scale_are_rounded_by_the_commits_cast(
    decimals: Any, write_db: WriteDb
) -> None:
    """Wider and narrower scales: the INSERT ... SELECT casts (half away from zero)."""
    table = _target(write_db, "num_rescaled", RESCALED)
    write_table(decimals, write_db.settings(), table)
    scales = {c: int(t.rstrip("[]").rstrip(")").split(",")[1]) for c, t in RESCALED.items()}
    assert scales == {"i38": 2, "f38": 20, "m38": 4, "s10": 5, ARRAY_COLUMN: 2}
    assert _back(write_db, "num_rescaled") == _expected(scales)
