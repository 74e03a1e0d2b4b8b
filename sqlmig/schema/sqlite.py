"""SQLite's schema from sqlite_master and the table PRAGMAs.

Columns and foreign keys come from PRAGMAs, so their formatting cannot differ; what only
exists as text (CHECK constraints, generated columns, STRICT, WITHOUT ROWID, views,
triggers) is compared after normalising case, quoting and whitespace.
"""

from __future__ import annotations

import re
import sqlite3

from sqlmig.schema import Schema, dump_header

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|[\w$]+|\S")
_PLAIN = re.compile(r"^[A-Za-z_][\w$]*$")


def normalise(sql: str) -> str:
    """Same text for the same SQL whatever its layout, keyword case or identifier quoting."""
    out: list[str] = []
    for raw in _TOKEN.findall(sql):
        token = raw.lower() if raw[0] != "'" else raw
        if raw[0] in '"`[':
            inner = raw[1:-1].replace('""', '"') if raw[0] == '"' else raw[1:-1]
            token = inner.lower() if _PLAIN.match(inner) else f'"{inner}"'
        if out and _wordish(out[-1]) and _wordish(token):
            out.append(" ")
        out.append(token)
    return "".join(out)


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
        f"WHERE name NOT LIKE 'sqlite_%' AND sql IS NOT NULL ORDER BY {_KIND_ORDER}, name"
    ).fetchall()
    return [r for r in rows if r[2] not in exclude and r[2] not in shadows]


def dump(conn: sqlite3.Connection, exclude: set[str]) -> str:
    """The schema as a script: SQLite keeps each object's CREATE statement as written,
    so those texts are the dump, and loading it stores the same texts again."""
    statements = [f"{sql};\n" for _kind, _name, _table, sql in _objects(conn, exclude)]
    return "\n".join([dump_header("sqlite_master"), *statements])


def introspect(conn: sqlite3.Connection, exclude: set[str]) -> Schema:
    schema: Schema = {}
    tables = set()
    for kind, name, _table, sql in _objects(conn, exclude):
        schema[f"{kind} {_quote(name)}"] = {"definition": normalise(sql)}
        if kind == "table":
            tables.add(name)
    schema.update(_columns(conn, tables))
    schema.update(_foreign_keys(conn, tables))
    return schema


# Every table's PRAGMA rows in one query: the table-valued PRAGMA functions take the
# table name from the join.
_PER_TABLE = (
    "SELECT m.name, p.* FROM sqlite_master m JOIN pragma_{pragma}(m.name) p "
    "WHERE m.type = 'table' ORDER BY m.name{order}"
)


def _quote(name: str) -> str:
    return name if _PLAIN.match(name) else '"' + name.replace('"', '""') + '"'


def _columns(conn: sqlite3.Connection, tables: set[str]) -> Schema:
    out: Schema = {}
    query = _PER_TABLE.format(pragma="table_xinfo", order=", p.cid")
    for table, _cid, name, ctype, notnull, default, pk, hidden in conn.execute(query):
        if table not in tables:
            continue
        out[f"column {_quote(table)}.{_quote(name)}"] = {
            "type": ctype or "(none)",
            "nullable": "no" if notnull else "yes",
            "default": normalise(default) if default is not None else "(none)",
            "primary key position": str(pk),
            "generated": {2: "virtual", 3: "stored"}.get(hidden, "no"),
        }
    return out


def _foreign_keys(conn: sqlite3.Connection, tables: set[str]) -> Schema:
    groups: dict[tuple[str, int], list[tuple[str, ...]]] = {}
    query = _PER_TABLE.format(pragma="foreign_key_list", order=", p.id, p.seq")
    for table, fk_id, _seq, parent, frm, to, on_update, on_delete, match in conn.execute(query):
        if table in tables:
            part = (parent, frm, to or "", on_update, on_delete, match)
            groups.setdefault((table, fk_id), []).append(part)
    out: Schema = {}
    for (table, _), parts in groups.items():
        parent = parts[0][0]
        cols = ", ".join(p[1] for p in parts)
        out[f"foreign key {_quote(table)}.({cols})"] = {
            "references": f"{parent}({', '.join(p[2] for p in parts)})",
            "on update": parts[0][3].lower(),
            "on delete": parts[0][4].lower(),
        }
    return out
