"""SQLite rules: tokens for what a statement says, SQLite itself for what it does.

The set is replayed, in version order, into an in-memory database by the same SQLite
library that applies it (with foreign keys off, as sqlmig runs migrations). What SQLite
refuses there it refuses everywhere, with its own message: a DROP COLUMN of an indexed
column, an ADD COLUMN NOT NULL without a default. Comparing the schema before and after
each statement shows the indexes and triggers a table rebuild loses.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field

from sqlmig.lint.context import Effect, FileContext
from sqlmig.sqlkind import Token, is_transaction_control, outside_transaction_only, tokens

STATEMENT_BUDGET_S = 2.0  # a data-generating statement is cut short, not waited for


def _name(toks: list[Token], i: int) -> tuple[str, int]:
    """The (possibly schema-qualified) name starting at ``i``, lower-cased, and what follows."""
    if i + 2 < len(toks) and toks[i + 1].text == ".":
        schema, name = toks[i].name.lower(), toks[i + 2].name.lower()
        return (name if schema in ("main", "temp") else f"{schema}.{name}"), i + 3
    return (toks[i].name.lower() if i < len(toks) else ""), i + 1


def _skip(w: list[str], i: int, *optional: str) -> int:
    while i < len(w) and w[i] in optional:
        i += 1
    return i


def effects(text: str) -> list[Effect]:
    toks = tokens(text, "sqlite")
    w = [t.word for t in toks]
    if w[:1] == ["CREATE"]:
        i = _skip(w, 1, "TEMP", "TEMPORARY", "VIRTUAL")
        if w[i : i + 1] == ["TABLE"]:
            return [Effect("create_table", _name(toks, _if_exists(w, i + 1))[0])]
    if w[:2] == ["DROP", "TABLE"]:
        return [Effect("drop_table", _name(toks, _if_exists(w, 2))[0])]
    if w[:2] == ["ALTER", "TABLE"]:
        table, i = _name(toks, 2)
        return _alter_effects(toks, w, table, i)
    return []


def _if_exists(w: list[str], i: int) -> int:
    if w[i : i + 2] == ["IF", "EXISTS"]:
        return i + 2
    return i + 3 if w[i : i + 3] == ["IF", "NOT", "EXISTS"] else i


def _alter_effects(toks: list[Token], w: list[str], table: str, i: int) -> list[Effect]:
    action = w[i : i + 1]
    if action == ["RENAME"]:
        if w[i + 1 : i + 2] == ["TO"]:
            return [Effect("rename_table", table, _name(toks, i + 2)[0])]
        j = _skip(w, i + 1, "COLUMN")
        if j + 2 < len(toks) and w[j + 1] == "TO":
            return [Effect("rename_column", table, toks[j].name.lower(), toks[j + 2].name.lower())]
    elif action in (["ADD"], ["DROP"]):
        j = _skip(w, i + 1, "COLUMN")
        if j < len(toks):
            kind = "add_column" if action == ["ADD"] else "drop_column"
            return [Effect(kind, table, toks[j].name.lower())]  # type: ignore[arg-type]
    return []


def check_pragma(ctx: FileContext) -> None:
    """sqlite-foreign-keys: the pragma is ignored in a transaction, lasts the run outside one."""
    text = ctx.statements[ctx.current].text
    found = outside_transaction_only(text, "sqlite")
    if found is None or not found.ignored:
        return
    if ctx.in_transaction:
        ctx.add("sqlite-foreign-keys", found.reason)
        return
    value = [t for t in tokens(text, "sqlite") if t.kind in ("word", "number", "string")][-1]
    if value.text.strip("'\"").lower() in ("on", "1", "true", "yes"):
        ctx.add(
            "sqlite-foreign-keys",
            "PRAGMA foreign_keys = ON outside a transaction stays on for every later migration "
            "of this run",
        )


_NOT_CONSTANT = {"CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP"}


def check_add_column(ctx: FileContext) -> None:
    """ADD COLUMN that SQLite refuses on a table with rows, which an empty replay cannot show:
    NOT NULL without a default, and a default that is not a constant."""
    added = [e for e in ctx.effects[ctx.current] if e.kind == "add_column"]
    if not added or ctx.new.table(added[0].table):
        return
    name = f"{added[0].table}.{added[0].name}"
    toks = tokens(ctx.statements[ctx.current].text, "sqlite")
    w = [t.word for t in toks]
    default = w.index("DEFAULT") if "DEFAULT" in w else -1
    not_null = any(w[i : i + 2] == ["NOT", "NULL"] for i in range(len(w)))
    if not_null and default < 0:
        ctx.add(
            "add-column-not-null",
            f"adds NOT NULL column {name} without a default: SQLite refuses it if the table "
            "has rows",
        )
    value = toks[default + 1] if 0 <= default < len(toks) - 1 else None
    if value is not None and (value.text == "(" or value.word in _NOT_CONSTANT):
        ctx.add(
            "sqlite-refused",
            f"adds column {name} with a non-constant default: SQLite refuses it if the table "
            "has rows",
            fix="add the column with a constant default (or none), then UPDATE the existing "
            "rows; or rebuild the table",
        )


def _replays(text: str) -> bool:
    """Whether the replay runs ``text``: not transaction control, nothing that needs the
    database outside a transaction, and never ATTACH, which would create files."""
    if is_transaction_control(text, "sqlite") or outside_transaction_only(text, "sqlite"):
        return False
    first = next((t.word for t in tokens(text, "sqlite")), "")
    return first != "ATTACH"


@dataclass
class Replay:
    """An in-memory database that has run the set's statements so far."""

    db: sqlite3.Connection = field(default_factory=lambda: _memory())  # noqa: PLW0108 - defined below
    failed_at: list[str] = field(default_factory=list)  # "file:line" of each refusal so far

    def fork(self) -> Replay:
        copy = Replay(failed_at=list(self.failed_at))
        self.db.backup(copy.db)
        return copy

    def run(self, text: str) -> str | None:
        """SQLite's error for ``text``, or None (also when the statement was not run)."""
        if not _replays(text):
            return None
        deadline = time.monotonic() + STATEMENT_BUDGET_S
        self.db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            self.db.execute(text).fetchall()
        except sqlite3.Error as exc:
            return None if "interrupted" in str(exc) else str(exc)
        finally:
            self.db.set_progress_handler(None, 0)
        return None

    def objects_of(self, table: str) -> dict[str, tuple[str, str]]:
        """name -> (index or trigger, its SQL) of the indexes and triggers on ``table``."""
        rows = self.db.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            "AND sql IS NOT NULL AND lower(tbl_name) = ?",
            (table,),
        ).fetchall()
        return {name.lower(): (kind, sql) for kind, name, sql in rows}

    def tables(self) -> set[str]:
        rows = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {r[0].lower() for r in rows}


def _memory() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA foreign_keys = OFF")  # as sqlmig runs migrations
    return db


def _shape(sql: str) -> str:
    """An index's definition from ON onwards: the same index under another name matches."""
    toks = tokens(sql, "sqlite")
    on = next((i for i, t in enumerate(toks) if t.word == "ON"), 0)
    unique = any(t.word == "UNIQUE" for t in toks[:on])
    return ("unique " if unique else "") + " ".join(t.text.lower() for t in toks[on + 1 :])


@dataclass
class RebuildWatch:
    """The indexes and triggers each DROP TABLE of the file took with it."""

    lost: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    failed: bool = False  # a statement of the file was refused: the schema is not what it says

    def report(self, ctx: FileContext, replay: Replay) -> None:
        if self.failed or not self.lost:
            return
        tables = replay.tables()
        for index, table, name, kind, sql in self.lost:
            if table not in tables:
                continue  # gone for good: drop-table's business, not a rebuild
            now = replay.objects_of(table)
            shapes = {_shape(text) for k, text in now.values() if k == "index"}
            if name in now or (kind == "index" and _shape(sql) in shapes):
                continue  # created again, maybe under another name
            ctx.add(
                "sqlite-rebuild",
                f"drops {kind} {name} of {table} with the table, and the rebuilt {table} "
                "does not get it back",
                index=index,
            )


def replay_statement(
    ctx: FileContext | None, text: str, replay: Replay, watch: RebuildWatch, where: str
) -> None:
    """Run a statement (at ``where``, file:line) in the replay; with ``ctx`` (a file in
    scope, at this statement), report what SQLite refused. After a refusal the rest of the
    file is still replayed but not reported on: apply would have stopped there."""
    dropped = [e.table for e in effects(text) if e.kind == "drop_table"] if ctx else []
    before = {table: replay.objects_of(table) for table in dropped}
    error = replay.run(text)
    if ctx is not None and error is None:
        watch.lost += [
            (ctx.current, table, name, kind, sql)
            for table, objects in before.items()
            for name, (kind, sql) in sorted(objects.items())
        ]
    if error is None:
        return
    earlier = replay.failed_at[:1]
    replay.failed_at.append(where)
    if ctx is None or watch.failed:
        return
    watch.failed = True
    note = (
        f" (the replay already failed at {earlier[0]}: this may follow from it)" if earlier else ""
    )
    dropping = any(e.kind == "drop_column" for e in effects(text))
    rule = "sqlite-drop-column" if dropping else "sqlite-refused"
    ctx.add(rule, f"SQLite refuses this statement: {error}{note}")
