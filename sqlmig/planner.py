"""Pure planning: (migration files, version-table rows, request) -> what to run, or why not.

No I/O here: every refusal and state rule is a function of its arguments, tested
without a database (tests/test_planner.py). The runner asks a plan for one step at a
time, from the rows it has just read, so a plan stays right when another runner
changes the database between steps. The refusals of single commands (baseline,
accept, resolve, diff, --single-transaction) are in planrules.py, redo and goto in
planmoves.py: both build on the states and plans here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlmig.errors import (
    ConfigError,
    DirtyError,
    IrreversibleError,
    Problem,
    ValidationError,
    VersionMismatch,
)
from sqlmig.models import (
    AppliedRow,
    Direction,
    Migration,
    MigrationStatus,
    RowKind,
    RowStatus,
    State,
)


def statuses(
    migrations: list[Migration],
    rows: list[AppliedRow],
    invalid: Mapping[int, Sequence[str]] | None = None,
) -> list[MigrationStatus]:
    """One entry per version known to the files or the database, in version order;
    ``invalid``: the INVALID indexes each dirty version left (engine.invalid_indexes)."""
    files = {m.version: m for m in migrations}
    applied = {r.version: r for r in rows}
    out = []
    for version in sorted(files.keys() | applied.keys()):
        m, r = files.get(version), applied.get(version)
        name = m.name if m else r.name  # type: ignore[union-attr]
        left = tuple((invalid or {}).get(version, ()))
        out.append(MigrationStatus(version, name, *_state(m, r, left), left))
    return out


def _state(
    m: Migration | None, r: AppliedRow | None, left: tuple[str, ...]
) -> tuple[State, Migration | None, AppliedRow | None, str]:
    if r is None:
        return State.PENDING, m, r, ""
    if m is None:
        return State.MISSING, m, r, "applied, but its files are not in the migration folder"
    if r.status is RowStatus.DIRTY:
        resolve = f"`sqlmig resolve {r.version} --applied|--rolled-back`"
        if left:
            resolve = f"{drop_phrase(left)}, then `sqlmig resolve {r.version} --rolled-back`"
            leaving = invalid_phrase(left)
            return State.DIRTY, m, r, f"failed part-way, leaving {leaving}: run {resolve}"
        return State.DIRTY, m, r, f"failed part-way: run {resolve}"
    edited = []
    if r.checksum != m.up.checksum:
        edited.append(f"{m.up.path} edited since applied")
    if r.down_checksum is not None and r.down_checksum != m.down.checksum:
        edited.append(f"{m.down.path} edited since applied")
        if len(edited) == 1:  # the down file alone: what was applied is still what is there
            return State.DOWN_CHANGED, m, r, f"{edited[0]}; {_DOWN_NOW}"
    if edited:
        return State.CHANGED, m, r, "; ".join(edited)
    notes = ["baseline"] if r.kind is RowKind.BASELINE else []
    if r.name != m.name:  # same SQL under a new name: worth saying, not worth refusing
        notes.append(f"applied as {r.name}")
    return State.APPLIED, m, r, "; ".join(notes)


_DOWN_NOW = "a rollback runs it as it is now"


def warnings(entries: Iterable[MigrationStatus]) -> list[Problem]:
    """What is worth knowing but stops nothing: down files edited since they were
    applied (a fixed comment, a better undo), which rollback runs as they are now."""
    return [
        Problem(
            f"version {e.version}: {e.detail} (`sqlmig accept {e.version}` records it)",
            version=e.version,
        )
        for e in entries
        if e.state is State.DOWN_CHANGED
    ]


def rollback_note(m: Migration, row: AppliedRow | None) -> str:
    """What a rollback of ``m`` says beside its result: that its down file changed since
    apply (it runs as it is now, and the history records its new checksum)."""
    if row is None or row.down_checksum is None or row.down_checksum == m.down.checksum:
        return ""
    return (
        f"{m.down.path} changed since applied: ran it as it is now (checksum "
        f"{m.down.checksum[:12]}, applied with {row.down_checksum[:12]})"
    )


def problems(
    entries: Iterable[MigrationStatus], *, allow_out_of_order: bool, include_dirty: bool = False
) -> list[Problem]:
    """Disagreements between files and database that make running anything unsafe, in
    version order; ``include_dirty`` adds dirty versions (which apply refuses apart)."""
    entries = list(entries)
    found: list[Problem] = []
    highest = max((e.version for e in entries if e.row is not None), default=0)
    for e in entries:
        if e.state is State.CHANGED:
            found.append(
                Problem(f"version {e.version}: {e.detail}", version=e.version, kind="changed")
            )
        elif e.state is State.MISSING:
            found.append(
                Problem(
                    f"version {e.version} ({e.name}) is applied but its files are missing: "
                    "the database is ahead of this code",
                    version=e.version,
                    kind="missing",
                )
            )
        elif e.state is State.DIRTY and include_dirty:
            found.append(
                Problem(
                    f"version {e.version} ({e.name}) is dirty: {e.detail}",
                    version=e.version,
                    kind="dirty",
                )
            )
        elif e.state is State.PENDING and e.version < highest and not allow_out_of_order:
            found.append(
                Problem(
                    f"version {e.version} ({e.name}) is pending but version {highest} is already "
                    "applied (out of order; pass --allow-out-of-order if that is intended)",
                    version=e.version,
                    kind="out_of_order",
                )
            )
    return found


HINT = (
    "An edited applied file: restore it from version control, or if the edit is intended "
    "run `sqlmig accept VERSION` to record its new checksum."
)


FOREIGN_HINT = (
    "Check which database DATABASE_URL, --database-url or sqlmig.toml names, and the "
    "folder (--dir), before anything else: `sqlmig accept` here would record this "
    "folder's checksums in another project's database."
)


def foreign_set(entries: Sequence[MigrationStatus], folder: Path, database: str) -> Problem | None:
    """A checksum mismatch where most versions both sides have were applied under other
    names than the files': the folder and the database are not each other's (a stale
    DATABASE_URL), which "edited since applied" would misdescribe."""
    both = [e for e in entries if e.migration is not None and e.row is not None]
    renamed = [e for e in both if e.row and e.migration and e.row.name != e.migration.name]
    if not any(e.state is State.CHANGED for e in both) or 2 * len(renamed) <= len(both):
        return None
    first = renamed[0]
    assert first.row is not None and first.migration is not None
    return Problem(
        f"the migrations in {folder} and the database {database} do not seem to belong "
        f"together (wrong database?): {len(renamed)} of the {len(both)} version(s) both "
        f"have were applied under other names (version {first.version}: "
        f"{first.row.name!r} in the database, {first.migration.label} in the folder), "
        "and their checksums differ"
    )


def refuse_unsafe(
    entries: list[MigrationStatus],
    *,
    allow_out_of_order: bool,
    missing_hint: str = "",
    folder: Path | None = None,
    database: str = "",
) -> None:
    """Raise DirtyError or ValidationError if running anything now would be unsafe;
    ``missing_hint``: what to do about versions whose files are missing; with ``folder``
    and ``database``, first if they do not seem to belong together."""
    foreign = foreign_set(entries, folder, database) if folder is not None else None
    if foreign is not None:
        raise ValidationError(
            [foreign, *problems(entries, allow_out_of_order=allow_out_of_order)], FOREIGN_HINT
        )
    for e in entries:
        if e.state is State.DIRTY:
            raise DirtyError(e.version, e.name)
    found = problems(entries, allow_out_of_order=allow_out_of_order)
    if found:
        hint = HINT if any(e.state is State.CHANGED for e in entries) else missing_hint
        raise ValidationError(found, hint)


def mismatch(entries: list[MigrationStatus], database: str, folder: Path) -> VersionMismatch | None:
    """Why the database is not exactly at the files' newest version, or None if it is."""
    pending = [e.version for e in entries if e.state is State.PENDING]
    unknown = [e.version for e in entries if e.state is State.MISSING]
    wrong = [e for e in entries if e.state in (State.CHANGED, State.DIRTY)]
    if not (pending or unknown or wrong):
        return None
    foreign = foreign_set(entries, folder, database)
    parts = [foreign.message] if foreign else []
    if pending:
        parts.append(f"behind the code: {len(pending)} pending migration(s) {_versions(pending)}")
    if unknown:
        parts.append(
            f"ahead of the code: version(s) {_versions(unknown)} applied but not in {folder}"
        )
    parts += [f"version {e.version} is {e.state.value}: {e.detail}" for e in wrong]
    return VersionMismatch(
        f"version mismatch for {database}: " + "; ".join(parts), pending, unknown
    )


def _versions(vs: list[int]) -> str:
    return ", ".join(str(v) for v in vs[:10]) + (" ..." if len(vs) > 10 else "")


def plan_apply(
    migrations: list[Migration],
    rows: list[AppliedRow],
    *,
    target: int | None = None,
    allow_out_of_order: bool = False,
    folder: Path | None = None,
    database: str = "",
) -> list[Migration]:
    """Pending migrations up to ``target`` in version order; raise if anything is unsafe
    (``folder`` and ``database`` name both sides, for refuse_unsafe)."""
    entries = statuses(migrations, rows)
    refuse_unsafe(entries, allow_out_of_order=allow_out_of_order, folder=folder, database=database)
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
    missing_hint: str = "",
    folder: Path | None = None,
    database: str = "",
) -> list[Migration]:
    """Applied migrations to undo, newest first: the last ``count``, or all above ``to``;
    ``missing_hint`` as for refuse_unsafe, ``folder`` and ``database`` as for plan_apply."""
    if count < 0:
        raise ConfigError("the number of migrations to roll back must be 0 or more")
    if to is not None and to < 0:  # -1 would mean "everything", which --to 0 says plainly
        raise ConfigError(f"--to {to}: use 0 to roll back every migration")
    entries = statuses(migrations, rows)
    refuse_unsafe(
        entries,
        allow_out_of_order=True,
        missing_hint=missing_hint,
        folder=folder,
        database=database,
    )
    applied = [e for e in reversed(entries) if e.row is not None]
    chosen = [e for e in applied if e.version > to] if to is not None else applied[:count]
    steps = [e.migration for e in chosen if e.migration]
    blocked = [m for m in steps if m.down.irreversible is not None]
    if blocked:
        reasons = "; ".join(
            f"{m.down.path} is marked irreversible"
            + (f": {m.down.irreversible.reason}" if m.down.irreversible.reason else "")
            for m in blocked
            if m.down.irreversible
        )
        raise IrreversibleError(
            f"cannot roll back, nothing was run: {reasons}. Restore a backup taken before "
            "the migration instead, or write a down file that undoes it."
        )
    return steps


@dataclass(frozen=True, slots=True)
class ApplyPlan:
    """Apply pending migrations, lowest first, up to ``target``."""

    migrations: list[Migration]
    target: int | None = None
    allow_out_of_order: bool = False
    direction: Direction = Direction.UP
    folder: Path | None = None  # with database: where the files and the rows come from
    database: str = ""

    def steps(self, rows: list[AppliedRow], done: int) -> list[Migration]:
        """What is left to run, in order, given the version table as it is now and the
        ``done`` steps this run already took; raise if running anything is unsafe."""
        return plan_apply(
            self.migrations,
            rows,
            target=self.target,
            allow_out_of_order=self.allow_out_of_order,
            folder=self.folder,
            database=self.database,
        )


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    """Undo the versions chosen when the run started, always the newest applied first.

    Never more steps than versions chosen, and never a down file underneath a version
    that is applied but was not chosen: if another runner applied something newer
    meanwhile, the plan ends there. (Two runners told to undo the newest migration
    undo it once, not twice.)
    """

    migrations: list[Migration]
    versions: frozenset[int]
    direction: Direction = Direction.DOWN
    edited: frozenset[int] = frozenset()  # redo's version: its edited up file is the point

    def steps(self, rows: list[AppliedRow], done: int) -> list[Migration]:
        entries = statuses(self.migrations, rows)
        refuse_unsafe(
            [e for e in entries if not (e.version in self.edited and e.state is State.CHANGED)],
            allow_out_of_order=True,
        )
        files = {m.version: m for m in self.migrations}
        left = len(self.versions) - done
        out: list[Migration] = []
        for r in reversed(rows):
            if len(out) >= left or r.version not in self.versions:
                break
            out.append(files[r.version])
        return out


def invalid_phrase(names: Sequence[str]) -> str:
    """How status and resolve's refusals (planrules.py) name the INVALID indexes left."""
    return f"index {names[0]} INVALID" if len(names) == 1 else f"indexes {', '.join(names)} INVALID"


def drop_phrase(names: Sequence[str]) -> str:
    """The statements that drop them, said the same way wherever they are suggested."""
    return " and ".join(f"`DROP INDEX CONCURRENTLY {n};`" for n in names)
