"""Split a migration file into statements, each with the line where it starts.

The rules follow the tools users already trust for each engine, so a file that works
in `psql` or the `sqlite3` shell splits the same way here:

- PostgreSQL follows psql's lexer: `;` ends a statement outside quotes, comments
  (block comments nest), dollar-quoted bodies and parentheses, and, in
  ``CREATE [OR REPLACE] FUNCTION|PROCEDURE``, outside ``BEGIN [ATOMIC] ... END``
  blocks (a CASE inside such a block also closes with END).
- SQLite follows ``sqlite3_complete()``: `;` ends a statement outside quotes
  (including `` ` `` and ``[...]`` identifiers) and comments (not nested), except in
  ``CREATE [TEMP] TRIGGER``, which only ends at ``; END ;`` (so a ``CASE ... END`` in its
  body does not end it).

psql's variable references ``:'name'`` and ``:"name"`` are found by the same rules
(``variables``): never inside quotes, comments or dollar-quoted bodies.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement: its text without the terminating `;`, and where it starts."""

    text: str
    line: int  # 1-based line of text[0] in the file
    offset: int  # 0-based offset of text[0] in the file


# Words matter only in routine/trigger bodies; elsewhere the scanners jump straight from
# one quote, comment, bracket or `;` to the next, which is most of the speed.
_NOT_AFTER_WORD = r"(?<![\w$])"
_PG_PLAIN = (
    rf"(?P<comment>--)|(?P<block>/\*)|(?P<estr>{_NOT_AFTER_WORD}[eE]')|(?P<str>')|(?P<ident>\")"
    rf"|(?P<dollar>{_NOT_AFTER_WORD}\$(?:[^\W\d]\w*)?\$)|(?P<punct>[();])"
)
_LITE_PLAIN = (
    r"(?P<comment>--)|(?P<block>/\*)|(?P<str>')|(?P<ident>\")|(?P<bquote>`)|(?P<bracket>\[)"
    r"|(?P<punct>;)"
)
_WORD = r"|(?P<word>[^\W\d][\w$]*)"
_SCANNERS = {
    # (postgres, in a body) -> scanner
    (True, False): re.compile(_PG_PLAIN),
    (True, True): re.compile(_PG_PLAIN + _WORD),
    (False, False): re.compile(_LITE_PLAIN),
    # other: any further token, so that `END = 1;` is not taken for `END;`
    (False, True): re.compile(_LITE_PLAIN + _WORD + r"|(?P<other>\S)"),
}
_BODY_HEAD = {
    True: re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\b", re.IGNORECASE),
    False: re.compile(r"CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TRIGGER\b", re.IGNORECASE),
}
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
            pos = block_comment_end(sql, pos, pg)
        else:
            break
    return min(pos, n)


def block_comment_end(sql: str, pos: int, pg: bool) -> int:
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


def _find_end(sql: str, needle: str, pos: int) -> int:
    found = sql.find(needle, pos)
    return len(sql) if found < 0 else found + len(needle)


# Where each quoted or commented construct ends, given the match that opened it.
_SKIP: dict[str, Callable[[str, re.Match[str], bool], int]] = {
    "comment": lambda sql, m, pg: _find_end(sql, "\n", m.end()),
    "block": lambda sql, m, pg: block_comment_end(sql, m.start(), pg),
    "dollar": lambda sql, m, pg: _find_end(sql, m.group(), m.end()),
    "estr": lambda sql, m, pg: _quoted_end(_PG_ESTR, sql, m.start() + 1),
    "str": lambda sql, m, pg: _quoted_end(_PG_STR, sql, m.start()),
    "ident": lambda sql, m, pg: _quoted_end(_IDENT, sql, m.start()),
    "bquote": lambda sql, m, pg: _quoted_end(_BQUOTE, sql, m.start()),
    "bracket": lambda sql, m, pg: _find_end(sql, "]", m.end()),
}
_TRANSPARENT = ("comment", "block")  # a comment between END and ; does not break the pair


# Outside routine and trigger bodies, the same lexing in one regular expression: a run
# of everything that cannot end a statement (plain text, whole strings, identifiers,
# comments, dollar-quoted bodies), so that the regex engine, not a Python loop per
# token, crosses a statement of 100 quoted values. It stops at `;` and, on PostgreSQL,
# at parentheses; anything else it stops at (an unterminated quote, a nested comment)
# is left to the token scanner below.
_PG_RUN = re.compile(
    r"""(?:[^;()'"$eE\-/]+
    |--[^\n]*\n?
    |(?<![\w$])[eE]'(?:[^'\\]|\\.|'')*'
    |(?<=[\w$])[eE]|[eE](?!')
    |'(?:[^']|'')*'
    |"(?:[^"]|"")*"
    |(?<![\w$])\$(?P<tag>(?:[^\W\d]\w*)?)\$.*?\$(?P=tag)\$
    |(?<=[\w$])\$|\$(?!(?:[^\W\d]\w*)?\$)
    |-(?!-)|/(?!\*))*""",
    re.VERBOSE | re.DOTALL,
)
_LITE_RUN = re.compile(
    r"""(?:[^;'"`\[\-/]+
    |--[^\n]*\n?
    |'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]
    |/\*.*?\*/
    |-(?!-)|/(?!\*))*""",
    re.VERBOSE | re.DOTALL,
)


def _plain_end(sql: str, pos: int, pg: bool) -> int:
    """_statement_end for a statement that is not a routine or trigger body."""
    run = _PG_RUN if pg else _LITE_RUN
    parens = 0
    n = len(sql)
    while True:
        pos = run.match(sql, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            return n
        c = sql[pos]
        if c == ";" and parens == 0:
            return pos
        if c == "(":
            parens += 1
        elif c == ")":
            parens = max(0, parens - 1)
        elif pg and sql.startswith("/*", pos):
            pos = block_comment_end(sql, pos, pg)
            continue
        elif c != ";":
            return n  # an unterminated quote or comment: the rest is the statement
        pos += 1


def _statement_end(sql: str, pos: int, pg: bool) -> int:
    """Index of the `;` that ends the statement starting at ``pos`` (or len(sql))."""
    in_body = _BODY_HEAD[pg].match(sql, pos) is not None
    return _token_end(sql, pos, pg, in_body) if in_body else _plain_end(sql, pos, pg)


def _token_end(sql: str, pos: int, pg: bool, in_body: bool) -> int:
    """_statement_end a token at a time: what bodies need (their words count)."""
    scanner = _SCANNERS[(pg, in_body)]
    depth = parens = 0
    last_word = ""
    after_semi = False  # sqlite3_complete(): only an END right after a `;` closes a trigger
    while (m := scanner.search(sql, pos)) is not None:
        kind = m.lastgroup or ""
        pos = m.end()
        if kind == "word":
            word = m.group().upper()
            if pg and parens == 0:
                depth = _body_depth(word, depth)
            last_word = word if word != "END" or after_semi or pg else ""
            after_semi = False
            continue
        if kind in _SKIP:
            pos = _SKIP[kind](sql, m, pg)
            if kind in _TRANSPARENT:
                continue
        elif m.group() == "(":
            parens += 1
        elif m.group() == ")":
            parens = max(0, parens - 1)
        elif m.group() == ";" and _ends(pg, parens, depth, in_body, last_word):
            return m.start()
        after_semi = m.group() == ";"
        last_word = ""
    return len(sql)


def _body_depth(word: str, depth: int) -> int:
    """psql's rule: BEGIN opens a block, CASE too once inside one, END closes one."""
    if word == "BEGIN" or (word == "CASE" and depth > 0):
        return depth + 1
    if word == "END" and depth > 0:
        return depth - 1
    return depth


def _ends(pg: bool, parens: int, depth: int, in_body: bool, last_word: str) -> bool:
    if pg:
        return parens == 0 and depth == 0
    return not in_body or last_word == "END"


@dataclass(frozen=True, slots=True)
class Variable:
    """A psql variable reference, ``:'name'`` (a literal) or ``:"name"`` (an identifier)."""

    start: int  # offset of the `:` in the text
    end: int
    name: str
    identifier: bool


# psql's two quoted forms; `::` before one is a cast to a quoted type, not a variable.
_VARIABLE = r"(?P<var>(?<!:):(?:'[^\W\d]\w*'|\"[^\W\d]\w*\"))|"
_VARIABLE_SCANNERS = {
    True: re.compile(_VARIABLE + _PG_PLAIN),
    False: re.compile(_VARIABLE + _LITE_PLAIN),
}


def variables(sql: str, dialect: Dialect) -> list[Variable]:
    """The variable references in ``sql``, outside quotes, comments and dollar-quoted
    bodies, by the same rules that split it."""
    if ":'" not in sql and ':"' not in sql:
        return []
    pg = dialect == "postgres"
    scanner = _VARIABLE_SCANNERS[pg]
    found = []
    pos = 0
    while (m := scanner.search(sql, pos)) is not None:
        kind = m.lastgroup or ""
        pos = m.end()
        if kind == "var":
            text = m.group()
            found.append(Variable(m.start(), pos, text[2:-1], text[1] == '"'))
        elif kind in _SKIP:
            pos = _SKIP[kind](sql, m, pg)
    return found
