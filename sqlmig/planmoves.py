"""Pure planning of redo and goto: which existing plan (planner.py) each runs, or why not.

Both are made of apply's and rollback's plans, never rules of their own for what those
already decide; what is theirs is only what to undo and redo, and where to stop.
"""

from __future__ import annotations

from sqlmig.errors import ConfigError, IrreversibleError, StateError
from sqlmig.models import AppliedRow, Direction, Migration, State, database_version
from sqlmig.planner import plan_apply, plan_rollback, refuse_unsafe, statuses


def plan_redo(migrations: list[Migration], rows: list[AppliedRow]) -> Migration:
    """The newest applied migration, to roll back and apply again: refused before
    anything runs when its down file cannot run, or the apply after it would refuse."""
    entries = statuses(migrations, rows)
    applied = [e for e in entries if e.row is not None]
    if not applied:
        raise StateError(
            "redo: no migration is applied, so there is none to redo; run `sqlmig apply`"
        )
    newest = applied[-1]
    v, label = newest.version, f"version {newest.version} ({newest.name})"
    if newest.state is State.DIRTY:
        raise StateError(
            f"redo: {label} is dirty: it failed part-way, so neither of its files can be run "
            f"over it; nothing was run. Finish or undo it by hand, then `sqlmig resolve {v} "
            f"--applied` (then redo) or `sqlmig resolve {v} --rolled-back` (then apply)."
        )
    if newest.migration is None:
        raise StateError(
            f"redo: {label} is applied but its files are not in the migration folder: there "
            "is nothing to apply again; nothing was run."
        )
    down = newest.migration.down
    if down.irreversible is not None:
        reason = f": {down.irreversible.reason}" if down.irreversible.reason else ""
        raise IrreversibleError(
            f"redo: {down.path} is marked irreversible{reason}, and redo rolls back first; "
            "nothing was run. Restore a backup taken before the migration instead."
        )
    below = [e.version for e in entries if e.state is State.PENDING and e.version < v]
    if below:
        raise StateError(
            f"redo: version(s) {', '.join(map(str, below))} pending below {v}: applying {v} "
            "again would run them too; nothing was run. Apply them first "
            "(`sqlmig apply --allow-out-of-order`)."
        )
    # What the apply after the rollback would refuse, refused before the rollback runs.
    refuse_unsafe([e for e in entries if e.version != v], allow_out_of_order=False)
    return newest.migration


def plan_goto(
    migrations: list[Migration],
    rows: list[AppliedRow],
    version: int,
    *,
    allow_out_of_order: bool = False,
) -> tuple[Direction, list[Migration]]:
    """Which way to go to put the database at ``version`` (0: no migration applied),
    and the steps: apply's plan up to it, or rollback's down to it."""
    if version < 0:
        raise ConfigError(f"goto {version}: a version is 0 (none applied) or more")
    known = {m.version for m in migrations} | {r.version for r in rows}
    if version != 0 and version not in known:
        raise ConfigError(f"goto {version}: there is no migration with version {version}")
    current = database_version(rows)
    if version == current == 0:  # nothing applied, none wanted: still refuse what apply would
        refuse_unsafe(statuses(migrations, rows), allow_out_of_order=allow_out_of_order)
        return Direction.UP, []
    if version >= current:
        return Direction.UP, plan_apply(
            migrations, rows, target=version, allow_out_of_order=allow_out_of_order
        )
    if version != 0 and version not in {r.version for r in rows}:
        raise StateError(
            f"goto {version}: version {version} is not applied, and the database is at "
            f"{current}: rolling back to it would leave the database below it, not at it; "
            "nothing was run. Go to an applied version, or apply it first."
        )
    return Direction.DOWN, plan_rollback(migrations, rows, to=version)
