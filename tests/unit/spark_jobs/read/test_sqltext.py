"""User SQL fragments must stay where they are put: one expression or query, nothing after."""

from __future__ import annotations

import pytest

from connectors.errors import QueryError
from spark_jobs.read.sqltext import check_fragment


@pytest.mark.parametrize(
    "text",
    [
        "status = 'open'",
        "note = 'it''s; fine'",
        "note = E'a\\'; b'",
        '"odd;name" > 1',
        "body = $$ ; ) $$ AND x = $tag$;$tag$",
        "price > $1",
        "x > 1 -- trailing comment ; (",
        "x /* a ; /* nested ) */ */ > 1",
        "(a > 1) AND (b < 2 OR c IS NULL)",
    ],
)
def test_accepts_self_contained_fragments(text: str) -> None:
    assert check_fragment(text, "filter") == text


def test_strips_trailing_semicolons_and_space() -> None:
    assert check_fragment("  select 1 ;; \n", "query") == "select 1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1=1; drop table x", "';' at offset 3"),
        ("x = 1) UNION SELECT 1 (", r"unbalanced '\)'"),
        ("(x = 1", "1 unclosed"),
        ("x = 'open", "unterminated quoted string"),
        ('"open > 1', "unterminated quoted identifier"),
        ("x = $a$ body", "unterminated dollar-quoted"),
        ("x /* open", "unterminated /\\* comment"),
        ("   ", "is empty"),
        ("x = E'\\'; drop table x", "unterminated quoted string"),
    ],
)
def test_rejects_fragments_that_escape(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        check_fragment(text, "filter")
