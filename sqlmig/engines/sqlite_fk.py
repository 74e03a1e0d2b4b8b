"""The foreign-key check before a SQLite migration commits, in proportion to what it did.

Migrations run with foreign keys off (SQLite's table-rebuild procedure needs that), so
before each commit sqlmig checks them itself. `PRAGMA foreign_key_check` without a table
checks every key of the whole database: on a database with data every migration pays
for all of it. Instead SQLite's authorizer tells which tables the transaction's
statements write or change (it is called while each statement is compiled, trigger
bodies included), and only those are checked, with the tables whose keys point at them:
a row deleted from a parent, or a parent rebuilt, can orphan its children.

Two things keep this exact. The sqlite3 module caches compiled statements by their
text, and a cached statement is not compiled (so not authorized) again: the tables each
recent statement text touched are remembered, for more texts than that cache holds.
And the map from a table to the tables referencing it is kept from the catalog, read
whole once and again after a rename or a failed transaction, and otherwise refreshed
only for the tables a transaction created, changed or dropped.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict

# The actions that write or change a table: which of the callback's two arguments names
# it, and whether rows were written (else the table was created, altered, dropped or
# indexed).
_TABLE_ARG = {
    sqlite3.SQLITE_INSERT: (0, True),
    sqlite3.SQLITE_UPDATE: (0, True),
    sqlite3.SQLITE_DELETE: (0, True),
    sqlite3.SQLITE_CREATE_TABLE: (0, False),
    sqlite3.SQLITE_DROP_TABLE: (0, False),
    sqlite3.SQLITE_ALTER_TABLE: (1, False),
    sqlite3.SQLITE_CREATE_INDEX: (1, False),
    sqlite3.SQLITE_DROP_INDEX: (1, False),
}
# SQLite's own tables, as it names them to the callback: every CREATE writes the schema
# table several times, so these are passed over before any other work.
_SCHEMA = frozenset({"sqlite_master", "sqlite_temp_master", "sqlite_sequence"})
_REMEMBERED = 512  # statement texts; more than sqlite3's cache of compiled ones (128)


class ForeignKeyScope:
    """What the open transaction touched, and which tables that obliges a check of."""

    def __init__(self, own_tables: set[str]) -> None:
        self._own = {t.lower() for t in own_tables}
        self._written: set[str] = set()
        self._changed: set[str] = set()  # created, altered, dropped, indexed
        self._renamed = False
        # What the statement being compiled wrote and changed, while one is running.
        self._statement: tuple[set[str], set[str]] | None = None
        self._by_text: OrderedDict[str, tuple[frozenset[str], frozenset[str]]] = OrderedDict()
        self._children: dict[str, set[str]] | None = None  # parent -> tables referencing it
        self._parents: dict[str, set[str]] = {}

    def authorize(self, action: int, one: str | None, two: str | None, *_: object) -> int:
        """SQLite's authorizer callback: note the table, allow everything."""
        where = _TABLE_ARG.get(action)
        if where is not None:
            table = two if where[0] else one
            if table and table not in _SCHEMA:
                self._note(table.lower(), where[1])
                self._renamed |= action == sqlite3.SQLITE_ALTER_TABLE
        return sqlite3.SQLITE_OK

    def _note(self, name: str, written: bool) -> None:
        if name.startswith("sqlite_") or name in self._own:
            return
        (self._written if written else self._changed).add(name)
        if self._statement is not None:
            self._statement[0 if written else 1].add(name)

    def statement(self, sql: str) -> None:
        """Before running ``sql``: what it touched when last compiled counts again now."""
        seen = self._by_text.get(sql)
        if seen is not None:
            self._by_text.move_to_end(sql)
            self._written |= seen[0]
            self._changed |= seen[1]
            self._renamed |= bool(seen[1]) and _alters(sql)
        self._statement = (set(), set())

    def ran(self, sql: str) -> None:
        """After ``sql``: remember what it touched, for when it comes from the cache (a
        statement that touched nothing needs no entry: nothing to count again)."""
        if self._statement is None:
            return
        (written, changed), self._statement = self._statement, None
        if not (written or changed):
            return
        old = self._by_text.get(sql)
        if old is not None:
            written |= old[0]
            changed |= old[1]
        self._by_text[sql] = (frozenset(written), frozenset(changed))
        self._by_text.move_to_end(sql)
        if len(self._by_text) > _REMEMBERED:
            self._by_text.popitem(last=False)

    def begin(self) -> None:
        self._written, self._changed, self._renamed = set(), set(), False

    def forget(self) -> None:
        """The transaction was rolled back: what the map learned from it may be untrue."""
        self._children = None
        self.begin()

    def tables_to_check(self, conn: sqlite3.Connection) -> list[str]:
        """The tables whose keys the transaction may have broken: those it touched and
        those referencing them, that exist and have keys (checking any other finds none)."""
        touched = self._written | self._changed
        if not touched:
            return []
        if self._children is None or self._renamed:
            self._read_all(conn)
        else:
            for table in self._changed:
                self._refresh(conn, table)
        assert self._children is not None
        children = {c for t in touched for c in self._children.get(t, ())}
        return sorted(t for t in touched | children if t in self._parents)

    def _read_all(self, conn: sqlite3.Connection) -> None:
        self._children, self._parents = {}, {}
        rows = conn.execute(
            'SELECT m.name, f."table" FROM sqlite_master m '
            "JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'"
        ).fetchall()
        for child, parent in rows:
            self._link(child.lower(), parent)

    def _refresh(self, conn: sqlite3.Connection, table: str) -> None:
        assert self._children is not None
        for parent in self._parents.pop(table, set()):
            self._children.get(parent, set()).discard(table)
        # A lookup by name in SQLite's schema (sqlite_master has no index on names, and a
        # scan of it per migration would grow with the database). A table that is gone,
        # or has no keys, or is a view, has none listed: nothing of it to check.
        for (parent,) in conn.execute('SELECT "table" FROM pragma_foreign_key_list(?)', (table,)):
            self._link(table, parent)

    def _link(self, child: str, parent: str) -> None:
        assert self._children is not None
        self._parents.setdefault(child, set()).add(parent.lower())
        self._children.setdefault(parent.lower(), set()).add(child)


def _alters(sql: str) -> bool:
    return sql.lstrip()[:5].upper() == "ALTER"
