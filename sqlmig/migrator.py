"""The library API: everything the CLI does, callable from application code.

The Migrator never prints. It returns values (Status, RunResult, plans) and raises
SqlmigError subclasses; rendering is the CLI's business.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlmig.config import PATH_SETTINGS, Settings, load_settings
from sqlmig.discovery import load_migrations
from sqlmig.engines import open_engine
from sqlmig.engines.base import Engine
from sqlmig.errors import ConfigError, ConnectError, Problem, ValidationError, VersionMismatch
from sqlmig.models import (
    AppliedRow,
    BackupInfo,
    HistoryEvent,
    Metrics,
    Migration,
    RunResult,
    State,
    Status,
    StepResult,
)
from sqlmig.planner import plan_apply, plan_rollback, problems, statuses
from sqlmig.runner import OnStep, Runner

T = TypeVar("T")


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
        **options: Any,
    ) -> None:
        base = settings or Settings()
        if database_url is not None:
            options["database_url"] = database_url
        if directory is not None:
            options["dir"] = directory
        # Folders are fixed now, relative to today's cwd, in case the application chdirs later.
        for name in PATH_SETTINGS:
            options[name] = Path(options.get(name, getattr(base, name))).absolute()
        try:
            self.settings = replace(base, **options).checked()
        except TypeError as exc:
            raise ConfigError(f"unknown Migrator option: {exc}") from None
        self._engine: Engine | None = None
        self._writable = False

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
            self._engine = None

    # -- internals -------------------------------------------------------------------

    def migrations(self) -> list[Migration]:
        return load_migrations(self.settings.dir)

    def engine(self, *, write: bool = False) -> Engine:
        if self._engine is not None and (self._writable or not write):
            return self._engine
        self.close()
        self._engine = open_engine(self.settings, write=write)
        self._writable = write
        return self._engine

    def _locked_run(self, work: Callable[[Engine, list[AppliedRow]], T]) -> T:
        """Run ``work(engine, rows)`` holding the run lock, with sqlmig's tables in place."""
        engine = self.engine(write=True)
        engine.lock(self.settings.lock_timeout)
        try:
            engine.ensure_tables()
            return work(engine, engine.read_applied())
        finally:
            engine.unlock()

    # -- reading -------------------------------------------------------------------

    def applied(self) -> list[AppliedRow]:
        return self.engine().read_applied()

    def status(self) -> Status:
        from sqlmig.seeding import load_seeds

        migrations = self.migrations()
        engine = self.engine()
        seeds = load_seeds(self.settings.seeds_dir, engine.read_seeds())
        entries = statuses(migrations, engine.read_applied())
        return Status(entries, self.settings.url.masked, seeds)

    def validate(self) -> list[Problem]:
        """Every disagreement between files and database (the set itself raises if broken)."""
        entries = self.status().entries
        found = problems(entries, allow_out_of_order=False)
        found += [
            Problem(f"version {e.version} ({e.name}) is dirty: {e.detail}", version=e.version)
            for e in entries
            if e.state is State.DIRTY
        ]
        return sorted(found, key=lambda p: p.version or 0)

    def history(
        self, limit: int | None = None, *, since: datetime | None = None, failed: bool = False
    ) -> list[HistoryEvent]:
        """Events newest first; ``since`` (aware or UTC) and ``failed`` narrow them down."""
        if since is not None:
            since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        stamp = since.isoformat() if since else None
        return self.engine().read_history(limit, stamp, failed)

    def ensure_current(self) -> None:
        """Raise VersionMismatch unless the database is exactly at the files' newest version."""
        status = self.status()
        pending = [e.version for e in status.entries if e.state is State.PENDING]
        unknown = [e.version for e in status.entries if e.state is State.MISSING]
        wrong = [e for e in status.entries if e.state in (State.CHANGED, State.DIRTY)]
        if not (pending or unknown or wrong):
            return
        parts = []
        if pending:
            parts.append(
                f"behind the code: {len(pending)} pending migration(s) {_versions(pending)}"
            )
        if unknown:
            parts.append(
                f"ahead of the code: version(s) {_versions(unknown)} applied "
                f"but not in {self.settings.dir}"
            )
        parts += [f"version {e.version} is {e.state.value}: {e.detail}" for e in wrong]
        raise VersionMismatch(
            f"version mismatch for {status.database}: " + "; ".join(parts), pending, unknown
        )

    # -- planning (dry runs) -------------------------------------------------------

    def plan_apply(
        self, target: int | None = None, *, allow_out_of_order: bool = False
    ) -> list[Migration]:
        migrations = self.migrations()
        return plan_apply(
            migrations, self.applied(), target=target, allow_out_of_order=allow_out_of_order
        )

    def plan_rollback(self, count: int = 1, *, to: int | None = None) -> list[Migration]:
        migrations = self.migrations()
        return plan_rollback(migrations, self.applied(), count=count, to=to)

    # -- changing ------------------------------------------------------------------

    def apply(
        self,
        target: int | None = None,
        *,
        allow_out_of_order: bool = False,
        on_step: OnStep | None = None,
        backup: bool | None = None,
        seed: bool = False,
    ) -> RunResult:
        """Apply pending migrations (up to ``target``), each in its own transaction.

        ``backup`` (default: on for SQLite, off for PostgreSQL) takes a checked backup
        first when there is anything to apply; ``seed`` applies changed seeds afterwards.
        """
        migrations = self.migrations()
        if backup is None:
            backup = self.settings.url.dialect == "sqlite"

        def replan(rows: list[AppliedRow], _: list[Migration]) -> list[Migration]:
            return plan_apply(
                migrations, rows, target=target, allow_out_of_order=allow_out_of_order
            )

        def work(engine: Engine, rows: list[AppliedRow]) -> RunResult:
            steps = replan(rows, [])
            if seed:  # an unreadable seed file must stop the run before it migrates
                from sqlmig.seeding import load_seeds

                load_seeds(self.settings.seeds_dir, {})
            taken = self._backup(engine, rows) if steps and backup else None
            result = Runner(engine, on_step).run(steps, "up", replan)
            result.backup = taken
            if seed:
                result.seeds = self._seed(engine)
            return self._with_status(result, migrations, engine)

        return self._locked_run(work)

    def rollback(
        self, count: int = 1, *, to: int | None = None, on_step: OnStep | None = None
    ) -> RunResult:
        """Run the down files of the last ``count`` applied migrations (or all above ``to``)."""
        migrations = self.migrations()

        def replan(rows: list[AppliedRow], steps: list[Migration]) -> list[Migration]:
            still = {r.version for r in rows}
            plan_rollback(migrations, rows, count=0)  # raises if the database became unsafe
            return [m for m in steps if m.version in still]

        def work(engine: Engine, rows: list[AppliedRow]) -> RunResult:
            steps = plan_rollback(migrations, rows, count=count, to=to)
            result = Runner(engine, on_step).run(steps, "down", replan)
            return self._with_status(result, migrations, engine)

        return self._locked_run(work)

    # -- release operations ----------------------------------------------------------

    def _backup(self, engine: Engine, rows: list[AppliedRow]) -> BackupInfo:
        from sqlmig import backups

        version = max((r.version for r in rows), default=0)
        s = self.settings
        return backups.take(engine, s.backup_dir, version, s.backup_keep)

    def backup(self) -> BackupInfo:
        """Take a backup now (under the run lock, so no migration runs meanwhile)."""
        if (
            self.settings.url.dialect == "sqlite"
            and not Path(self.settings.url.sqlite_path).exists()
        ):
            raise ConfigError(f"{self.settings.url.masked} does not exist yet: nothing to back up")
        return self._locked_run(self._backup)

    def backups(self) -> list[BackupInfo]:
        """The backups in the backup folder, newest first."""
        from sqlmig import backups

        return backups.listing(self.settings.backup_dir)

    def restore(self, path: Path) -> Status:
        """Replace the database with a backup; the version table comes back with it."""
        if not path.is_file():
            raise ConfigError(f"{path}: no such backup file")
        engine = self.engine(write=True)
        engine.lock(self.settings.lock_timeout)
        try:
            engine.restore_from(path)
            engine.ensure_tables()  # a backup from before sqlmig's seeds table existed
            engine.insert_history(Runner(engine).event("restore", None, name=path.name))
        finally:
            engine.unlock()
        return self.status()

    def _seed(self, engine: Engine) -> list[StepResult]:
        from sqlmig.seeding import load_seeds

        runner = Runner(engine)
        todo = [
            s
            for s in load_seeds(self.settings.seeds_dir, engine.read_seeds())
            if s.state != "applied"
        ]
        return [runner.run_seed(s.name, s.file) for s in todo]

    def seed(self) -> list[StepResult]:
        """Apply every seed file that is new or changed since it was last applied."""
        return self._locked_run(lambda engine, _: self._seed(engine))

    def check_scratch(self, scratch_url: str | None = None) -> None:
        """Raise now if diff could not create its scratch database (no CREATEDB)."""
        from sqlmig.schema.scratch import check_scratch

        check_scratch(self.settings, scratch_url)

    def dump(self, to: Path | None = None) -> str:
        """The live schema as deterministic SQL, without sqlmig's own tables; also written
        to ``to`` if given, replacing it whole (a reader never sees half a file)."""
        text = self.engine().dump_schema()
        if to is not None:
            _write_whole(to, text)
        return text

    def diff(self, baseline: Path | None = None, *, scratch_url: str | None = None) -> list[str]:
        """Differences between the live schema and ``baseline`` (default: DIR/schema.sql).

        The baseline is loaded into a scratch database that is removed afterwards; []
        means they match.
        """
        from concurrent.futures import ThreadPoolExecutor

        from sqlmig.schema import compare
        from sqlmig.schema.scratch import load_baseline, scratch

        path = baseline or self.settings.dir / "schema.sql"
        engine = self.engine()
        # The live catalogs are read while the scratch database loads: they are independent,
        # and PostgreSQL runs the two on different cores.
        with ThreadPoolExecutor(1) as pool:
            live = pool.submit(engine.introspect)
            with scratch(self.settings, scratch_url) as scratch_engine:
                base = load_baseline(scratch_engine, path)
            return compare(live.result(), base, "database", path.name)

    def test_roundtrip(self, *, scratch_url: str | None = None) -> list[str]:
        """Up, down, up for every migration in a scratch database; then compare with
        DIR/schema.sql if it exists. [] means every down file undoes its up file."""
        from sqlmig.schema.roundtrip import roundtrip

        return roundtrip(
            self.settings, self.migrations(), self.settings.dir / "schema.sql", scratch_url
        )

    def metrics(self) -> Metrics:
        """Counters and gauges for monitoring, from the history and the current status."""
        status = self.status()
        engine = self.engine()
        counts = dict(engine.fetch(engine.sql.history_counts))
        last = engine.fetch(engine.sql.last_run)
        duration_ms, last_at = last[0] if last else (None, None)
        return Metrics(
            database=status.database,
            applied=int(counts.get("apply", 0)),
            rolled_back=int(counts.get("rollback", 0)),
            failed=int(counts.get("fail", 0)),
            seeds_failed=int(counts.get("seed_fail", 0)),
            current_version=status.current_version or 0,
            pending=status.count(State.PENDING),
            last_run_seconds=(duration_ms or 0) / 1000 if last_at else None,
            last_run_at=_epoch(last_at) if last_at else None,
        )

    def baseline(self, version: int) -> list[Migration]:
        """Record migrations up to ``version`` as applied without running them."""
        migrations = self.migrations()
        if version not in {m.version for m in migrations}:
            raise ConfigError(f"baseline {version}: there is no migration with version {version}")

        def work(engine: Engine, rows: list[AppliedRow]) -> list[Migration]:
            if rows:
                raise ValidationError(
                    [
                        Problem(
                            f"the version table already has {len(rows)} row(s) "
                            f"(newest {rows[-1].version})"
                        )
                    ],
                    "baseline is for adopting sqlmig on a database it has never migrated.",
                )
            chosen = [m for m in migrations if m.version <= version]

            def record(r: Runner) -> None:
                for m in chosen:
                    engine.insert_row(r.row(m, "applied", kind="baseline"))
                detail = f"versions {chosen[0].version}..{version} marked applied without running"
                engine.insert_history(r.event("baseline", chosen[-1], detail=detail))

            self._bookkeeping_step(engine, record)
            return chosen

        return self._locked_run(work)

    def accept(self, versions: list[int] | None = None) -> list[int]:
        """Record the current checksums of edited applied files (all edited ones if None)."""
        migrations = self.migrations()

        def work(engine: Engine, rows: list[AppliedRow]) -> list[int]:
            entries = {e.version: e for e in statuses(migrations, rows)}
            for v in versions or []:
                if v not in entries or entries[v].state is not State.CHANGED:
                    state = entries[v].state.value if v in entries else "unknown"
                    raise ConfigError(
                        f"accept {v}: version {v} is {state}, not changed; nothing to accept"
                    )
            chosen = [
                e
                for e in entries.values()
                if e.state is State.CHANGED and (versions is None or e.version in versions)
            ]

            def record(r: Runner) -> None:
                for e in chosen:
                    assert e.migration and e.row
                    engine.update_row(
                        replace(
                            e.row,
                            checksum=e.migration.up.checksum,
                            down_checksum=e.migration.down.checksum,
                        )
                    )
                    engine.insert_history(
                        r.event(
                            "accept",
                            e.migration,
                            detail=f"{e.detail}; checksum was {e.row.checksum[:12]}",
                        )
                    )

            self._bookkeeping_step(engine, record)
            return [e.version for e in chosen]

        return self._locked_run(work)

    def resolve(self, version: int, *, applied: bool) -> None:
        """After a human repaired a dirty version: mark it applied, or remove it (rolled back)."""
        migrations = {m.version: m for m in self.migrations()}

        def work(engine: Engine, rows: list[AppliedRow]) -> None:
            row = next((r for r in rows if r.version == version), None)
            if row is None or row.status != "dirty":
                raise ConfigError(
                    f"resolve {version}: version {version} is not dirty; nothing to resolve"
                )
            m = migrations.get(version)
            if m is None:
                raise ConfigError(f"resolve {version}: its files are not in {self.settings.dir}")

            def record(r: Runner) -> None:
                if applied:
                    engine.update_row(r.row(m, "applied", kind=row.kind))
                else:
                    engine.delete_row(version)
                engine.insert_history(
                    r.event(
                        "resolve", m, detail="marked applied" if applied else "marked rolled back"
                    )
                )

            self._bookkeeping_step(engine, record)

        self._locked_run(work)

    def _with_status(
        self, result: RunResult, migrations: list[Migration], engine: Engine
    ) -> RunResult:
        """Attach the final status from the files already read: no second pass over them."""
        result.status = Status(
            statuses(migrations, engine.read_applied()), self.settings.url.masked
        )
        return result

    @staticmethod
    def _bookkeeping_step(engine: Engine, record: Callable[[Runner], None]) -> None:
        """Change only sqlmig's tables, in one transaction."""
        engine.begin()
        try:
            record(Runner(engine))
            engine.commit()
        except BaseException:
            engine.rollback()
            raise


def _versions(vs: list[int]) -> str:
    return ", ".join(str(v) for v in vs[:10]) + (" ..." if len(vs) > 10 else "")


def _epoch(stamp: object) -> float:
    if isinstance(stamp, datetime):
        return stamp.timestamp()
    return datetime.fromisoformat(str(stamp)).timestamp()


# libpq's answers from a server that is up and has refused us for good.
_FINAL = ("password authentication failed", "no pg_hba.conf entry", 'role "')


def wait_for(settings: Settings, timeout: float) -> float:
    """Retry connecting until the database answers; return the seconds it took.

    What waiting cannot fix (wrong credentials, a SQLite folder that does not exist)
    fails at once instead of after the timeout.
    """
    url = settings.url
    if url.dialect == "sqlite" and url.sqlite_path != ":memory:":
        folder = Path(url.sqlite_path).parent
        if not folder.is_dir():
            raise ConnectError(f"{url.masked}: folder {folder} does not exist")
    start = time.monotonic()
    while True:
        try:
            open_engine(settings, write=False).close()
            waited: float = time.monotonic() - start
            return waited
        except ConnectError as exc:
            if any(final in str(exc) for final in _FINAL):
                raise
            if time.monotonic() - start >= timeout:
                raise ConnectError(
                    f"still not accepting connections after {timeout:g}s: {exc}"
                ) from None
            time.sleep(0.5)


def _write_whole(to: Path, text: str) -> None:
    """Write ``text`` to ``to`` so that no reader sees half of it: a new file renamed over
    the old one. Not for a device or pipe (-o /dev/stdout), which is written as it is,
    nor through a symlink, whose target is the file replaced."""
    import os

    try:
        if to.exists() and not to.is_file():  # a device, pipe or terminal, maybe via a link
            to.write_text(text, "utf-8")
            return
        target = to.resolve()
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            partial.write_text(text, "utf-8")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write {to}: {exc.strerror or exc}") from None
