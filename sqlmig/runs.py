"""apply and rollback: their plans (the dry runs) and their runs.

A run checks all it can before it takes the lock (the variables, the scratch database,
lint, the seeds), plans again under the lock from the rows it reads there, takes the
backup, and runs the plan with the one runner; whatever ends it carries ``.partial``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlmig.errors import ConfigError
from sqlmig.models import Direction, Migration, RunResult
from sqlmig.planner import ApplyPlan, RollbackPlan, plan_rollback, statuses
from sqlmig.planrules import refuse_outside_transaction
from sqlmig.runner import reporting

if TYPE_CHECKING:
    from sqlmig.engines.store import Store
    from sqlmig.migrator import Migrator
    from sqlmig.models import BackupInfo
    from sqlmig.progress import Progress


def planned_apply(m: Migrator, target: int | None, *, allow_out_of_order: bool) -> list[Migration]:
    from sqlmig.admin import refuse_unadopted_database

    migrations = m.migrations()
    m._check_set(migrations)
    plan = ApplyPlan(migrations, target, allow_out_of_order, **m._sides())
    steps = plan.steps(m.store().applied(), 0)
    refuse_unadopted_database(m.settings, plan, m.engine(), m.store())
    return steps


def planned_rollback(
    m: Migrator, count: int, *, to: int | None, from_database: bool
) -> list[Migration]:
    files = m.migrations()
    m._check_set(files)  # before connecting
    store = m.store()
    migrations, hint = rollback_set(m, store, files, from_database)
    return plan_rollback(
        migrations, store.applied(), count=count, to=to, missing_hint=hint, **m._sides()
    )


def rollback_set(
    m: Migrator, store: Store, files: list[Migration], from_database: bool
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
        m._check_set(migrations)  # the SQL kept may use variables too
    entries = statuses(migrations, rows)
    if not from_database:
        stored = store.stored_sql([e.version for e in entries if e.migration is None])
    return migrations, storedsql.missing_hint(entries, stored)


def apply(
    m: Migrator,
    target: int | None,
    *,
    allow_out_of_order: bool,
    progress: Progress | None,
    backup: bool | None,
    seed: bool,
    verify: bool,
    scratch_url: str | None,
    lint: bool,
    on_backup: Callable[[BackupInfo], None] | None,
    single_transaction: bool,
) -> RunResult:
    from sqlmig import admin, release

    if verify and target is not None:
        raise ConfigError("--verify compares with schema.sql, the newest version: drop --to")
    if verify:  # before migrating: an error after would mislead
        m.check_scratch(scratch_url)
    if lint:
        _lint_gate(m)
    migrations = m.migrations()
    m._check_set(migrations)
    if backup is None:
        backup = m.settings.backup_by_default
    plan = ApplyPlan(migrations, target, allow_out_of_order, **m._sides())
    if seed:  # an unreadable seed file must stop the run before it migrates
        release.check_seeds(m.settings)
    result = RunResult()
    unadopted = functools.partial(admin.refuse_unadopted_database, m.settings, plan)
    with m.locked(unadopted) as (engine, store):
        rows = store.applied()
        steps = plan.steps(rows, 0)
        if single_transaction:
            refuse_outside_transaction(steps, Direction.UP)
        if steps and backup:
            result.backup = release.take_backup(m.settings, engine, rows, taken_by="apply")
        with reporting(result):
            if result.backup and on_backup:
                on_backup(result.backup)
            runner = m.runner(engine, store, progress)
            (runner.run_whole if single_transaction else runner.run)(plan, result)
            if seed:
                release.run_seeds(m.settings, runner, store, result)
            m._with_status(result, migrations, store)
    if verify:
        with reporting(result):
            result.drift = m.diff(scratch_url=scratch_url)
    return result


def rollback(
    m: Migrator,
    count: int,
    *,
    to: int | None,
    progress: Progress | None,
    single_transaction: bool,
    backup: bool | None,
    on_backup: Callable[[BackupInfo], None] | None,
    expected: Sequence[int] | None,
    from_database: bool,
) -> RunResult:
    from sqlmig import release

    files = m.migrations()
    m._check_set(files)
    with m.locked() as (engine, store):
        migrations, hint = rollback_set(m, store, files, from_database)
        rows = store.applied()
        chosen = plan_rollback(
            migrations, rows, count=count, to=to, missing_hint=hint, **m._sides()
        )
        _refuse_unexpected(chosen, expected)
        if single_transaction:
            refuse_outside_transaction(chosen, Direction.DOWN)
        plan = RollbackPlan(migrations, frozenset(mig.version for mig in chosen))
        result = RunResult()
        if chosen and (m.settings.backup_by_default if backup is None else backup):
            result.backup = release.take_backup(m.settings, engine, rows, taken_by="rollback")
        with reporting(result):
            if result.backup and on_backup:
                on_backup(result.backup)
            runner = m.runner(engine, store, progress)
            (runner.run_whole if single_transaction else runner.run)(plan, result)
            return m._with_status(result, files, store)  # the folder as it is


def _lint_gate(m: Migrator) -> None:
    from sqlmig.errors import LintError
    from sqlmig.lint import findings, lint_pending

    found = lint_pending(m)
    if found:
        report = findings.text(found, len({f.path for f in found})).rstrip()
        raise LintError(
            f"lint found what this run would do, nothing was run:\n{report}\n"
            "Fix the statements, or silence a finding with '-- sqlmig: allow RULE-ID "
            "reason' where it is right.",
            list(found),
        )


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
