"""How sqlmig will run a file: the context every rule is judged in.

- whether the statement runs inside a transaction (the file's own, or an explicit
  BEGIN in a no-transaction file);
- which tables and columns are new: created earlier in the same file, in an earlier
  file of the batch being linted (the pending migrations, or the files added since a
  git ref), or, for a down file, by its own up file. Rules about locks and renames are
  silent on those: nobody else uses them yet;
- the server's version (connected, or the ``pg_version`` setting), and sqlmig's own
  lock_timeout, which makes most "set a lock timeout first" advice moot.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlmig.lint.findings import Finding
from sqlmig.splitter import Dialect, Statement

EffectKind = Literal[
    "create_table", "drop_table", "rename_table", "add_column", "drop_column", "rename_column"
]


@dataclass(frozen=True, slots=True)
class Effect:
    """A change a statement makes to the set of tables and columns, in either dialect."""

    kind: EffectKind
    table: str
    name: str = ""  # the column; for rename_table the new table name
    new: str = ""  # rename_column: the new column name


@dataclass
class New:
    """Tables and columns nobody but this migration (or its batch) has used yet."""

    tables: set[str] = field(default_factory=set)
    columns: set[tuple[str, str]] = field(default_factory=set)

    def copy(self) -> New:
        return New(set(self.tables), set(self.columns))

    def table(self, name: str) -> bool:
        return name in self.tables

    def column(self, table: str, column: str) -> bool:
        return table in self.tables or (table, column) in self.columns

    def apply(self, e: Effect) -> None:
        if e.kind == "create_table":
            self.tables.add(e.table)
        elif e.kind == "drop_table":
            self.tables.discard(e.table)
            self.columns = {c for c in self.columns if c[0] != e.table}
        elif e.kind == "rename_table":
            if e.table in self.tables:
                self.tables.discard(e.table)
                self.tables.add(e.name)
            self.columns = {(e.name if t == e.table else t, c) for t, c in self.columns}
        elif e.kind == "add_column":
            self.columns.add((e.table, e.name))
        elif e.kind == "drop_column":
            self.columns.discard((e.table, e.name))
        elif e.kind == "rename_column" and (e.table, e.name) in self.columns:
            self.columns.discard((e.table, e.name))
            self.columns.add((e.table, e.new))


def _swapped_in(later: list[list[Effect]], table: str, column: str) -> bool:
    """Whether a later statement renames another column of ``table`` to ``column``: the
    copy-and-swap that changes a column's type or position keeps the name alive."""
    return any(
        e.kind == "rename_column" and e.table == table and e.new == column
        for effects in later
        for e in effects
    )


def _old_copy(ctx: FileContext, table: str) -> bool:
    """Whether ``table`` is the name an earlier statement of this file renamed a rebuilt
    table to: dropping that old copy ends the rebuild, already reported as table-rebuild."""
    return any(
        e.kind == "rename_table" and e.name == table and ctx.rebuilt_later(i, e.table)
        for i, effects in enumerate(ctx.effects[: ctx.current])
        for e in effects
    )


def introduced(effects: list[Effect]) -> New:
    """Every table and column name ``effects`` brought in (created, added, or renamed to):
    what a down file may remove again without breaking the application it rolls back to.
    A table dropped (or renamed away) and created again under its name was rebuilt, not
    brought in: it existed before."""
    new = New()
    gone: set[str] = set()
    for e in effects:
        if e.kind in ("drop_table", "rename_table"):
            gone.add(e.table)
        if e.kind == "create_table" and e.table not in gone:
            new.tables.add(e.table)
        elif e.kind == "rename_table" and e.name not in gone:
            new.tables.add(e.name)
        elif e.kind in ("add_column", "rename_column"):
            new.columns.add((e.table, e.new if e.kind == "rename_column" else e.name))
    return new


@dataclass(frozen=True, slots=True)
class Env:
    """What holds for every file of a run."""

    dialect: Dialect
    server_version: int  # PostgreSQL major version the rules assume
    lock_timeout: float  # sqlmig's lock_timeout in seconds; 0 waits forever
    journal_mode: str  # SQLite journal mode sqlmig sets


@dataclass
class FileContext:
    """One file being linted; ``new`` and ``in_transaction`` follow the current statement."""

    path: Path
    text: str
    direction: str  # "up" or "down"
    transactional: bool
    env: Env
    statements: list[Statement]
    effects: list[list[Effect]]  # per statement, the whole file (rules may look ahead)
    new: New
    in_transaction: bool = False
    current: int = 0  # the statement being judged
    findings: list[Finding] = field(default_factory=list)
    _line_starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.in_transaction = self.transactional
        starts = [0]
        starts += [i + 1 for i, ch in enumerate(self.text) if ch == "\n"]
        self._line_starts = starts

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset in the file."""
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def add(
        self,
        rule: str,
        message: str,
        *,
        at: int = 0,
        index: int | None = None,
        lock: str | None = None,
        fix: str | None = None,
    ) -> None:
        """Record a finding of ``rule`` on statement ``index`` (default: the current one),
        ``at`` characters into it; ``lock`` and ``fix`` replace the rule's general text."""
        index = self.current if index is None else index
        st = self.statements[index]
        line, col = self.position(st.offset + at)
        extra = {k: v for k, v in (("lock", lock), ("fix", fix)) if v is not None}
        self.findings.append(
            Finding.of(rule, self.path, line, col, message, statement=index, **extra)
        )

    def rebuilt_later(self, index: int, table: str) -> bool:
        """Whether a later statement of this transaction creates ``table`` again (or renames
        another table to it): then dropping or renaming it away is a rebuild, which the
        application never sees, not a removal."""
        if not self.transactional:
            return False
        return any(
            (e.kind == "create_table" and e.table == table)
            or (e.kind == "rename_table" and e.name == table)
            for later in self.effects[index + 1 :]
            for e in later
        )


def compat(ctx: FileContext) -> None:
    """rename-table, rename-column, drop-table, drop-column: the rules both dialects share."""
    index = ctx.current
    lock = None if ctx.env.dialect == "postgres" else ""  # SQLite has no table locks to name
    for e in ctx.effects[index]:
        if e.kind in ("drop_table", "rename_table"):
            if ctx.new.table(e.table) or (e.kind == "drop_table" and _old_copy(ctx, e.table)):
                continue
            if ctx.rebuilt_later(index, e.table):
                if ctx.env.dialect == "postgres":
                    message = f"rebuilds table {e.table}: it is created again later in this file"
                    ctx.add(
                        "table-rebuild", message, lock=f"ACCESS EXCLUSIVE on {e.table} until commit"
                    )
                continue
            if e.kind == "drop_table":
                ctx.add("drop-table", f"drops table {e.table}, which existed before", lock=lock)
            else:
                ctx.add("rename-table", f"renames table {e.table} to {e.name}", lock=lock)
        elif e.kind in ("drop_column", "rename_column") and not ctx.new.column(e.table, e.name):
            if ctx.transactional and _swapped_in(ctx.effects[index + 1 :], e.table, e.name):
                continue
            if e.kind == "drop_column":
                ctx.add("drop-column", f"drops column {e.table}.{e.name}", lock=lock)
            else:
                message = f"renames column {e.table}.{e.name} to {e.new}"
                ctx.add("rename-column", message, lock=lock)
