"""redo and goto: apply's and rollback's plans, run by the one runner.

goto is an apply up to a version or a rollback down to it, so it is exactly as safe as
those (lock, backups, prompts, dry runs); redo runs both halves under one lock, with the
backup apply would take first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlmig.models import Direction, Migration, RunResult, State
from sqlmig.planmoves import plan_goto, plan_redo
from sqlmig.planner import ApplyPlan, RollbackPlan, statuses

if TYPE_CHECKING:
    from sqlmig.migrator import Migrator
    from sqlmig.models import BackupInfo
    from sqlmig.progress import Progress


def planned_redo(m: Migrator) -> Migration:
    migrations = m.migrations()
    m._check_set(migrations)
    return plan_redo(migrations, m.store().applied())


def redo(
    m: Migrator,
    *,
    progress: Progress | None = None,
    backup: bool | None = None,
    on_backup: Callable[[BackupInfo], None] | None = None,
) -> RunResult:
    from sqlmig import release
    from sqlmig.runner import reporting

    migrations = m.migrations()
    m._check_set(migrations)
    backup = m.settings.backup_by_default if backup is None else backup
    result = RunResult()
    with m.locked() as (engine, store):
        rows = store.applied()
        newest = plan_redo(migrations, rows)
        v = newest.version
        edited = {e.version for e in statuses(migrations, rows) if e.state is State.CHANGED}
        down = RollbackPlan(migrations, frozenset({v}), edited=frozenset(edited & {v}))
        if backup:
            result.backup = release.take_backup(m.settings, engine, rows, taken_by="redo")
        with reporting(result):
            if result.backup and on_backup:
                on_backup(result.backup)
            runner = m.runner(engine, store, progress)
            runner.run(down, result)
            runner.run(ApplyPlan(migrations, target=v), result)
            return m._with_status(result, migrations, store)


def planned_goto(
    m: Migrator, version: int, *, allow_out_of_order: bool = False
) -> tuple[Direction, list[Migration]]:
    migrations = m.migrations()
    m._check_set(migrations)
    return plan_goto(
        migrations, m.store().applied(), version, allow_out_of_order=allow_out_of_order
    )


def goto(
    m: Migrator,
    version: int,
    *,
    allow_out_of_order: bool = False,
    progress: Progress | None = None,
    backup: bool | None = None,
    on_backup: Callable[[BackupInfo], None] | None = None,
    expected: Sequence[int] | None = None,
) -> tuple[Direction, RunResult]:
    direction, steps = planned_goto(m, version, allow_out_of_order=allow_out_of_order)
    if not steps:  # there already (checked as apply would): no lock, no backup
        return direction, RunResult(status=m.status())
    if direction is Direction.UP:
        ran = m.apply(
            version,
            allow_out_of_order=allow_out_of_order,
            progress=progress,
            backup=backup,
            on_backup=on_backup,
        )
        return direction, ran
    ran = m.rollback(
        to=version, progress=progress, backup=backup, on_backup=on_backup, expected=expected
    )
    return direction, ran
