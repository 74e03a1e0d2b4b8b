"""Split a migration file into statements, each with the line where it starts.

The rules follow the tools users already trust for each engine, so a file that works
in `psql` or the `sqlite3` shell splits the same way here:

- PostgreSQL follows psql's lexer: `;` ends a statement outside quotes, comments
  (block comments nest), dollar-quoted bodies and parentheses, and, in
  ``CREATE [OR REPLACE] FUNCTION|PROCEDURE``, outside ``BEGIN [ATOMIC] ... END``
  blocks (a CASE inside such a block also closes with END).
- SQLite follows ``sqlite3_complete()``: `;` ends a statement outside quotes
  (including `` ` `` and ``[...]`` identifiers) and comments (not nested), except in
  ``CREATE [TEMP] TRIGGER``, which only ends at ``END ;``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Literal

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement: its text without the terminating `;`, and where it starts."""

    text: str
    line: int  # 1-based line of text[0] in the file
    offset: int  # 0-based offset of text[0] in the file


_WORD = r"[^\W\d][\w$]*"
_PG = re.compile(
    r"(?P<comment>--)|(?P<block>/\*)|(?P<estr>[eE]')|(?P<str>')|(?P<ident>\")"
    rf"|(?P<dollar>\$(?:[^\W\d]\w*)?\$)|(?P<word>{_WORD})|(?P<punct>[();])"
)
_LITE = re.compile(
    r"(?P<comment>--)|(?P<block>/\*)|(?P<str>')|(?P<ident>\")|(?P<bquote>`)|(?P<bracket>\[)"
    rf"|(?P<word>{_WORD})|(?P<punct>;)|(?P<other>\S)"  # other: so `END = 1;` is not `END;`
)
_PG_STR = re.compile(r"'(?:[^']|'')*'")
_PG_ESTR = re.compile(r"'(?:[^'\\]|\\.|'')*'", re.DOTALL)
_IDENT = re.compile(r'"(?:[^"]|"")*"')
_BQUOTE = re.compile(r"`(?:[^`]|``)*`")
_NESTED = re.compile(r"/\*|\*/")
_BLANK = re.compile(r"[\s;]*")
_NEWLINE = re.compile(r"\r\n|\r|\n")


def split(sql: str, dialect: Dialect) -> list[Statement]:
    """Statements of ``sql`` in order; blank and comment-only parts produce none."""
    pg = dialect == "postgres"
    newlines = [m.end() for m in _NEWLINE.finditer(sql)] if "\n" in sql or "\r" in sql else []
    out = []
    pos = _skip_blank(sql, 0, pg)
    while pos < len(sql):
        end = _statement_end(sql, pos, pg)
        text = sql[pos:end].rstrip()
        out.append(Statement(text, bisect.bisect_right(newlines, pos) + 1, pos))
        pos = _skip_blank(sql, end + 1, pg)
    return out


def _skip_blank(sql: str, pos: int, pg: bool) -> int:
    """Skip whitespace, comments and empty statements; return where the next one starts."""
    n = len(sql)
    while pos < n:
        pos = _BLANK.match(sql, pos).end()  # type: ignore[union-attr]
        if sql.startswith("--", pos):
            newline = sql.find("\n", pos)
            pos = n if newline < 0 else newline + 1
        elif sql.startswith("/*", pos):
            pos = _block_comment_end(sql, pos, pg)
        else:
            break
    return min(pos, n)


def _block_comment_end(sql: str, pos: int, pg: bool) -> int:
    if not pg:
        end = sql.find("*/", pos + 2)
        return len(sql) if end < 0 else end + 2
    depth = 0
    for m in _NESTED.finditer(sql, pos):
        depth += 1 if m.group() == "/*" else -1
        if depth == 0:
            return m.end()
    return len(sql)


def _quoted_end(pattern: re.Pattern[str], sql: str, pos: int) -> int:
    m = pattern.match(sql, pos)
    return m.end() if m else len(sql)  # unterminated: the database will say so


def _statement_end(sql: str, pos: int, pg: bool) -> int:
    """Index of the `;` that ends the statement starting at ``pos`` (or len(sql))."""
    scanner = _PG if pg else _LITE
    head: list[str] = []  # leading keywords, to recognise routines and triggers
    in_body = False  # inside CREATE FUNCTION/PROCEDURE (pg) or CREATE TRIGGER (sqlite)
    depth = parens = 0
    last_word = ""
    n = len(sql)
    while (m := scanner.search(sql, pos)) is not None:
        kind, start = m.lastgroup, m.start()
        pos = m.end()
        if kind == "word":
            word = m.group().upper()
            if len(head) < 4:
                head.append(word)
                in_body = _starts_body(head, pg)
            if in_body and pg and parens == 0:
                if word == "BEGIN" or (word == "CASE" and depth > 0):
                    depth += 1
                elif word == "END" and depth > 0:
                    depth -= 1
            last_word = word
            continue
        if kind == "punct":
            char = m.group()
            if char == "(":
                parens += 1
            elif char == ")":
                parens = max(0, parens - 1)
            elif (pg and parens == 0 and depth == 0) or (
                not pg and (not in_body or last_word == "END")
            ):
                return start
        elif kind == "comment":
            newline = sql.find("\n", pos)
            pos = n if newline < 0 else newline + 1
            continue  # a comment between END and ; does not break the pair
        elif kind == "block":
            pos = _block_comment_end(sql, start, pg)
            continue
        elif kind == "dollar":
            close = sql.find(m.group(), pos)
            pos = n if close < 0 else close + len(m.group())
        elif kind == "estr":
            pos = _quoted_end(_PG_ESTR, sql, start + 1)
        elif kind == "str":
            pos = _quoted_end(_PG_STR, sql, start)
        elif kind == "ident":
            pos = _quoted_end(_IDENT, sql, start)
        elif kind == "bquote":
            pos = _quoted_end(_BQUOTE, sql, start)
        elif kind == "bracket":
            close = sql.find("]", pos)
            pos = n if close < 0 else close + 1
        last_word = ""
    return n


def _starts_body(head: list[str], pg: bool) -> bool:
    if not head or head[0] != "CREATE":
        return False
    if pg:
        rest = head[1:]
        if rest[:2] == ["OR", "REPLACE"]:
            rest = rest[2:]
        return bool(rest) and rest[0] in ("FUNCTION", "PROCEDURE")
    rest = head[1:]
    if rest and rest[0] in ("TEMP", "TEMPORARY"):
        rest = rest[1:]
    return bool(rest) and rest[0] == "TRIGGER"
