"""Release operations: backups before migrating, restore, seeds, metrics, wait."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmig.config import Settings
from sqlmig.engines import open_engine
from sqlmig.engines.base import Engine, Statement
from sqlmig.engines.store import Store
from sqlmig.errors import ConfigError, ConnectError
from sqlmig.models import (
    AppliedRow,
    BackupInfo,
    EventKind,
    Metrics,
    RunResult,
    SeedResult,
    SeedState,
    SeedStatus,
    State,
    database_version,
)

if TYPE_CHECKING:
    from sqlmig.migrator import Migrator
    from sqlmig.runner import Runner


def take_backup(
    settings: Settings, engine: Engine, rows: list[AppliedRow], *, taken_by: str = "backup"
) -> BackupInfo:
    from sqlmig import backups

    version = database_version(rows)
    label = None
    if settings.target is not None:  # fleet targets may share a database: name the target
        from sqlmig.targets import backup_label

        label = backup_label(settings.target)
    return backups.take(
        engine,
        settings.backup_folder,
        version,
        settings.backup_keep,
        taken_by=taken_by,
        label=label,
    )


def backup(m: Migrator) -> BackupInfo:
    if not m.engine().exists():
        raise ConfigError(f"{m.settings.url.masked} does not exist yet: nothing to back up")
    with m.locked() as (engine, store):
        return take_backup(m.settings, engine, store.applied())


def restore(m: Migrator, path: Path, *, force: bool) -> list[str]:
    """Put the database back as the backup at ``path`` holds it; the history of what
    happened since is kept, followed by a restore event. Return what was left alone."""
    from sqlmig import backups
    from sqlmig.backup_rules import check_origin

    if not path.is_file():
        raise ConfigError(f"{path}: no such backup file")
    if m.settings.target is not None and m.settings.target.tenant is not None:
        raise ConfigError(
            f"restore replaces a whole database, not one tenant schema ({m.settings.target.name}): "
            "restore a tenant's backup with pg_restore --schema"
        )
    engine = m.engine(write=True)
    store = m.store(write=True)
    ctx = m.context(engine)
    notes: list[str] = []

    _, source = backups.read_manifest(path)

    def prepare() -> list[Statement]:
        # Called by the engine once the file is known to be one of its backups and nothing
        # else can write: the refusal, and the history read, see the database as replaced.
        notes.extend(check_origin(source, engine.source(), path, force=force))
        before = database_version(store.applied())
        kept = store.history(None)[::-1]  # oldest first
        detail = f"from version {before}"
        event = ctx.event(EventKind.RESTORE, None, name=path.name, detail=detail)
        return store.after_restore(kept, event)

    engine.lock(m.settings.lock_timeout)
    try:
        notes.extend(engine.restore_from(path, source, prepare))
    finally:
        engine.unlock()
    return notes


def check_seeds(settings: Settings) -> None:
    """Raise now if a seed file cannot be read (not UTF-8, say), holds a statement that
    cannot run in its transaction, or uses an undeclared variable."""
    from sqlmig import variables
    from sqlmig.seeding import load_seeds

    seeds = load_seeds(settings.seeds_dir, {}, settings.url.dialect)
    names = variables.declared(settings)
    variables.check([s.file for s in seeds], settings.url.dialect, names)


def pending_seeds(settings: Settings, store: Store) -> list[SeedStatus]:
    """The seed files a seed run would apply now: the new and changed ones, in order.
    Every caller has run check_seeds: checking the statements again would split each
    file once more (about 5 s of a 500 MB seed's 42)."""
    from sqlmig.seeding import load_seeds

    found = load_seeds(settings.seeds_dir, store.seeds())
    return [s for s in found if s.state is not SeedState.APPLIED]


def run_seeds(settings: Settings, runner: Runner, store: Store, result: RunResult) -> None:
    """Apply the new and changed seed files, adding each to ``result.seeds``."""
    from sqlmig.seeding import run_seed

    for s in pending_seeds(settings, store):
        result.seeds.append(run_seed(runner, s.name, s.file, result))


def plan_seeds(m: Migrator) -> list[SeedStatus]:
    check_seeds(m.settings)
    return pending_seeds(m.settings, m.store())


def seed(m: Migrator) -> list[SeedResult]:
    check_seeds(m.settings)
    result = RunResult()
    with m.locked() as (engine, store):
        run_seeds(m.settings, m.runner(engine, store), store, result)
    return result.seeds


def metrics(m: Migrator) -> Metrics:
    status = m.status()
    store = m.store()
    counts = store.event_counts()
    run = store.last_run()
    return Metrics(
        database=status.database,
        applied=counts.get(EventKind.APPLY, 0),
        rolled_back=counts.get(EventKind.ROLLBACK, 0),
        failed=counts.get(EventKind.FAIL, 0),
        seeds_failed=counts.get("seed_fail", 0),
        current_version=status.current_version,
        pending=status.count(State.PENDING),
        last_run_seconds=run.seconds if run else None,
        last_run_at=run.ended_at if run else None,
        dirty=status.count(State.DIRTY),
        last_run_success=run.success if run else None,
    )


def wait_for(settings: Settings, timeout: float) -> float:
    """Retry connecting until the database answers; return the seconds it took.

    What waiting cannot fix (wrong credentials, a SQLite folder that does not exist)
    fails at once instead of after the timeout.
    """
    start = time.monotonic()
    while True:
        try:
            engine = open_engine(settings, write=False)
            try:
                engine.ping()
            finally:
                engine.close()
            waited: float = time.monotonic() - start
            return waited
        except ConnectError as exc:
            if not exc.retryable:
                raise
            if time.monotonic() - start >= timeout:
                raise ConnectError(
                    f"still not accepting connections after {timeout:g}s: {exc}"
                ) from exc
            time.sleep(0.5)
