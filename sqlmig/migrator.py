"""The library API: everything the CLI does, callable from application code.

The Migrator never prints. It returns values (Status, RunResult, plans) and raises
SqlmigError subclasses; rendering is the CLI's business. The connection, the run lock
and the run context it stands on are in session.py; reading in reading.py, apply and
rollback in runs.py, redo and goto in moves.py, bookkeeping-only commands in admin.py,
release operations in release.py, schema tools in schemaops.py; the methods here that
delegate to them are the public face.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlmig.config import PATH_SETTINGS, Settings, load_settings
from sqlmig.errors import ConfigError, Problem
from sqlmig.models import AppliedRow, Direction, HistoryEvent, Migration, RunResult, Status
from sqlmig.planner import mismatch, warnings
from sqlmig.session import Session

if TYPE_CHECKING:
    from sqlmig.models import BackupInfo, Metrics, RestoreResult, SeedResult, SeedStatus
    from sqlmig.progress import Progress
    from sqlmig.schemaops import Drift, DumpResult, RoundTripResult


class Migrator(Session):
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
        except TypeError as exc:
            raise ConfigError(f"unknown Migrator option: {exc}") from exc
        super().__init__(replace(settings, backup_dir=settings.backup_folder), run_id)

    @classmethod
    def from_config(cls, cwd: Path | None = None, **overrides: Any) -> Migrator:
        """Settings from flags-like ``overrides``, DATABASE_URL, sqlmig.toml/pyproject.toml."""
        return cls(settings=load_settings(overrides, cwd))

    def __enter__(self) -> Migrator:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------

    def applied(self) -> list[AppliedRow]:
        """The version table's rows, by version."""
        return self.store().applied()

    def status(self) -> Status:
        from sqlmig import reading

        return reading.status(self)

    def validate(self, status: Status | None = None) -> list[Problem]:
        """Every disagreement between files and database (the set itself raises if broken),
        and every use of a variable the run does not declare; of ``status`` if given."""
        from sqlmig import reading

        return reading.validate(self, status or self.status())

    def warnings(self, status: Status | None = None) -> list[Problem]:
        """What validate reports without failing: down files edited since applied."""
        return warnings((status or self.status()).entries)

    def changes(self, status: Status | None = None) -> dict[int, list[str]]:
        """For each changed version (an edited up or down file): a unified diff, as lines,
        of its files against the SQL they were applied with, kept in the database."""
        from sqlmig import reading

        return reading.changes(self, status or self.status())

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
        from sqlmig import runs

        return runs.planned_apply(self, target, allow_out_of_order=allow_out_of_order)

    def plan_rollback(
        self, count: int = 1, *, to: int | None = None, from_database: bool = False
    ) -> list[Migration]:
        from sqlmig import runs

        return runs.planned_rollback(self, count, to=to, from_database=from_database)

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
        from sqlmig import runs

        return runs.apply(
            self,
            target,
            allow_out_of_order=allow_out_of_order,
            progress=progress,
            backup=backup,
            seed=seed,
            verify=verify,
            scratch_url=scratch_url,
            lint=lint,
            on_backup=on_backup,
            single_transaction=single_transaction,
        )

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
        from sqlmig import runs

        return runs.rollback(
            self,
            count,
            to=to,
            progress=progress,
            single_transaction=single_transaction,
            backup=backup,
            on_backup=on_backup,
            expected=expected,
            from_database=from_database,
        )

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
