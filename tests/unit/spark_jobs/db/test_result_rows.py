"""decode_rows: the layout io.sparkpg.engine.ResultRows packs a result into (its Javadoc), read
back without a JVM. The integration test test_driver_connection checks both sides together."""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from typing import Any, List, Optional, Tuple

import pytest

from spark_jobs.db.connection import decode_rows, encode_parameters
from spark_jobs.engine.java import encode_pairs


def encoded(width: int, rows: List[List[Tuple[str, Optional[bytes]]]]) -> bytes:
    """Rows of (tag, payload) values as ResultRows writes them."""
    out = struct.pack(">ii", width, len(rows))
    for row in rows:
        for tag, payload in row:
            out += tag.encode()
            if payload is not None:
                out += struct.pack(">i", len(payload)) + payload
    return out


def test_each_tag_gives_the_python_value_py4j_would() -> None:
    data = encoded(
        8,
        [
            [
                ("s", "a:b\n😀".encode()),
                ("i", b"-9223372036854775808"),
                ("f", b"-0.0"),
                ("d", b"1.50E+3"),
                ("b", b"t"),
                ("x", b"\x00\xff"),
                ("o", b"{1,2}"),
                ("n", None),
            ],
            [("f", b"NaN"), ("f", b"-Infinity"), ("b", b"f"), ("s", b""), *[("n", None)] * 4],
        ],
    )
    first, second = decode_rows(data)
    assert first == ("a:b\n😀", -9223372036854775808, -0.0, Decimal("1.50E+3"), True,
                     b"\x00\xff", "{1,2}", None)  # fmt: skip
    assert math.copysign(1.0, first[2]) == -1.0 and str(first[3]) == "1.50E+3"
    assert math.isnan(second[0]) and second[1:4] == (-math.inf, False, "")


@pytest.mark.parametrize(
    ("width", "rows", "want"),
    [(3, [], []), (0, [[], [], []], [(), (), ()])],
    ids=["no-rows", "no-columns"],
)
def test_empty_shapes(width: int, rows: List[Any], want: List[Any]) -> None:
    assert decode_rows(encoded(width, rows)) == want


def test_bytes_after_the_last_row_are_refused() -> None:
    data = encoded(1, [[("i", b"1")]]) + b"n"
    with pytest.raises(ValueError, match="1 bytes after the last row"):
        decode_rows(data)


def test_parameters_and_pairs_cross_in_the_engine_jars_layout() -> None:
    """The layout io.sparkpg.engine.DriverQueries reads (its Javadoc): a count, then per item a
    tag and, unless NULL, a length and the bytes; floats as their IEEE bits, exactly."""
    assert encode_parameters([None, True, -7, 0.1, "é"]) == (
        b"\x00\x00\x00\x05n"
        b"b\x00\x00\x00\x01t"
        b"i\x00\x00\x00\x02-7"
        b"f\x00\x00\x00\x08" + struct.pack(">d", 0.1) + b"s\x00\x00\x00\x02\xc3\xa9"
    )
    assert encode_pairs({"user": "u", "password": ""}) == (
        b"\x00\x00\x00\x04s\x00\x00\x00\x04users\x00\x00\x00\x01u"
        b"s\x00\x00\x00\x08passwords\x00\x00\x00\x00"
    )
