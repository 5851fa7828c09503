"""Checks on user-supplied SQL text (a filter, a query) before it is embedded in a larger statement.

The user's SQL is trusted to *mean* what the user wants (they hold the credentials), but it must
stay inside the place it is put: Spark appends its own ``WHERE`` clause to our subquery and pgjdbc
would run every ``;``-separated statement of a text. So a fragment must be one statement or
expression: no top-level ``;``, balanced parentheses, every quote, dollar quote and comment
closed. Pure functions, no Spark.
"""

from __future__ import annotations

import re

from connectors.errors import QueryError

_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$]")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def check_fragment(text: str, what: str) -> str:
    """Return ``text`` stripped if it is one self-contained SQL expression or statement.

    ``what`` names it in errors (``"filter of aurora.public.orders"``). A trailing ``;`` is
    allowed and dropped.

    >>> check_fragment("status = 'a;b' AND (x > 1)", "filter")
    "status = 'a;b' AND (x > 1)"
    >>> check_fragment("1=1; drop table x", "filter")
    Traceback (most recent call last):
    ...
    connectors.errors.QueryError: filter: ';' at offset 3 ends the statement early; give one SQL expression or query, without ';'
    """
    stripped = text.strip()
    while stripped.endswith(";"):
        stripped = stripped[:-1].rstrip()
    if not stripped:
        raise QueryError(f"{what} is empty")
    if "\x00" in stripped:
        raise QueryError(f"{what} contains a NUL character")
    _scan(stripped, what)
    return stripped


def _scan(sql: str, what: str) -> None:
    depth = 0
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        prev_ident = i > 0 and bool(_IDENT_CHAR.match(sql[i - 1]))
        if ch == "'":
            escape = i > 0 and sql[i - 1] in "eE" and not (i > 1 and _IDENT_CHAR.match(sql[i - 2]))
            i = _skip_quoted(sql, i, "'", backslash=escape, what=what)
        elif ch == '"':
            i = _skip_quoted(sql, i, '"', backslash=False, what=what)
        elif ch == "$" and not prev_ident and (match := _DOLLAR_TAG.match(sql, i)):
            tag = match.group(0)
            end = sql.find(tag, match.end())
            if end < 0:
                raise QueryError(f"{what}: unterminated dollar-quoted string {tag} at offset {i}")
            i = end + len(tag)
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i, what)
        elif ch == "(":
            depth += 1
            i += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise QueryError(f"{what}: unbalanced ')' at offset {i}")
            i += 1
        elif ch == ";":
            raise QueryError(
                f"{what}: ';' at offset {i} ends the statement early; give one SQL expression "
                "or query, without ';'"
            )
        else:
            i += 1
    if depth:
        raise QueryError(f"{what}: {depth} unclosed '('")


def _skip_quoted(sql: str, start: int, quote: str, *, backslash: bool, what: str) -> int:
    i = start + 1
    while i < len(sql):
        ch = sql[i]
        if backslash and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if sql.startswith(quote * 2, i):
                i += 2
                continue
            return i + 1
        i += 1
    kind = "identifier" if quote == '"' else "string"
    raise QueryError(f"{what}: unterminated quoted {kind} starting at offset {start}")


def _skip_block_comment(sql: str, start: int, what: str) -> int:
    depth, i = 0, start
    while i < len(sql):
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise QueryError(f"{what}: unterminated /* comment starting at offset {start}")
