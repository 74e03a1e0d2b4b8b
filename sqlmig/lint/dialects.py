"""What the walk does per statement on each engine: PostgreSQL parses with pglast and keeps
a schema model; SQLite reads tokens and replays the set into an in-memory database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmig.lint import pg_model, sqlite_rules
from sqlmig.lint.context import Effect, FileContext
from sqlmig.lint.pg_model import Catalog, Parsed
from sqlmig.lint.pg_rules import PgState, check_node, finish_file
from sqlmig.lint.sqlite_rules import RebuildWatch, Replay
from sqlmig.splitter import Statement


@dataclass
class PostgresDialect:
    catalog: Catalog = field(default_factory=Catalog)

    def fork(self) -> PostgresDialect:
        return PostgresDialect(self.catalog.copy())

    def prepare(self, statements: list[Statement]) -> list[Parsed]:
        return [pg_model.parse(st.text) for st in statements]

    def effects(self, prepared: Parsed) -> list[Effect]:
        return [e for node in prepared.nodes for e in pg_model.effects(node)]

    def begin(self) -> PgState:
        return PgState(self.catalog)

    def check(self, ctx: FileContext, prepared: Parsed, state: PgState) -> None:
        if prepared.error:
            offset, message = prepared.error
            ctx.add("parse-error", f"PostgreSQL's parser refuses it: {message}", at=offset)
        for node in prepared.nodes:
            check_node(ctx, node, state)

    def advance(
        self, ctx: FileContext | None, prepared: Parsed, state: PgState, where: str
    ) -> None:
        for node in prepared.nodes:
            self.catalog.apply(node)

    def finish(self, ctx: FileContext, state: PgState) -> None:
        finish_file(ctx, state)


@dataclass
class SqliteDialect:
    replay: Replay = field(default_factory=Replay)

    def fork(self) -> SqliteDialect:
        return SqliteDialect(self.replay.fork())

    def prepare(self, statements: list[Statement]) -> list[Statement]:
        return statements

    def effects(self, prepared: Statement) -> list[Effect]:
        return sqlite_rules.effects(prepared.text)

    def begin(self) -> RebuildWatch:
        return RebuildWatch()

    def check(self, ctx: FileContext, prepared: Statement, state: Any) -> None:
        sqlite_rules.check_pragma(ctx)
        sqlite_rules.check_add_column(ctx)

    def advance(
        self,
        ctx: FileContext | None,
        prepared: Statement,
        state: RebuildWatch,
        where: str,
    ) -> None:
        sqlite_rules.replay_statement(ctx, prepared.text, self.replay, state, where)

    def finish(self, ctx: FileContext, state: RebuildWatch) -> None:
        state.report(ctx, self.replay)
