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

_TOKEN = re.compile(
    r"(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))"
    r"|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|[\w$]+|\S",
    re.DOTALL,
)
_PLAIN = re.compile(r"^[A-Za-z_][\w$]*$")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_TYPE_SPACE = re.compile(r"\s*([(),])\s*|\s+")


def fold(name: str) -> str:
    """SQLite's case folding for identifiers and keywords: ASCII letters only."""
    return name.translate(_ASCII_LOWER)


def normalise(sql: str) -> str:
    """Same text for the same SQL whatever its layout, comments, keyword case or
    identifier quoting."""
    out: list[str] = []
    for m in _TOKEN.finditer(sql):
        if m.lastgroup == "comment":
            continue
        raw = m.group()
        token = fold(raw) if raw[0] != "'" else raw
        if raw[0] in '"`[':
            inner = raw[1:-1].replace('""', '"') if raw[0] == '"' else raw[1:-1]
            token = fold(inner) if _PLAIN.match(inner) else f'"{inner}"'
        if out and _wordish(out[-1]) and _wordish(token):
            out.append(" ")
        out.append(token)
    return "".join(out)


def _type(declared: str) -> str:
    """A declared column type as SQLite reads it: case and spacing do not matter."""
    return _TYPE_SPACE.sub(lambda m: m.group(1) or " ", declared.strip()).upper()


def _wordish(token: str) -> bool:
    return token[0].isalnum() or token[0] in "_$'\""


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
    for table, _cid, name, ctype, notnull, default, pk, hidden in rows:
        if table not in tables:
            continue
        out[f"column {_quote(table)}.{_quote(name)}"] = {
            "type": _type(ctype) if ctype else "(none)",
            "nullable": "no" if notnull else "yes",
            "default": normalise(default) if default is not None else "(none)",
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
