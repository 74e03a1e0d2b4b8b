"""SQLite's schema from sqlite_master and the table PRAGMAs.

Columns and foreign keys come from PRAGMAs, so their formatting cannot differ; what only
exists as text (CHECK constraints, generated columns, STRICT, WITHOUT ROWID, views,
triggers) is compared after normalising comments, whitespace, case and identifier
quoting. Case is folded as SQLite folds it: ASCII letters only.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterable
from typing import Any

from sqlmig.schema import Schema, dump_header

# What normalise must not fold or respace as words: comments, string literals, quoted
# identifiers, and a quote character that opens nothing. Everything between is words and
# punctuation, handled a whole run at a time.
_SPECIAL = re.compile(
    r"(--[^\n]*|/\*.*?(?:\*/|\Z)"
    r"|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|['\"`\[])",
    re.DOTALL,
)
_PLAIN = re.compile(r"^[A-Za-z_][\w$]*$")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_TYPE_SPACE = re.compile(r"\s*([(),])\s*|\s+")
_SPACE_NOT_BETWEEN_WORDS = re.compile(r" (?![\w$])|(?<![\w$]) ")


def fold(name: str) -> str:
    """SQLite's case folding for identifiers and keywords: ASCII letters only."""
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


def normalise(sql: str) -> str:
    """Same text for the same SQL whatever its layout, comments, keyword case or
    identifier quoting: its tokens, with one space between two that are words (a
    keyword, a name, a literal) and none elsewhere."""
    parts = _SPECIAL.split(sql)  # runs of words and punctuation, each special token between
    out: list[str] = []
    plain, word_before = parts[0], False
    for i in range(1, len(parts), 2):
        raw = parts[i]
        if raw[0] in "-/":  # a comment separates tokens, as a space does
            plain += " " + parts[i + 1]
            continue
        word_before = _words(out, plain, word_before)
        if word_before:
            out.append(" ")
        out.append(raw if raw[0] == "'" else _identifier(raw))
        plain, word_before = parts[i + 1], True
    _words(out, plain, word_before)
    return "".join(out)


def _words(out: list[str], text: str, word_before: bool) -> bool:
    """Append a run of words and punctuation, folded and respaced; whether it ends in a word."""
    text = _SPACE_NOT_BETWEEN_WORDS.sub("", " ".join(fold(text).split()))
    if not text:
        return word_before
    if word_before and _is_word(text[0]):
        out.append(" ")
    out.append(text)
    return _is_word(text[-1])


def _identifier(raw: str) -> str:
    """A quoted identifier unquoted where it needs no quotes, else in double quotes."""
    inner = raw[1:-1].replace('""', '"') if raw[0] == '"' else raw[1:-1]
    return fold(inner) if _PLAIN.match(inner) else f'"{inner}"'


def _is_word(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _type(declared: str) -> str:
    """A declared column type as SQLite reads it: case and spacing do not matter."""
    if declared.isalnum():  # most are one word: INTEGER, TEXT
        return declared.upper()
    return _TYPE_SPACE.sub(lambda m: m.group(1) or " ", declared.strip()).upper()


# Kinds in the order a script must create them; by name within a kind.
_KIND_ORDER = "CASE type WHEN 'table' THEN 0 WHEN 'view' THEN 1 WHEN 'index' THEN 2 ELSE 3 END"


def _objects(conn: sqlite3.Connection, exclude: set[str]) -> list[tuple[str, str, str, str]]:
    """(type, name, table, sql) of every object the user created, without sqlmig's tables
    and the shadow tables a virtual table makes for itself."""
    try:
        shadows = {r[1] for r in conn.execute("PRAGMA table_list") if r[2] == "shadow"}
    except sqlite3.Error:  # before SQLite 3.37 there is no table_list, nor any way to tell
        shadows = set()
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        # Only the prefix sqlite_ is reserved: `_` would match any character in LIKE.
        f"WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND sql IS NOT NULL "
        f"ORDER BY {_KIND_ORDER}, name"
    ).fetchall()
    return [r for r in rows if r[2] not in exclude and r[2] not in shadows]


def dump(conn: sqlite3.Connection, exclude: set[str]) -> str:
    """The schema as a script: SQLite keeps each object's CREATE statement as written,
    so those texts are the dump, and loading it stores the same texts again."""
    statements = [
        # SQLite keeps a statement's text up to its last token, so it can end in a comment.
        f"{sql};\n" if sqlite3.complete_statement(f"{sql};") else f"{sql}\n;\n"
        for _kind, _name, _table, sql in _objects(conn, exclude)
    ]
    return "\n".join([dump_header("sqlite_master"), *statements])


def introspect(conn: sqlite3.Connection, exclude: set[str]) -> Schema:
    schema: Schema = {}
    tables: set[str] = set()
    virtual: set[str] = set()
    for kind, name, _table, sql in _objects(conn, exclude):
        schema[f"{kind} {_quote(name)}"] = {"definition": normalise(sql)}
        if kind == "table":
            (virtual if fold(sql).startswith("create virtual") else tables).add(name)
    columns = _columns(conn.execute(_PER_TABLE.format(pragma="table_xinfo")), tables)
    for name in sorted(virtual):
        # Without its module (sqlite-vec, spatialite...) loaded, only its text is compared.
        with contextlib.suppress(sqlite3.Error):
            rows = conn.execute("SELECT ?, p.* FROM pragma_table_xinfo(?) p", (name, name))
            columns.update(_columns(rows, {name}))
    schema.update(columns)
    schema.update(_foreign_keys(conn, tables, columns))
    return schema


# Every table's PRAGMA rows in one query: the table-valued PRAGMA functions take the
# table name from the join. Virtual tables are read one by one: one whose module is not
# loaded would fail the whole query.
_PER_TABLE = (
    "SELECT m.name, p.* FROM sqlite_master m JOIN pragma_{pragma}(m.name) p "
    "WHERE m.type = 'table' AND m.sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY m.name, 2, 3"
)


def _quote(name: str) -> str:
    name = fold(name)
    return name if _PLAIN.match(name) else '"' + name.replace('"', '""') + '"'


def _columns(rows: Iterable[tuple[Any, ...]], tables: set[str]) -> Schema:
    out: Schema = {}
    # Names, types and defaults recur from table to table: each is worked out once.
    quoted: dict[str, str] = {}
    types: dict[str | None, str] = {"": "(none)", None: "(none)"}
    defaults: dict[str | None, str] = {None: "(none)"}
    for table, _cid, name, ctype, notnull, default, pk, hidden in rows:
        if table not in tables:
            continue
        for text in (table, name):
            if text not in quoted:
                quoted[text] = _quote(text)
        if ctype not in types:
            types[ctype] = _type(ctype)
        if default not in defaults:
            defaults[default] = normalise(default)
        out[f"column {quoted[table]}.{quoted[name]}"] = {
            "type": types[ctype],
            "nullable": "no" if notnull else "yes",
            "default": defaults[default],
            "primary key position": str(pk),
            "generated": {2: "virtual", 3: "stored"}.get(hidden, "no"),
        }
    return out


def _foreign_keys(conn: sqlite3.Connection, tables: set[str], columns: Schema) -> Schema:
    groups: dict[tuple[str, int], list[tuple[str, ...]]] = {}
    for table, fk_id, _seq, parent, frm, to, on_update, on_delete, _match in conn.execute(
        _PER_TABLE.format(pragma="foreign_key_list")
    ):
        if table in tables:
            part = (_quote(parent), _quote(frm), _quote(to) if to else "", on_update, on_delete)
            groups.setdefault((table, fk_id), []).append(part)
    out: Schema = {}
    for (table, _), parts in groups.items():
        parent = parts[0][0]
        # REFERENCES p means p's primary key: say which columns that is.
        to = [p[2] for p in parts] if all(p[2] for p in parts) else _primary_key(parent, columns)
        out[f"foreign key {_quote(table)}.({', '.join(p[1] for p in parts)})"] = {
            "references": f"{parent}({', '.join(to)})",
            "on update": parts[0][3].lower(),
            "on delete": parts[0][4].lower(),
        }
    return out


def _primary_key(table: str, columns: Schema) -> list[str]:
    prefix = f"column {table}."
    keyed = [
        (int(attrs["primary key position"]), key.removeprefix(prefix))
        for key, attrs in columns.items()
        if key.startswith(prefix) and attrs["primary key position"] != "0"
    ]
    return [name for _, name in sorted(keyed)]
