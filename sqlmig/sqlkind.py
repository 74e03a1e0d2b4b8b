"""What a statement is, as far as sqlmig's transactions care, without a SQL parser.

Pure and fast (no pglast), so the apply path can ask it about every statement: is it
transaction control (which a transactional file must not contain), and does the
database refuse it inside a transaction block (so the file needs
``-- sqlmig: no-transaction``)? It works on statement text as the splitter produces it
and reads tokens, never raw characters, so a keyword inside a string, a quoted
identifier or a comment never matches.

What is refused inside a transaction was checked statement by statement against a real
server (tests/test_sqlkind.py runs each one inside a transaction block) and against
PostgreSQL's documentation of each command. Left out on purpose, because the answer
depends on the database's state rather than on the text: ``DROP SUBSCRIPTION`` (refused
only while the subscription has a replication slot), ``ALTER SUBSCRIPTION ... REFRESH``,
and ``REINDEX`` / ``CLUSTER`` of a table that happens to be partitioned (lint knows that
from the migration set; this module does not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlmig.splitter import block_comment_end

Dialect = Literal["sqlite", "postgres"]
TokenKind = Literal["word", "string", "ident", "number", "punct", "comment"]

NO_TRANSACTION_FIX = (
    "put '-- sqlmig: no-transaction' at the top of the file, in a migration of its own "
    "(keep such a file to this one statement: if it fails half-way, the version is left dirty)"
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # as written: a string keeps its quotes, an identifier its quotes
    start: int  # offset in the text that was scanned

    @property
    def word(self) -> str:
        """Upper-cased keyword or plain name; '' for anything else, so it never matches."""
        return self.text.upper() if self.kind == "word" else ""

    @property
    def name(self) -> str:
        """The identifier a word or quoted identifier denotes (unquoted, as written)."""
        if self.kind == "ident":
            body = self.text[1:-1] if len(self.text) > 1 else ""
            closing = self.text[-1]
            return body.replace(closing * 2, closing) if closing in '"`' else body
        return self.text if self.kind == "word" else ""


_WORD = r"[^\W\d][\w$]*"
_COMMON = (
    r"(?P<space>\s+)|(?P<line>--[^\n]*)|(?P<block>/\*)"
    r"|(?P<str>'(?:[^']|'')*'?)|(?P<ident>\"(?:[^\"]|\"\")*\"?)"
)
_PG = re.compile(
    _COMMON
    + r"|(?P<estr>[eE]'(?:[^'\\]|\\.|'')*'?)|(?P<dollar>\$(?:[^\W\d][\w]*)?\$)"
    + rf"|(?P<word>{_WORD})|(?P<number>\d[\w.]*)|(?P<punct>.)",
    re.DOTALL,
)
_LITE = re.compile(
    _COMMON
    + r"|(?P<bquote>`(?:[^`]|``)*`?)|(?P<bracket>\[[^\]]*\]?)"
    + rf"|(?P<word>{_WORD})|(?P<number>\d[\w.]*)|(?P<punct>.)",
    re.DOTALL,
)
_KIND: dict[str, TokenKind] = {
    "line": "comment",
    "str": "string",
    "estr": "string",
    "ident": "ident",
    "bquote": "ident",
    "bracket": "ident",
    "word": "word",
    "number": "number",
    "punct": "punct",
}


def tokens(sql: str, dialect: Dialect, *, comments: bool = False) -> list[Token]:
    """The tokens of ``sql``; comments are dropped unless ``comments``."""
    pg = dialect == "postgres"
    scanner = _PG if pg else _LITE
    out: list[Token] = []
    pos = 0
    while pos < len(sql):
        m = scanner.match(sql, pos)
        assert m is not None  # the last alternative matches any character
        group = m.lastgroup or ""
        end = m.end()
        if group == "block":
            end = block_comment_end(sql, pos, pg)
            if comments:
                out.append(Token("comment", sql[pos:end], pos))
        elif group == "dollar":
            closing = sql.find(m.group(), end)
            end = len(sql) if closing < 0 else closing + len(m.group())
            out.append(Token("string", sql[pos:end], pos))
        elif group != "space" and (comments or group != "line"):
            out.append(Token(_KIND[group], m.group(), pos))
        pos = end
    return out


def words(sql: str, dialect: Dialect) -> list[str]:
    """Each token as a keyword ('' where it is not a plain word), for matching by position."""
    return [t.word for t in tokens(sql, dialect)]


def is_transaction_control(sql: str, dialect: Dialect) -> bool:
    """BEGIN, START TRANSACTION, COMMIT, END, ABORT, ROLLBACK, PREPARE TRANSACTION.

    Savepoints (SAVEPOINT, RELEASE, ROLLBACK [WORK | TRANSACTION] TO) are not: they nest
    inside sqlmig's transaction. ``COMMIT PREPARED`` and ``ROLLBACK PREPARED`` act on
    another, prepared transaction; they are refused inside a transaction block instead.
    """
    w = words(sql, dialect)
    first = w[0] if w else ""
    if first in ("BEGIN", "COMMIT", "END", "ABORT"):
        return not (first == "COMMIT" and w[1:2] == ["PREPARED"])
    if first == "ROLLBACK":
        rest = w[1:]
        if rest[:1] in (["WORK"], ["TRANSACTION"]):
            rest = rest[1:]
        return rest[:1] not in (["TO"], ["PREPARED"])
    if dialect == "postgres" and first in ("START", "PREPARE"):
        return w[1:2] == ["TRANSACTION"]
    return False


@dataclass(frozen=True, slots=True)
class OutsideOnly:
    """A statement that must run outside a transaction block, and why."""

    what: str  # the statement's kind, e.g. "CREATE INDEX CONCURRENTLY"
    reason: str
    ignored: bool = False  # accepted inside a transaction but without effect (not refused)
    fix: str = NO_TRANSACTION_FIX


def outside_transaction_only(
    sql: str,
    dialect: Dialect,
    *,
    server_version: int | None = None,
    journal_mode: str | None = None,
) -> OutsideOnly | None:
    """Why ``sql`` cannot run inside a transaction block, or None when it can.

    ``server_version`` is the PostgreSQL major version (default: a current one);
    ``journal_mode`` the SQLite journal mode in force when migrations run (sqlmig's
    ``sqlite_journal_mode``, default wal). A result with ``ignored`` set is a statement
    the database accepts inside a transaction and silently does nothing with: worth a
    warning, not a refusal.
    """
    toks = tokens(sql, dialect)
    if dialect == "postgres":
        what = _postgres_outside(toks, server_version)
        if what is None:
            return None
        return OutsideOnly(what, f"PostgreSQL refuses {what} inside a transaction block")
    return _sqlite_outside(toks, (journal_mode or "wal").lower())


_PG_ALWAYS = {
    ("CREATE", "DATABASE"): "CREATE DATABASE",
    ("DROP", "DATABASE"): "DROP DATABASE",
    ("CREATE", "TABLESPACE"): "CREATE TABLESPACE",
    ("DROP", "TABLESPACE"): "DROP TABLESPACE",
    ("ALTER", "SYSTEM"): "ALTER SYSTEM",
    ("DISCARD", "ALL"): "DISCARD ALL",
    ("COMMIT", "PREPARED"): "COMMIT PREPARED",
    ("ROLLBACK", "PREPARED"): "ROLLBACK PREPARED",
}
_OFF = {"FALSE", "OFF", "0", "'FALSE'", "'OFF'", "'0'", "NO"}


def _postgres_outside(toks: list[Token], server_version: int | None) -> str | None:
    w = [t.word for t in toks]
    head = tuple(w[:2])
    if w[:1] == ["VACUUM"]:
        return "VACUUM"
    if head in _PG_ALWAYS:
        return _PG_ALWAYS[head]
    if w[:1] == ["CREATE"] and w[1:3] in (["INDEX", "CONCURRENTLY"], ["UNIQUE", "INDEX"]):
        return "CREATE INDEX CONCURRENTLY" if "CONCURRENTLY" in w[2:4] else None
    if head == ("DROP", "INDEX") and w[2:3] == ["CONCURRENTLY"]:
        return "DROP INDEX CONCURRENTLY"
    if w[:1] == ["REINDEX"]:
        return _reindex(toks)
    if w[:1] == ["CLUSTER"]:
        rest = [t for t in _skip_group(toks[1:]) if t.word != "VERBOSE"]
        return None if rest else "CLUSTER without a table (every table)"
    if head == ("ALTER", "DATABASE") and w[3:5] == ["SET", "TABLESPACE"]:
        return "ALTER DATABASE ... SET TABLESPACE"
    if head == ("ALTER", "TABLE") and _detach_concurrently(w):
        return "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"
    if head == ("CREATE", "SUBSCRIPTION") and _creates_slot(toks):
        return "CREATE SUBSCRIPTION that creates a replication slot (create_slot = true)"
    if head == ("ALTER", "TYPE") and _adds_enum_value(w) and (server_version or 99) < 12:
        return f"ALTER TYPE ... ADD VALUE (before PostgreSQL 12; this is {server_version})"
    return None


def _skip_group(toks: list[Token]) -> list[Token]:
    """``toks`` without a leading parenthesised option list."""
    if not toks or toks[0].text != "(":
        return toks
    depth = 0
    for i, t in enumerate(toks):
        depth += {"(": 1, ")": -1}.get(t.text, 0) if t.kind == "punct" else 0
        if depth == 0:
            return toks[i + 1 :]
    return []


def _options(toks: list[Token]) -> dict[str, str]:
    """name -> value (upper-cased, 'TRUE' when absent) of the first ``( ... )`` list."""
    if not toks or toks[0].text != "(":
        return {}
    inner = toks[1 : len(toks) - len(_skip_group(toks)) - 1]
    found: dict[str, str] = {}
    for item in _split_commas(inner):
        names = [t for t in item if t.text != "="]
        if names:
            found[names[0].text.upper()] = names[1].text.upper() if len(names) > 1 else "TRUE"
    return found


def _split_commas(toks: list[Token]) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    for t in toks:
        if t.kind == "punct" and t.text == ",":
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def _reindex(toks: list[Token]) -> str | None:
    options = _options(toks[1:])
    rest = _skip_group(toks[1:])
    kind = rest[0].word if rest else ""
    if kind in ("SCHEMA", "DATABASE", "SYSTEM"):
        return f"REINDEX {kind}"
    concurrent = len(rest) > 1 and rest[1].word == "CONCURRENTLY"
    if concurrent or options.get("CONCURRENTLY", "FALSE") not in _OFF:
        return "REINDEX CONCURRENTLY"
    return None


def _detach_concurrently(w: list[str]) -> bool:
    for i in range(len(w) - 1):
        if w[i] == "DETACH" and w[i + 1] == "PARTITION":
            return "CONCURRENTLY" in w[i + 2 :]
    return False


def _creates_slot(toks: list[Token]) -> bool:
    w = [t.word for t in toks]
    with_at = max((i for i, x in enumerate(w) if x == "WITH"), default=-1)
    options = _options(toks[with_at + 1 :]) if with_at >= 0 else {}
    if options.get("CREATE_SLOT", "TRUE") in _OFF:
        return False
    return options.get("CONNECT", "TRUE") not in _OFF or "CREATE_SLOT" in options


def _adds_enum_value(w: list[str]) -> bool:
    return any(w[i] == "ADD" and w[i + 1] == "VALUE" for i in range(len(w) - 1))


_SQLITE_REFUSED = {
    "SYNCHRONOUS": "SQLite refuses to change PRAGMA synchronous inside a transaction",
    "WAL_CHECKPOINT": "SQLite cannot checkpoint inside a transaction (database table is locked)",
}


def _sqlite_outside(toks: list[Token], journal_mode: str) -> OutsideOnly | None:
    w = [t.word for t in toks]
    if w[:1] == ["VACUUM"]:
        return OutsideOnly("VACUUM", "SQLite refuses VACUUM inside a transaction")
    if w[:1] == ["DETACH"]:
        return OutsideOnly("DETACH", "SQLite refuses DETACH inside a transaction")
    if w[:1] != ["PRAGMA"]:
        return None
    rest = toks[3:] if len(toks) > 2 and toks[2].text == "." else toks[1:]
    name = rest[0].word if rest else ""
    value = next((t for t in rest[1:] if t.kind != "punct"), None)
    if name in _SQLITE_REFUSED and value is not None:
        return OutsideOnly(f"PRAGMA {name.lower()}", _SQLITE_REFUSED[name])
    if name == "WAL_CHECKPOINT":
        return OutsideOnly("PRAGMA wal_checkpoint", _SQLITE_REFUSED[name])
    if name == "FOREIGN_KEYS" and value is not None:
        return OutsideOnly(
            "PRAGMA foreign_keys",
            "SQLite ignores PRAGMA foreign_keys inside a transaction: it changes nothing",
            ignored=True,
            fix="remove it: sqlmig already runs migrations with foreign keys off and "
            "checks them (PRAGMA foreign_key_check) before each commit",
        )
    if name == "JOURNAL_MODE" and value is not None:
        wanted = value.name.lower() if value.kind in ("word", "ident") else value.text
        wanted = wanted.strip("'").lower()
        if (wanted == "wal") != (journal_mode == "wal"):
            return OutsideOnly(
                "PRAGMA journal_mode",
                f"SQLite refuses to switch journal_mode from {journal_mode} to {wanted} "
                "inside a transaction",
                fix=NO_TRANSACTION_FIX + "; or set sqlite_journal_mode in sqlmig.toml instead",
            )
    return None
