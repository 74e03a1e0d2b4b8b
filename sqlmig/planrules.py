"""Pure refusal rules of single commands, kin to planner.py's: baseline, accept and
resolve's preconditions, what a failed CREATE INDEX CONCURRENTLY left, an empty file,
an unadopted database, --single-transaction, and what `diff` compares with.

Like planner.py's, each is a function of its arguments that needs no database, so
tests/test_planner.py can test it with rows; the states these rules read come from
planner.py's ``statuses``, never computed again here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlmig.errors import ConfigError, Problem, StateError, ValidationError
from sqlmig.models import (
    AppliedRow,
    Direction,
    Migration,
    MigrationStatus,
    RowStatus,
    SqlFile,
    State,
)
from sqlmig.planner import drop_phrase, invalid_phrase, statuses


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
    left = f"its failed CREATE INDEX CONCURRENTLY left {invalid_phrase(invalid)}"
    if applied:
        raise StateError(
            f"resolve {version} --applied: {left}, and an invalid index is not an applied "
            f"migration. Run {drop_phrase(invalid)}, build the index again by hand (the file's "
            f"CREATE INDEX CONCURRENTLY), then `sqlmig resolve {version} --applied`; or, once "
            f"it is dropped, `sqlmig resolve {version} --rolled-back`."
        )
    raise StateError(
        f"resolve {version} --rolled-back: {left}, and the migration is not undone while it "
        f"exists. Run {drop_phrase(invalid)}, then resolve again."
    )


def invalid_left(version: int, invalid: Sequence[str]) -> str:
    """For the failure of a no-transaction migration: what its failed builds left."""
    return (
        f"It left {invalid_phrase(invalid)} (unused by queries, yet updated on every write): run "
        f"{drop_phrase(invalid)} before `sqlmig resolve {version} --rolled-back`."
    )


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
