"""Lint a migration set: walk it in version order, each file in the context sqlmig runs it in.

Every up file is read (and, on PostgreSQL, parsed) so that later files know what the
earlier ones built, but only the files in scope are judged: ``lint_from``, ``pending``
and ``paths`` narrow it down. A down file is judged against the schema its up file left,
with what that up file created counting as new.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlmig.lint.context import Effect, Env, FileContext, New, compat, introduced
from sqlmig.lint.directives import Allow, read_allows
from sqlmig.lint.findings import Finding, sort_key
from sqlmig.lint.rules import NEWEST_PG, RULES
from sqlmig.models import Migration, SqlFile
from sqlmig.splitter import Dialect, Statement, split
from sqlmig.sqlkind import is_transaction_control, outside_transaction_only, words

if TYPE_CHECKING:
    from sqlmig.config import Settings
    from sqlmig.migrator import Migrator


def lint_set(
    migrations: Sequence[Migration],
    settings: Settings,
    *,
    pending: Collection[int] | None = None,
    server_version: int | None = None,
    paths: Collection[Path] | None = None,
    batch: Collection[int] = (),
) -> list[Finding]:
    """Findings for the migration set: file by file in version order (each up file before
    its down file), by line and column within a file.

    - ``pending``: the versions apply would run, in order. Only their up files are linted,
      and they form one batch: a table one of them creates is new to the later ones.
    - ``server_version``: the connected server's major version (else ``pg_version``,
      else the newest PostgreSQL).
    - ``paths``: lint only these files (absolute paths), e.g. what ``--since`` found.
    - ``batch``: versions that will be applied together, when ``pending`` is not known
      (the files added since a git ref).

    Settings used: ``lint_from`` (versions at or below it are not linted), ``lint_rules``
    (severity per rule, or off), ``lock_timeout``, ``sqlite_journal_mode``, and the
    database URL's dialect. Nothing here connects to a database.
    """
    env = Env(
        settings.url.dialect,
        server_version or settings.pg_version or NEWEST_PG,
        settings.lock_timeout,
        settings.sqlite_journal_mode.lower(),
    )
    scope = set(in_scope(migrations, settings, pending=pending, paths=paths))
    together = set(pending if pending is not None else batch)
    walker = _Walk(env, settings.lint_rules, _pg() if env.dialect == "postgres" else _sqlite())
    batch_new = New()
    for m in sorted(migrations, key=lambda m: m.version):
        start = batch_new.copy() if m.version in together else New()
        effects = walker.file(m.up, "up", start, walker.dialect, judge=m.up.path in scope)
        if m.version in together:
            batch_new = start  # the walk advanced it through the file
        if m.down.path in scope:  # against what the up file left, on a copy
            walker.file(m.down, "down", introduced(effects), walker.dialect.fork(), judge=True)
    return walker.findings


def in_scope(
    migrations: Sequence[Migration],
    settings: Settings,
    *,
    pending: Collection[int] | None = None,
    paths: Collection[Path] | None = None,
) -> list[Path]:
    """The files lint judges: above ``lint_from``, among ``pending`` (up files only) and
    ``paths`` when given."""
    found = []
    for m in migrations:
        if settings.lint_from is not None and m.version <= settings.lint_from:
            continue
        if pending is not None and m.version not in pending:
            continue
        files = [m.up] if pending is not None else [m.up, m.down]
        found += [f.path for f in files if paths is None or f.path.resolve() in paths]
    return found


def lint_pending(migrator: Migrator, *, paths: Collection[Path] | None = None) -> list[Finding]:
    """Lint what ``apply`` would run now (for ``validate`` and ``apply --lint``): the
    pending up files as one batch, with the connected server's version. Raises what
    apply would raise when the set and the database disagree."""
    migrations = migrator.migrations()
    versions, server = pending_versions(migrator, migrations)
    return lint_set(
        migrations, migrator.settings, pending=versions, server_version=server, paths=paths
    )


def pending_versions(
    migrator: Migrator, migrations: Sequence[Migration]
) -> tuple[list[int], int | None]:
    """The versions apply would run now, and the server's major version (None on SQLite)."""
    from sqlmig.planner import plan_apply

    plan = plan_apply(list(migrations), migrator.applied())
    return [m.version for m in plan], server_major(migrator)


def server_major(migrator: Migrator) -> int | None:
    """The connected PostgreSQL server's major version; None on SQLite."""
    return migrator.engine().server_major()


class _Dialect(Protocol):
    def fork(self) -> _Dialect: ...
    def prepare(self, statements: list[Statement]) -> list[Any]: ...
    def effects(self, prepared: Any) -> list[Effect]: ...
    def begin(self) -> Any: ...
    def check(self, ctx: FileContext, prepared: Any, state: Any) -> None: ...
    def advance(self, ctx: FileContext | None, prepared: Any, state: Any, where: str) -> None: ...
    def finish(self, ctx: FileContext, state: Any) -> None: ...


def _pg() -> _Dialect:
    from sqlmig.lint.dialects import PostgresDialect

    return PostgresDialect()


def _sqlite() -> _Dialect:
    from sqlmig.lint.dialects import SqliteDialect

    return SqliteDialect()


@dataclass
class _Walk:
    env: Env
    rules: dict[str, str]
    dialect: _Dialect
    findings: list[Finding] = field(default_factory=list)

    def file(
        self, file: SqlFile, direction: str, new: New, dialect: _Dialect, *, judge: bool
    ) -> list[Effect]:
        """Walk one file (judging it when ``judge``); return what it created and dropped."""
        text = file.full_text()  # lint needs all of it at once, even of a streamed file
        statements = split(text, self.env.dialect)
        if ":'" in text or ':"' in text:  # psql variables: not SQL until substituted
            statements = [_placeholders(st, self.env.dialect) for st in statements]
        prepared = dialect.prepare(statements)
        effects = [dialect.effects(p) for p in prepared]
        ctx = FileContext(
            file.path,
            text,
            direction,
            not file.no_transaction,
            self.env,
            statements,
            effects,
            new,
        )
        state = dialect.begin()
        for i, st in enumerate(statements):
            ctx.current = i
            if judge:
                self._generic(ctx, st)
                dialect.check(ctx, prepared[i], state)
                compat(ctx)
            dialect.advance(
                ctx if judge else None, prepared[i], state, f"{file.path.name}:{st.line}"
            )
            for e in effects[i]:
                ctx.new.apply(e)
            _follow_transaction(ctx, st.text)
        if judge:
            dialect.finish(ctx, state)
            allows, problems = read_allows(file.path, text, statements, self.env.dialect)
            settled = self._settle(file.path, ctx.findings, allows) + problems
            self.findings += sorted(settled, key=sort_key)
        return [e for per_statement in effects for e in per_statement]

    def _generic(self, ctx: FileContext, st: Statement) -> None:
        dialect = self.env.dialect
        if ctx.transactional and is_transaction_control(st.text, dialect):
            first = words(st.text, dialect)[0]
            ctx.add(
                "transaction-control",
                f"{first} inside the transaction sqlmig runs this file in",
            )
        elif ctx.in_transaction:
            found = outside_transaction_only(
                st.text,
                dialect,
                server_version=self.env.server_version,
                journal_mode=self.env.journal_mode,
            )
            if found and not found.ignored:
                where = "this file's transaction" if ctx.transactional else "the BEGIN above it"
                ctx.add(
                    "needs-no-transaction",
                    f"{found.reason}, and it runs in {where}",
                    fix=found.fix,
                )

    def _settle(self, path: Path, findings: list[Finding], allows: list[Allow]) -> list[Finding]:
        """Apply the rule settings and the allow directives; report allows left unused."""
        kept = []
        for f in findings:
            setting = self.rules.get(f.rule)
            if setting == "off":
                continue
            covering = [a for a in allows if a.covers(f)] if RULES[f.rule].silenceable else []
            for a in covering:
                a.used = True
            if not covering:
                kept.append(replace(f, severity=setting) if setting else f)  # type: ignore[arg-type]
        for a in allows:
            if not a.used and self._reports_unused(a.rule):
                severity = self.rules.get("unused-allow", RULES["unused-allow"].severity)
                message = f"allow {a.rule} silences nothing here"
                kept.append(
                    Finding.of("unused-allow", path, a.line, a.col, message, severity=severity)
                )
        return kept

    def _reports_unused(self, rule: str) -> bool:
        """An allow left unused is reported unless its rule is off, or does not exist on
        this engine (a set that runs on both engines allows PostgreSQL rules too)."""
        return (
            self.env.dialect in RULES[rule].dialects
            and self.rules.get(rule) != "off"
            and self.rules.get("unused-allow") != "off"
        )


def _placeholders(st: Statement, dialect: Dialect) -> Statement:
    """The statement with each variable read as a literal or identifier of its own name,
    at the same offsets, so lint parses it (and points at the right columns)."""
    from sqlmig.variables import placeholders

    return replace(st, text=placeholders(st.text, dialect))


def _follow_transaction(ctx: FileContext, text: str) -> None:
    """In a no-transaction file, an explicit BEGIN ... COMMIT puts statements back in one."""
    if ctx.transactional or not is_transaction_control(text, ctx.env.dialect):
        return
    w = words(text, ctx.env.dialect)
    chained = "CHAIN" in w and "NO" not in w
    ctx.in_transaction = w[0] in ("BEGIN", "START") or chained
