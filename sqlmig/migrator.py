"""The library API: everything the CLI does, callable from application code.

The Migrator never prints. It returns values (Status, RunResult, plans) and raises
SqlmigError subclasses; rendering is the CLI's business. Bookkeeping-only commands live
in admin.py, release operations in release.py, schema tools in schemaops.py; the
methods here that delegate to them are the public face.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlmig.config import PATH_SETTINGS, Settings, load_settings
from sqlmig.discovery import load_migrations
from sqlmig.engines import open_engine
from sqlmig.engines.base import Engine
from sqlmig.engines.store import Store
from sqlmig.errors import ConfigError, Problem, SqlmigError
from sqlmig.models import (
    AppliedRow,
    Direction,
    HistoryEvent,
    Migration,
    RowStatus,
    RunResult,
    SqlFile,
    Status,
    StoredSql,
)
from sqlmig.planner import (
    ApplyPlan,
    RollbackPlan,
    foreign_set,
    mismatch,
    plan_rollback,
    problems,
    statuses,
    warnings,
)
from sqlmig.planrules import refuse_outside_transaction
from sqlmig.records import RunContext, new_run_id
from sqlmig.runner import Runner, reporting

if TYPE_CHECKING:
    from sqlmig.models import BackupInfo, Metrics, RestoreResult, SeedResult, SeedStatus
    from sqlmig.progress import Activity, Progress
    from sqlmig.schemaops import Drift, DumpResult, RoundTripResult
    from sqlmig.variables import Bindings


class Migrator:
    """Migrations in ``directory`` (with up/ and down/) against the database at ``database_url``.

    Use as a context manager, or call ``close()``: one connection serves every call.
    """

    def __init__(
        self,
        database_url: str | None = None,
        directory: str | Path | None = None,
        *,
        settings: Settings | None = None,
        run_id: str | None = None,
        **options: Any,
    ) -> None:
        """``run_id``: the id this run's history rows carry (a fleet gives every target
        the same one); by default each run gets its own."""
        base = settings or Settings()
        if database_url is not None:
            options["database_url"] = database_url
        if directory is not None:
            options["dir"] = directory
        # Folders are fixed now, relative to today's cwd, in case the application chdirs
        # later; the backup folder too, where the CLI's would be (Settings.backup_folder).
        for name in PATH_SETTINGS:
            value = options.get(name, getattr(base, name))
            options[name] = None if value is None else Path(value).absolute()
        try:
            settings = replace(base, **options).checked()
            self.settings = replace(settings, backup_dir=settings.backup_folder)
        except TypeError as exc:
            raise ConfigError(f"unknown Migrator option: {exc}") from exc
        self.run_id = run_id
        self._engine: Engine | None = None
        self._store: Store | None = None
        self._writable = False
        self._cancelled = False

    @classmethod
    def from_config(cls, cwd: Path | None = None, **overrides: Any) -> Migrator:
        """Settings from flags-like ``overrides``, DATABASE_URL, sqlmig.toml/pyproject.toml."""
        return cls(settings=load_settings(overrides, cwd))

    def __enter__(self) -> Migrator:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = self._store = None

    def cancel(self) -> None:
        """From another thread: stop the statement running now and run nothing more; the
        run unwinds as on Ctrl-C (the migration in progress rolled back and recorded as
        interrupted, KeyboardInterrupt raised in the thread that runs it)."""
        self._cancelled = True
        if self._engine is not None:
            self._engine.cancel()

    # -- internals -------------------------------------------------------------------

    def migrations(self) -> list[Migration]:
        s = self.settings
        return load_migrations(s.dir, s.url.dialect, s.sqlite_journal_mode)

    def engine(self, *, write: bool = False) -> Engine:
        if self._engine is not None and (self._writable or not write):
            return self._engine
        self.close()
        if self._cancelled:
            raise KeyboardInterrupt
        self._engine = open_engine(self.settings, write=write)
        if self._cancelled:  # cancel() came while connecting, before it saw this engine
            self._engine.cancel()
        self._store = Store(self._engine, self.settings)
        self._writable = write
        return self._engine

    def store(self, *, write: bool = False) -> Store:
        self.engine(write=write)
        assert self._store is not None
        return self._store

    def target(self) -> str:
        """The database this migrator changes, URL masked, with its version table: for
        the first line of every command that writes. Connects, for writing."""
        engine = self.engine(write=True)
        home = f"{engine.home}." if engine.home else ""
        return f"{self.settings.url.masked} (table {home}{self.settings.table})"

    def activity(self) -> Activity | None:
        """From another thread, while a run is under way: what its connection waits for,
        or the server's progress with its statement (engine.activity); None if nothing."""
        engine = self._engine
        return engine.activity() if engine is not None else None

    @contextmanager
    def locked(
        self, first: Callable[[Engine, Store], None] | None = None
    ) -> Iterator[tuple[Engine, Store]]:
        """The writable engine and its store, holding the run lock, sqlmig's tables in
        place; ``first`` runs under the lock before they are made, seeing the database as
        it was."""
        engine = self.engine(write=True)
        store = self.store(write=True)
        engine.lock(self.settings.lock_timeout)
        try:
            if first is not None:
                first(engine, store)
            store.ensure_tables()
            yield engine, store
        except BaseException:
            # The error that ended the block is the one to report, not a failed unlock
            # (the connection it may have lost).
            with contextlib.suppress(SqlmigError):
                engine.unlock()
            raise
        engine.unlock()

    def runner(self, engine: Engine, store: Store, progress: Progress | None = None) -> Runner:
        return Runner(engine, store, self.context(engine, self.bindings()), progress)

    def context(self, engine: Engine, variables: Bindings | None = None) -> RunContext:
        """Who writes this call's history rows, under which run id: the one given (a
        fleet's), else a new one for the call, shared by all its rows."""
        return RunContext(
            engine.db_user(),
            self.run_id or new_run_id(),
            variables=variables,
            sql_limit=self.settings.stored_sql_limit,
        )

    def bindings(self) -> Bindings | None:
        """The values the files' variables take on this database; None if none is declared."""
        from sqlmig.variables import Bindings, values

        engine = self.engine()
        found = values(self.settings, engine.home)
        return Bindings(found, engine.dialect) if found else None

    def check_variables(self, files: Iterable[SqlFile]) -> None:
        """Raise ConfigError, before connecting, if a file uses an undeclared variable."""
        from sqlmig import variables

        variables.check(files, self.settings.url.dialect, variables.declared(self.settings))

    def _sides(self) -> dict[str, Any]:
        """The folder and the (masked) database, for the planner's "wrong database?"."""
        return {"folder": self.settings.dir, "database": self.settings.url.masked}

    def _check_set(self, migrations: list[Migration]) -> None:
        self.check_variables(f for m in migrations for f in (m.up, m.down))

    # -- reading -------------------------------------------------------------------

    def applied(self) -> list[AppliedRow]:
        """The version table's rows, by version."""
        return self.store().applied()

    def status(self) -> Status:
        from sqlmig.seeding import load_seeds

        migrations = self.migrations()
        store = self.store()
        seeds = load_seeds(self.settings.seeds_dir, store.seeds(), self.settings.url.dialect)
        rows = store.applied()
        files = {mig.version: mig for mig in migrations}
        invalid = {  # asked only about dirty versions: none, in the normal case
            r.version: self.engine().invalid_indexes(files[r.version])
            for r in rows
            if r.status is RowStatus.DIRTY and r.version in files
        }
        return Status(statuses(migrations, rows, invalid), self.settings.url.masked, seeds)

    def validate(self, status: Status | None = None) -> list[Problem]:
        """Every disagreement between files and database (the set itself raises if broken),
        and every use of a variable the run does not declare; of ``status`` if given."""
        from sqlmig import variables

        status = status or self.status()
        files = [
            f for e in status.entries if e.migration for f in (e.migration.up, e.migration.down)
        ]
        names = variables.declared(self.settings)
        unknown = variables.problems(files, self.settings.url.dialect, names)
        foreign = foreign_set(status.entries, self.settings.dir, status.database)
        found = problems(status.entries, allow_out_of_order=False, include_dirty=True)
        return ([foreign] if foreign else []) + found + unknown

    def warnings(self, status: Status | None = None) -> list[Problem]:
        """What validate reports without failing: down files edited since applied."""
        return warnings((status or self.status()).entries)

    def changes(self, status: Status | None = None) -> dict[int, list[str]]:
        """For each changed version (an edited up or down file): a unified diff, as lines,
        of its files against the SQL they were applied with, kept in the database."""
        from sqlmig.models import State
        from sqlmig.storedsql import differences

        entries = (status or self.status()).entries
        edited = [e for e in entries if e.state in (State.CHANGED, State.DOWN_CHANGED)]
        stored = self.store().stored_sql([e.version for e in edited])
        limit = self.settings.stored_sql_limit
        found = {
            e.version: differences(e, stored.get(e.version, StoredSql()), limit) for e in edited
        }
        return {v: lines for v, lines in found.items() if lines}

    def history(
        self, limit: int | None = None, *, since: datetime | None = None, failed: bool = False
    ) -> list[HistoryEvent]:
        """Events newest first; ``since`` (aware or UTC) and ``failed`` narrow them down."""
        if since is not None:
            since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        stamp = since.isoformat() if since else None
        return self.store().history(limit, stamp, failed)

    def ensure_current(self) -> None:
        """Raise VersionMismatch unless the database is exactly at the files' newest version."""
        status = self.status()
        found = mismatch(status.entries, status.database, self.settings.dir)
        if found is not None:
            raise found

    # -- planning (dry runs) -------------------------------------------------------

    def plan_apply(
        self, target: int | None = None, *, allow_out_of_order: bool = False
    ) -> list[Migration]:
        from sqlmig.admin import refuse_unadopted_database

        migrations = self.migrations()
        self._check_set(migrations)
        plan = ApplyPlan(migrations, target, allow_out_of_order, **self._sides())
        steps = plan.steps(self.store().applied(), 0)
        refuse_unadopted_database(self.settings, plan, self.engine(), self.store())
        return steps

    def plan_rollback(
        self, count: int = 1, *, to: int | None = None, from_database: bool = False
    ) -> list[Migration]:
        files = self.migrations()
        self._check_set(files)  # before connecting
        store = self.store()
        migrations, hint = self._rollback_set(store, files, from_database)
        return plan_rollback(
            migrations, store.applied(), count=count, to=to, missing_hint=hint, **self._sides()
        )

    def _rollback_set(
        self, store: Store, files: list[Migration], from_database: bool
    ) -> tuple[list[Migration], str]:
        """The migrations a rollback runs the down files of: the folder's, or with
        ``from_database`` the SQL kept in the version rows; and what to say of versions
        whose files are missing."""
        from sqlmig import storedsql

        rows = store.applied()
        migrations = files
        if from_database:
            stored = store.stored_sql([r.version for r in rows])
            migrations = storedsql.from_database(files, rows, stored)
            self._check_set(migrations)  # the SQL kept may use variables too
        entries = statuses(migrations, rows)
        if not from_database:
            stored = store.stored_sql([e.version for e in entries if e.migration is None])
        return migrations, storedsql.missing_hint(entries, stored)

    # -- changing ------------------------------------------------------------------

    def apply(
        self,
        target: int | None = None,
        *,
        allow_out_of_order: bool = False,
        progress: Progress | None = None,
        backup: bool | None = None,
        seed: bool = False,
        verify: bool = False,
        scratch_url: str | None = None,
        lint: bool = False,
        on_backup: Callable[[BackupInfo], None] | None = None,
        single_transaction: bool = False,
    ) -> RunResult:
        """Apply pending migrations (up to ``target``), each in its own transaction.

        ``backup`` (default: on for SQLite, off for PostgreSQL) takes a checked backup
        first when there is anything to apply, and hands it to ``on_backup`` before the
        first migration runs; ``seed`` applies changed seeds afterwards; ``verify`` then
        compares the schema with DIR/schema.sql (``result.drift``); ``lint`` refuses,
        before anything runs, when lint reports any pending statement;
        ``single_transaction`` runs them all in one transaction instead, all or nothing
        (refused before anything runs if one is a no-transaction file); ``progress`` is
        told as each migration starts and ends. Whatever ends the
        run once it started carries ``.partial``, the backup included (an interrupt is
        an ``Interrupted``, a KeyboardInterrupt that has one).
        """
        from sqlmig import admin, release

        if verify and target is not None:
            raise ConfigError("--verify compares with schema.sql, the newest version: drop --to")
        if verify:  # before migrating: an error after would mislead
            self.check_scratch(scratch_url)
        if lint:
            self._lint_gate()
        migrations = self.migrations()
        self._check_set(migrations)
        if backup is None:
            backup = self.settings.backup_by_default
        plan = ApplyPlan(migrations, target, allow_out_of_order, **self._sides())
        if seed:  # an unreadable seed file must stop the run before it migrates
            release.check_seeds(self.settings)
        result = RunResult()
        unadopted = functools.partial(admin.refuse_unadopted_database, self.settings, plan)
        with self.locked(unadopted) as (engine, store):
            rows = store.applied()
            steps = plan.steps(rows, 0)
            if single_transaction:
                refuse_outside_transaction(steps, Direction.UP)
            if steps and backup:
                result.backup = release.take_backup(self.settings, engine, rows, taken_by="apply")
            with reporting(result):
                if result.backup and on_backup:
                    on_backup(result.backup)
                runner = self.runner(engine, store, progress)
                (runner.run_whole if single_transaction else runner.run)(plan, result)
                if seed:
                    release.run_seeds(self.settings, runner, store, result)
                self._with_status(result, migrations, store)
        if verify:
            with reporting(result):
                result.drift = self.diff(scratch_url=scratch_url)
        return result

    def rollback(
        self,
        count: int = 1,
        *,
        to: int | None = None,
        progress: Progress | None = None,
        single_transaction: bool = False,
        backup: bool | None = None,
        on_backup: Callable[[BackupInfo], None] | None = None,
        expected: Sequence[int] | None = None,
        from_database: bool = False,
    ) -> RunResult:
        """Run the down files of the last ``count`` applied migrations (or all above ``to``);
        ``single_transaction``, ``backup`` and ``on_backup`` as for apply (the backup is
        taken when there is anything to roll back). ``expected``: the versions someone
        agreed to undo (a confirmation); if the database now says others, nothing runs.
        ``from_database``: the down SQL kept in the database when each was applied, not
        the files (which this checkout may not have)."""
        from sqlmig import release

        files = self.migrations()
        self._check_set(files)
        with self.locked() as (engine, store):
            migrations, hint = self._rollback_set(store, files, from_database)
            rows = store.applied()
            chosen = plan_rollback(
                migrations, rows, count=count, to=to, missing_hint=hint, **self._sides()
            )
            _refuse_unexpected(chosen, expected)
            if single_transaction:
                refuse_outside_transaction(chosen, Direction.DOWN)
            plan = RollbackPlan(migrations, frozenset(m.version for m in chosen))
            result = RunResult()
            if chosen and (self.settings.backup_by_default if backup is None else backup):
                result.backup = release.take_backup(
                    self.settings, engine, rows, taken_by="rollback"
                )
            with reporting(result):
                if result.backup and on_backup:
                    on_backup(result.backup)
                runner = self.runner(engine, store, progress)
                (runner.run_whole if single_transaction else runner.run)(plan, result)
                return self._with_status(result, files, store)  # the folder as it is

    def _lint_gate(self) -> None:
        from sqlmig.errors import LintError
        from sqlmig.lint import findings, lint_pending

        found = lint_pending(self)
        if found:
            report = findings.text(found, len({f.path for f in found})).rstrip()
            raise LintError(
                f"lint found what this run would do, nothing was run:\n{report}\n"
                "Fix the statements, or silence a finding with '-- sqlmig: allow RULE-ID "
                "reason' where it is right.",
                list(found),
            )

    def _with_status(
        self, result: RunResult, migrations: list[Migration], store: Store
    ) -> RunResult:
        """Attach the final status from the files already read: no second pass over them."""
        result.status = Status(statuses(migrations, store.applied()), self.settings.url.masked)
        return result

    def redo(
        self,
        *,
        progress: Progress | None = None,
        backup: bool | None = None,
        on_backup: Callable[[BackupInfo], None] | None = None,
    ) -> RunResult:
        """Roll back the newest applied migration and apply it again, under one lock (for
        iterating on it: its edited up file is what runs); ``backup`` as for apply."""
        from sqlmig import moves

        return moves.redo(self, progress=progress, backup=backup, on_backup=on_backup)

    def plan_redo(self) -> Migration:
        """The migration redo would roll back and apply again; raise as redo would."""
        from sqlmig import moves

        return moves.planned_redo(self)

    def goto(
        self,
        version: int,
        *,
        allow_out_of_order: bool = False,
        progress: Progress | None = None,
        backup: bool | None = None,
        on_backup: Callable[[BackupInfo], None] | None = None,
        expected: Sequence[int] | None = None,
    ) -> tuple[Direction, RunResult]:
        """Apply or roll back until the database is at ``version`` (0: none applied): an
        apply up to it or a rollback down to it, with their rules (``expected`` as for
        rollback); which way it went."""
        from sqlmig import moves

        return moves.goto(
            self,
            version,
            allow_out_of_order=allow_out_of_order,
            progress=progress,
            backup=backup,
            on_backup=on_backup,
            expected=expected,
        )

    def plan_goto(
        self, version: int, *, allow_out_of_order: bool = False
    ) -> tuple[Direction, list[Migration]]:
        """Which way goto would go, and the migrations it would run, in order."""
        from sqlmig import moves

        return moves.planned_goto(self, version, allow_out_of_order=allow_out_of_order)

    # -- bookkeeping-only commands (admin.py) -----------------------------------------

    def baseline(self, version: int) -> list[Migration]:
        """Record migrations up to ``version`` as applied without running them."""
        from sqlmig import admin

        return admin.baseline(self, version)

    def accept(self, versions: list[int] | None = None) -> list[int]:
        """Record the current checksums of edited applied files (all edited ones if None)."""
        from sqlmig import admin

        return admin.accept(self, versions)

    def resolve(self, version: int, *, applied: bool) -> None:
        """After a human repaired a dirty version: mark it applied, or remove it (rolled back)."""
        from sqlmig import admin

        admin.resolve(self, version, applied=applied)

    # -- release operations (release.py) ----------------------------------------------

    def backup(self) -> BackupInfo:
        """Take a backup now (under the run lock, so no migration runs meanwhile)."""
        from sqlmig import release

        return release.backup(self)

    def backups(self) -> list[BackupInfo]:
        """The backups in the backup folder, newest first."""
        from sqlmig import backups

        return backups.listing(self.settings.backup_folder)

    def restore(self, path: Path, *, force: bool = False) -> RestoreResult:
        """Put the database back as the backup at ``path`` holds it, version table
        included; the history of what happened since is kept, and a restore event
        added. A backup of another database is refused unless ``force``."""
        from sqlmig import release
        from sqlmig.models import RestoreResult

        notes = release.restore(self, Path(path), force=force)
        return RestoreResult(self.status(), notes)

    def plan_seeds(self) -> list[SeedStatus]:
        """The seed files ``seed`` would apply now (new or changed), in order; runs nothing."""
        from sqlmig import release

        return release.plan_seeds(self)

    def seed(self) -> list[SeedResult]:
        """Apply every seed file that is new or changed since it was last applied."""
        from sqlmig import release

        return release.seed(self)

    def metrics(self) -> Metrics:
        """Counters and gauges for monitoring, from the history and the current status."""
        from sqlmig import release

        return release.metrics(self)

    # -- schema tools (schemaops.py) ---------------------------------------------------

    def check_scratch(self, scratch_url: str | None = None) -> None:
        """Raise now if diff could not create its scratch database (no CREATEDB)."""
        from sqlmig.schema.scratch import check_scratch

        check_scratch(self.settings, scratch_url)

    def dump(
        self,
        to: Path | None = None,
        *,
        from_migrations: bool = False,
        scratch_url: str | None = None,
    ) -> DumpResult:
        """The live schema as deterministic SQL, without sqlmig's own tables; also written
        to ``to`` if given, replacing it whole (a reader never sees half a file).
        ``from_migrations``: the schema every up file builds in a scratch database
        instead (on ``scratch_url``'s server for PostgreSQL), the live one not touched."""
        from sqlmig import schemaops

        return schemaops.dump(self, to, from_migrations=from_migrations, scratch_url=scratch_url)

    def diff(self, baseline: Path | None = None, *, scratch_url: str | None = None) -> Drift:
        """Differences between the live schema and ``baseline`` (default: DIR/schema.sql,
        the newest version's; with migrations pending, the schema the applied ones build,
        at the database's version: ``.version``, ``.pending``).

        The baseline is built in a scratch database that is removed afterwards; []
        means they match. ``.notes`` says what building it took (roles made for it, grants
        compared as text) and what was compared while migrations are pending.
        """
        from sqlmig import schemaops

        return schemaops.drift(self, baseline, scratch_url)

    def test_roundtrip(self, *, scratch_url: str | None = None) -> RoundTripResult:
        """Up, down, up for every migration in a scratch database; then compare with
        DIR/schema.sql if it exists. No problems means every down file undoes its up file."""
        from sqlmig import schemaops

        return schemaops.roundtrip(self, scratch_url)


def _refuse_unexpected(chosen: list[Migration], expected: Sequence[int] | None) -> None:
    """A rollback confirmed for some versions must not undo others: a migration applied
    between the question and the answer would be undone unasked."""
    now = [m.version for m in chosen]
    if expected is not None and now != list(expected):
        from sqlmig.errors import StateError

        shown = ", ".join(map(str, now)) or "nothing"
        raise StateError(
            f"the database changed since the rollback was confirmed: it would now undo "
            f"{shown}, not {', '.join(map(str, expected))}; nothing was rolled back, run "
            "it again"
        )
