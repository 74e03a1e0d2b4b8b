"""Pure planning: (migration files, version-table rows, request) -> what to run, or why not.

No I/O here: every refusal and state rule is a function of its arguments, tested
without a database (tests/test_planner.py). The runner asks a plan for one step at a
time, from the rows it has just read, so a plan stays right when another runner
changes the database between steps.
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
    StateError,
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
    SqlFile,
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
            resolve = f"{_drops(left)}, then `sqlmig resolve {r.version} --rolled-back`"
            return State.DIRTY, m, r, f"failed part-way, leaving {_indexes(left)}: run {resolve}"
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


@dataclass(frozen=True, slots=True)
class DiffTarget:
    """What `diff` compares a database with while migrations are pending: the schema the
    applied ones build, at the database's ``version`` (schema.sql is the newest's)."""

    version: int
    build: list[Migration]  # the migrations applied whole, in version order
    pending: list[int]
    dirty: list[MigrationStatus]  # left out of ``build``: they stopped part-way


def diff_target(entries: list[MigrationStatus]) -> DiffTarget | None:
    """None when nothing is pending: then schema.sql is the database's schema."""
    pending = [e.version for e in entries if e.state is State.PENDING]
    if not pending:
        return None
    missing = [e for e in entries if e.state is State.MISSING]
    if missing:
        raise ValidationError(
            [
                Problem(
                    f"version {e.version} ({e.name}) is applied but its files are missing",
                    version=e.version,
                    kind="missing",
                )
                for e in missing
            ],
            "With migrations pending, diff builds the schema of the database's version from "
            "the migration files: run it from the code that applied them, or compare with a "
            "schema file (--baseline FILE).",
        )
    whole = [e for e in entries if e.row is not None and e.state is not State.DIRTY]
    return DiffTarget(
        max((e.version for e in whole), default=0),
        [e.migration for e in whole if e.migration],
        pending,
        [e for e in entries if e.state is State.DIRTY],
    )


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


def empty_file_problem(file: SqlFile, direction: Direction, has_statements: bool) -> Problem | None:
    """An up file without statements would be recorded as applied having done nothing
    (an unedited `sqlmig new` pair, say): it needs ``-- sqlmig: empty <reason>``. An empty
    down file is allowed (rollback and test say so); the directive, anywhere, needs a
    reason, and a file that has statements must not carry it."""
    directive = "'-- sqlmig: empty <reason>'"
    if file.empty == "":
        return Problem(f"{directive} needs the reason the file does nothing", file.path)
    if file.empty is not None and has_statements:
        return Problem(f"has statements but says {directive}: remove the directive", file.path)
    if direction is Direction.UP and not has_statements and file.empty is None:
        return Problem(
            "has no statements, so applying it would change nothing yet record it as "
            f"applied: write the migration, or if it is meant to do nothing say why with "
            f"{directive} in its header",
            file.path,
        )
    return None


def refuse_unadopted(steps: Sequence[Migration], objects: Sequence[str]) -> None:
    """A database without sqlmig's tables that already holds objects of its own was built
    by other means (by hand, from schema.sql, by another tool): running the first
    migration there fails half-way ("already exists") or, worse, runs on top of it."""
    if not steps or not objects:
        return
    shown = ", ".join(objects[:5]) + (f" and {len(objects) - 5} more" if len(objects) > 5 else "")
    raise StateError(
        f"the database has no sqlmig version table yet, but its schema already holds "
        f"{shown}: it was built by other means (by hand, from schema.sql, another tool), "
        f"and {steps[0].label} would run on top of it. Nothing was run. If it has the "
        "schema of migration N, record that with `sqlmig baseline N` (apply then runs N+1 "
        "onwards); if these objects are not the migrations' at all, `sqlmig baseline 0` "
        "records that none is applied yet."
    )


def plan_baseline(
    migrations: list[Migration], rows: list[AppliedRow], version: int
) -> list[Migration]:
    """The migrations to record as applied, without running them, up to ``version``
    (0: none, for a database whose own objects are not the migrations')."""
    if version != 0 and version not in {m.version for m in migrations}:
        raise ConfigError(f"baseline {version}: there is no migration with version {version}")
    if rows:
        raise ValidationError(
            [
                Problem(
                    f"the version table already has {len(rows)} row(s) (newest {rows[-1].version})"
                )
            ],
            "baseline is for adopting sqlmig on a database it has never migrated.",
        )
    return [m for m in migrations if m.version <= version]


def plan_accept(
    migrations: list[Migration], rows: list[AppliedRow], versions: list[int] | None
) -> list[MigrationStatus]:
    """The changed entries (an edited up file, or down file) whose new checksums to
    record: ``versions``, or every one."""
    entries = {e.version: e for e in statuses(migrations, rows)}
    edited = (State.CHANGED, State.DOWN_CHANGED)
    for v in versions or []:
        if v not in entries or entries[v].state not in edited:
            state = entries[v].state.value if v in entries else "unknown"
            raise StateError(f"accept {v}: version {v} is {state}, not changed; nothing to accept")
    return [
        e
        for e in entries.values()
        if e.state in edited and (versions is None or e.version in versions)
    ]


def plan_resolve(
    migrations: list[Migration], rows: list[AppliedRow], version: int, folder: Path
) -> tuple[Migration, AppliedRow]:
    """The dirty version to resolve, with its files and its row."""
    row = next((r for r in rows if r.version == version), None)
    if row is None or row.status is not RowStatus.DIRTY:
        raise StateError(f"resolve {version}: version {version} is not dirty; nothing to resolve")
    m = next((m for m in migrations if m.version == version), None)
    if m is None:
        raise ConfigError(f"resolve {version}: its files are not in {folder}")
    return m, row


def refuse_resolve_with_invalid(version: int, invalid: Sequence[str], *, applied: bool) -> None:
    """A dirty version that left INVALID indexes is neither applied nor undone yet."""
    if not invalid:
        return
    left = f"its failed CREATE INDEX CONCURRENTLY left {_indexes(invalid)}"
    if applied:
        raise StateError(
            f"resolve {version} --applied: {left}, and an invalid index is not an applied "
            f"migration. Run {_drops(invalid)}, build the index again by hand (the file's "
            f"CREATE INDEX CONCURRENTLY), then `sqlmig resolve {version} --applied`; or, once "
            f"it is dropped, `sqlmig resolve {version} --rolled-back`."
        )
    raise StateError(
        f"resolve {version} --rolled-back: {left}, and the migration is not undone while it "
        f"exists. Run {_drops(invalid)}, then resolve again."
    )


def invalid_left(version: int, invalid: Sequence[str]) -> str:
    """For the failure of a no-transaction migration: what its failed builds left."""
    return (
        f"It left {_indexes(invalid)} (unused by queries, yet updated on every write): run "
        f"{_drops(invalid)} before `sqlmig resolve {version} --rolled-back`."
    )


def _indexes(names: Sequence[str]) -> str:
    return f"index {names[0]} INVALID" if len(names) == 1 else f"indexes {', '.join(names)} INVALID"


def _drops(names: Sequence[str]) -> str:
    return " and ".join(f"`DROP INDEX CONCURRENTLY {n};`" for n in names)


def refuse_outside_transaction(steps: Sequence[Migration], direction: Direction) -> None:
    """--single-transaction runs every step in one transaction: a file that runs outside
    one cannot be part of it."""
    outside = [m for m in steps if m.file(direction).no_transaction]
    if outside:
        raise ValidationError(
            [
                Problem(
                    "runs outside a transaction ('-- sqlmig: no-transaction'), so it cannot "
                    "be part of one with the others",
                    m.file(direction).path,
                    m.version,
                )
                for m in outside
            ],
            "--single-transaction runs every migration in range in one transaction: run "
            "these on their own (without it, or stop before them with --to).",
        )
