"""Immutable values passed between discovery, planning, engines and rendering.

Kinds are enums, not strings: the values are what the database stores and JSON shows,
and a StrEnum compares equal to its value, so rows read back need no translation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sqlmig.schema import Findings
from sqlmig.splitter import Dialect, Statement, split


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class RowStatus(StrEnum):
    """A version-table row: applied, or dirty (a no-transaction migration failed part-way)."""

    APPLIED = "applied"
    DIRTY = "dirty"


class RowKind(StrEnum):
    MIGRATION = "migration"
    BASELINE = "baseline"  # recorded by `sqlmig baseline` without running


class EventKind(StrEnum):
    """What a history row records."""

    APPLY = "apply"
    ROLLBACK = "rollback"
    FAIL = "fail"
    BASELINE = "baseline"
    ACCEPT = "accept"
    RESOLVE = "resolve"
    SEED = "seed"
    RESTORE = "restore"


class SeedState(StrEnum):
    APPLIED = "applied"
    PENDING = "pending"  # never applied
    CHANGED = "changed"  # applied, then edited


@dataclass(frozen=True, slots=True)
class Irreversible:
    """A down file's `-- sqlmig: irreversible [reason]`; ``reason`` may be empty."""

    reason: str


@dataclass(frozen=True, slots=True)
class SqlFile:
    """One migration file as read from disk, normalised (no BOM, LF line endings).

    ``text`` is the whole text, except for a file too large to hold (``streamed``), whose
    ``text`` is "": its statements come off the disk as they run (``statements()``),
    and ``full_text()`` reads it whole for what needs all of it at once (lint)."""

    path: Path
    text: str
    checksum: str
    no_transaction: bool = False
    irreversible: Irreversible | None = None
    streamed: bool = False
    empty: str | None = None  # `-- sqlmig: empty <reason>`: why it has no statements

    def statements(self, dialect: Dialect) -> Iterator[Statement]:
        """The file's statements, in order, with their lines (splitter.split)."""
        if not self.streamed:
            return iter(split(self.text, dialect))
        from sqlmig.sqlstream import normalised_chunks, split_stream

        return split_stream(normalised_chunks(self.path), dialect)

    def full_text(self) -> str:
        if not self.streamed:
            return self.text
        from sqlmig.sqlstream import normalised_chunks

        return "".join(normalised_chunks(self.path))


@dataclass(frozen=True, slots=True)
class Migration:
    """A paired up/down migration; ``version`` orders migrations numerically."""

    version: int
    name: str
    up: SqlFile
    down: SqlFile

    @property
    def label(self) -> str:
        return self.up.path.name

    def file(self, direction: Direction) -> SqlFile:
        return self.up if direction is Direction.UP else self.down


@dataclass(frozen=True, slots=True)
class AppliedRow:
    """One row of the version table."""

    version: int
    name: str
    checksum: str
    down_checksum: str | None
    status: RowStatus
    kind: RowKind
    applied_at: str
    applied_by: str
    db_user: str
    execution_ms: int | None
    sqlmig_version: str


@dataclass(frozen=True, slots=True)
class StoredSql:
    """A version's up and down SQL as applied, kept in its version row; None where only
    the checksum is (a file larger than stored_sql_limit, or a row from before format 4)."""

    up: str | None = None
    down: str | None = None


def database_version(rows: list[AppliedRow]) -> int:
    """The newest version applied whole (0 when none): a dirty row is not the database's
    version, whatever its number."""
    return max((r.version for r in rows if r.status is RowStatus.APPLIED), default=0)


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One row of the history table: every apply, rollback, failure and manual fix."""

    event: EventKind
    version: int | None
    name: str
    checksum: str | None
    success: bool
    duration_ms: int
    direction: Direction | None = None  # for apply, rollback and a migration's fail
    error: str | None = None
    detail: str | None = None
    run_id: str = ""
    at: str = ""
    applied_by: str = ""
    db_user: str = ""
    sqlmig_version: str = ""
    variables: str | None = None  # JSON: the values of the variables the file used
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """One database (or tenant schema) of a fleet, named in the configuration."""

    name: str  # "eu-1", or "group/member" for targets read from a file or a query
    url: str = field(repr=False)  # as configured: may hold a password, never shown
    tenant: str | None = None  # schema-per-tenant: the schema that is this target


class State(StrEnum):
    APPLIED = "applied"
    PENDING = "pending"
    CHANGED = "changed"  # the up file was edited since it was applied
    DOWN_CHANGED = "down_changed"  # only the down file was: nothing is refused for it
    MISSING = "missing"
    DIRTY = "dirty"


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """Where one version stands: its files, its version-table row, and what that means."""

    version: int
    name: str
    state: State
    migration: Migration | None
    row: AppliedRow | None
    detail: str = ""
    invalid_indexes: tuple[str, ...] = ()  # a dirty version's failed concurrent builds


@dataclass(frozen=True, slots=True)
class SeedStatus:
    """A reference-data file and whether its current text has been applied."""

    name: str
    state: SeedState
    file: SqlFile


@dataclass(frozen=True, slots=True)
class Status:
    """The whole picture ``sqlmig status`` shows."""

    entries: list[MigrationStatus]
    database: str  # masked URL
    seeds: list[SeedStatus] = field(default_factory=list)
    # The folder and the database do not seem to belong together (planner.foreign_set).
    wrong_database: str | None = None

    def count(self, state: State) -> int:
        return sum(1 for e in self.entries if e.state is state)

    @property
    def current_version(self) -> int | None:
        """The database's version: the newest version applied whole. A dirty one (a
        no-transaction migration that failed part-way) is not, whatever its number."""
        applied = [
            e.version for e in self.entries if e.row is not None and e.state is not State.DIRTY
        ]
        return max(applied) if applied else None

    @property
    def dirty_versions(self) -> list[int]:
        return [e.version for e in self.entries if e.state is State.DIRTY]

    @property
    def ok(self) -> bool:
        """True when nothing is pending, changed, missing or dirty, seeds included; a
        changed down file alone is fine (rollback runs it as it is now)."""
        fine = (State.APPLIED, State.DOWN_CHANGED)
        return all(e.state in fine for e in self.entries) and all(
            s.state is SeedState.APPLIED for s in self.seeds
        )


@dataclass(frozen=True, slots=True)
class StepResult:
    """What happened to one migration in a run."""

    version: int
    name: str
    direction: Direction
    duration_ms: int
    statements: int
    note: str = ""  # a rollback's: its down file changed since apply, or came from the database


@dataclass(frozen=True, slots=True)
class SeedResult:
    """A seed file applied in a run."""

    name: str
    duration_ms: int
    statements: int


@dataclass(frozen=True, slots=True)
class BackupSource:
    """Which database a backup is of, and what of it the backup holds.

    A restore compares it with the database it is about to replace: a backup of
    another database is refused unless forced.
    """

    dialect: str
    database: str  # PostgreSQL: the database's name; SQLite: the file's absolute path
    cluster: str | None = None  # PostgreSQL: the cluster's system identifier, if readable
    schemas: tuple[str, ...] = ()  # PostgreSQL: the schemas the backup holds
    left_out: tuple[str, ...] = ()  # PostgreSQL: schemas that existed but are not sqlmig's

    def describe(self) -> str:
        if self.dialect == "sqlite":
            return f"SQLite file {self.database}"
        cluster = f" on the cluster with system identifier {self.cluster}" if self.cluster else ""
        return f"PostgreSQL database {self.database}{cluster}"


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """A backup file, what its name says about it and what its manifest records.

    ``taken_by`` is the command that took it ("apply", "rollback" or "backup"); it and ``source``
    are None for a backup without a manifest (taken by an older sqlmig, or copied
    without its ``.json``).
    """

    path: Path
    database: str
    version: int
    taken_at: str  # ISO 8601 UTC
    size: int
    taken_by: str | None = None
    source: BackupSource | None = None


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What a restore did: where the database stands now, and what it left as it was
    (PostgreSQL objects the connecting role does not own, a forced origin check)."""

    status: Status
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Metrics:
    """What `sqlmig metrics` exports; counters come from the whole history."""

    database: str
    applied: int
    rolled_back: int
    failed: int
    seeds_failed: int
    current_version: int | None  # None: nothing applied (the gauge shows 0)
    pending: int
    last_run_seconds: float | None  # the newest run that ran files, first to last
    last_run_at: float | None  # Unix time of the last event of the newest run
    dirty: int = 0  # versions a failed no-transaction migration left dirty
    last_run_success: bool | None = None  # every file of the newest run succeeded


@dataclass(slots=True)
class RunResult:
    """The steps a run carried out, in order; empty when there was nothing to do."""

    steps: list[StepResult] = field(default_factory=list)
    duration_ms: int = 0
    status: Status | None = None  # where the database stands afterwards
    backup: BackupInfo | None = None  # taken before the first step
    seeds: list[SeedResult] = field(default_factory=list)
    drift: Findings | None = None  # apply --verify's differences afterwards ([]: none)


@dataclass(frozen=True, slots=True)
class FailedStep:
    """The file a run was executing when it failed; a seed file has no version."""

    path: Path
    name: str
    version: int | None = None
    direction: Direction | None = None


@dataclass(frozen=True, slots=True)
class PartialRun:
    """What a failed apply, rollback or seed had already done: every step before the
    failed one committed, and the backup (if any) was taken before the first."""

    applied: list[StepResult]
    seeds: list[SeedResult]
    backup: BackupInfo | None
    failed: FailedStep | None
