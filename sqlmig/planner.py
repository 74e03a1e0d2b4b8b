"""Pure planning: (migration files, version-table rows, request) -> what to run, or why not.

No I/O here, so every refusal rule is testable without a database.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmig.errors import ConfigError, DirtyError, IrreversibleError, Problem, ValidationError
from sqlmig.models import AppliedRow, Migration, MigrationStatus, State


def statuses(migrations: list[Migration], rows: list[AppliedRow]) -> list[MigrationStatus]:
    """One entry per version known to the files or the database, in version order."""
    files = {m.version: m for m in migrations}
    applied = {r.version: r for r in rows}
    out = []
    for version in sorted(files.keys() | applied.keys()):
        m, r = files.get(version), applied.get(version)
        name = m.name if m else r.name  # type: ignore[union-attr]
        out.append(MigrationStatus(version, name, *_state(m, r)))
    return out


def _state(
    m: Migration | None, r: AppliedRow | None
) -> tuple[State, Migration | None, AppliedRow | None, str]:
    if r is None:
        return State.PENDING, m, r, ""
    if m is None:
        return State.MISSING, m, r, "applied, but its files are not in the migration folder"
    if r.status == "dirty":
        return (
            State.DIRTY,
            m,
            r,
            f"failed part-way: run `sqlmig resolve {r.version} --applied|--rolled-back`",
        )
    edited = []
    if r.checksum != m.up.checksum:
        edited.append(f"{m.up.path} edited since applied")
    if r.down_checksum is not None and r.down_checksum != m.down.checksum:
        edited.append(f"{m.down.path} edited since applied")
    if edited:
        return State.CHANGED, m, r, "; ".join(edited)
    notes = ["baseline"] if r.kind == "baseline" else []
    if r.name != m.name:  # same SQL under a new name: worth saying, not worth refusing
        notes.append(f"applied as {r.name}")
    return State.APPLIED, m, r, "; ".join(notes)


def problems(entries: Iterable[MigrationStatus], *, allow_out_of_order: bool) -> list[Problem]:
    """Disagreements between files and database that make running anything unsafe."""
    entries = list(entries)
    found: list[Problem] = []
    highest = max((e.version for e in entries if e.row is not None), default=0)
    for e in entries:
        if e.state is State.CHANGED:
            found.append(Problem(f"version {e.version}: {e.detail}", version=e.version))
        elif e.state is State.MISSING:
            found.append(
                Problem(
                    f"version {e.version} ({e.name}) is applied but its files are missing: "
                    "the database is ahead of this code",
                    version=e.version,
                )
            )
        elif e.state is State.PENDING and e.version < highest and not allow_out_of_order:
            found.append(
                Problem(
                    f"version {e.version} ({e.name}) is pending but version {highest} is already "
                    "applied (out of order; pass --allow-out-of-order if that is intended)",
                    version=e.version,
                )
            )
    return found


HINT = (
    "An edited applied file: restore it from version control, or if the edit is intended "
    "run `sqlmig accept VERSION` to record its new checksum."
)


def _refuse_unsafe(entries: list[MigrationStatus], *, allow_out_of_order: bool) -> None:
    for e in entries:
        if e.state is State.DIRTY:
            raise DirtyError(e.version, e.name)
    found = problems(entries, allow_out_of_order=allow_out_of_order)
    if found:
        hint = HINT if any(e.state is State.CHANGED for e in entries) else ""
        raise ValidationError(found, hint)


def plan_apply(
    migrations: list[Migration],
    rows: list[AppliedRow],
    *,
    target: int | None = None,
    allow_out_of_order: bool = False,
) -> list[Migration]:
    """Pending migrations up to ``target`` in version order; raise if anything is unsafe."""
    entries = statuses(migrations, rows)
    _refuse_unsafe(entries, allow_out_of_order=allow_out_of_order)
    if target is not None and target not in {m.version for m in migrations}:
        raise ConfigError(f"--to {target}: there is no migration with version {target}")
    return [
        e.migration
        for e in entries
        if e.state is State.PENDING and e.migration and (target is None or e.version <= target)
    ]


def plan_rollback(
    migrations: list[Migration],
    rows: list[AppliedRow],
    *,
    count: int = 1,
    to: int | None = None,
) -> list[Migration]:
    """Applied migrations to undo, newest first: the last ``count``, or all above ``to``."""
    if count < 0:
        raise ConfigError("the number of migrations to roll back must be 0 or more")
    if to is not None and to < 0:  # -1 would mean "everything", which --to 0 says plainly
        raise ConfigError(f"--to {to}: use 0 to roll back every migration")
    entries = statuses(migrations, rows)
    _refuse_unsafe(entries, allow_out_of_order=True)
    applied = [e for e in reversed(entries) if e.row is not None]
    chosen = [e for e in applied if e.version > to] if to is not None else applied[:count]
    steps = [e.migration for e in chosen if e.migration]
    blocked = [m for m in steps if m.down.irreversible is not None]
    if blocked:
        reasons = "; ".join(
            f"{m.down.path} is marked irreversible"
            + (f": {m.down.irreversible}" if m.down.irreversible else "")
            for m in blocked
        )
        raise IrreversibleError(
            f"cannot roll back, nothing was run: {reasons}. Restore a backup taken before "
            "the migration instead, or write a down file that undoes it."
        )
    return steps
