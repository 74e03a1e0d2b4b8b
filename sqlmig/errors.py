"""Every error sqlmig raises, each carrying the process exit code the CLI uses for it.

Exit codes are part of the public contract (README, "Exit codes"): scripts and CI
jobs branch on them, so a code never changes meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmig.models import PartialRun
    from sqlmig.schema import Item

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_LOCK = 4
EXIT_MIGRATION_FAILED = 5
EXIT_BACKUP = 6
EXIT_INTERRUPTED = 130


class SqlmigError(Exception):
    """Base class: a message for people and the exit code for machines.

    ``partial`` is set on an error that ends an apply, rollback or seed run after it
    started: what that run had already done (the steps that committed, the backup).
    """

    exit_code = EXIT_CHECK_FAILED
    partial: PartialRun | None = None


class StateError(SqlmigError):
    """A command refused in the database's current state (accept of an unchanged file,
    resolve of a version that is not dirty, baseline of a database already migrated)."""


class ConfigError(SqlmigError):
    """Bad URL, option, config file or command arguments."""

    exit_code = EXIT_USAGE


class ConnectError(SqlmigError):
    """The database could not be opened or reached. ``retryable`` is False when waiting
    cannot help (the server refused the login; a SQLite folder does not exist)."""

    exit_code = EXIT_CONNECT

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class ConnectionLost(ConnectError):
    """The connection broke after it was opened (server restart, failover, network).
    The server rolls back whatever transaction the session had open; the runner says
    what that means for the migration it was running (``with_outcome``)."""

    def with_outcome(self, outcome: str) -> ConnectionLost:
        return ConnectionLost(f"{self}\n{outcome}")


class LockTimeout(SqlmigError):
    """Another runner (or a long transaction) held the lock longer than --lock-timeout."""

    exit_code = EXIT_LOCK


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the migration set or its agreement with the database.
    ``kind``: a file or the set is malformed ("invalid"), or the state of a version
    ("changed", "missing", "dirty", "out_of_order")."""

    message: str
    path: Path | None = None
    version: int | None = None
    kind: str = "invalid"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def item(self) -> Item:
        """This problem as a check's finding, with the object it is about."""
        from sqlmig.schema import Item

        where = str(self.path) if self.path else None
        where = where or (None if self.version is None else f"version {self.version}")
        return Item(str(self), self.kind, where, self.message)


class ValidationError(SqlmigError):
    """The set is malformed or disagrees with the database; nothing was run."""

    def __init__(self, problems: list[Problem], hint: str = "") -> None:
        self.problems = problems
        self.hint = hint
        lines = [f"{len(problems)} problem(s) found, nothing was run:"]
        lines += [f"  - {p}" for p in problems]
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))


class DirtyError(SqlmigError):
    """A non-transactional migration failed part-way; a human has to look first."""

    def __init__(self, version: int, name: str) -> None:
        self.version = version
        super().__init__(
            f"version {version} ({name}) is dirty: a no-transaction migration failed part-way, "
            "so the schema may be half-changed. Inspect the database, finish or undo the "
            f"change by hand, then run `sqlmig resolve {version} --applied` (the change is "
            f"complete) or `sqlmig resolve {version} --rolled-back` (it is undone)."
        )


class IrreversibleError(SqlmigError):
    """Rollback reached a migration whose down file declares it cannot be undone."""


class VersionMismatch(SqlmigError):
    """The database is behind or ahead of the migration files (used at application start-up)."""

    def __init__(self, message: str, pending: list[int], unknown: list[int]) -> None:
        self.pending = pending
        self.unknown = unknown
        super().__init__(message)


class StatementError(SqlmigError):
    """A statement in a migration file failed; its transaction was rolled back."""

    exit_code = EXIT_MIGRATION_FAILED

    def __init__(
        self,
        *,
        path: Path,
        line: int,
        statement: str,
        db_message: str,
        code: str | None,
        rolled_back: bool,
        outcome: str | None = None,
        kind: str | None = None,
    ) -> None:
        self.kind = kind  # engines.base.FailureKind's value, where the engine gave one
        self.path = path
        self.line = line
        self.statement = statement
        self.db_message = db_message
        self.code = code
        self.rolled_back = rolled_back
        short = " ".join(statement.split())
        if len(short) > 120:
            short = short[:117] + "..."
        code_part = f" [{code}]" if code else ""
        outcome = outcome or (
            "The migration was rolled back; the database is as it was before it."
            if rolled_back
            else "This migration runs outside a transaction: statements before this one stay "
            "applied and the version is marked dirty."
        )
        self.outcome = outcome
        super().__init__(f"{path}:{line}: {db_message}{code_part}\n  statement: {short}\n{outcome}")

    def in_scratch(self) -> StatementError:
        """The same failure, said of a scratch database: the user's was never touched."""
        return self.with_outcome(
            "This ran in a scratch database, which is removed; "
            "the configured database was not touched."
        )

    def with_outcome(self, outcome: str) -> StatementError:
        """The same failure, with what it left behind said differently."""
        return type(self)(
            path=self.path,
            line=self.line,
            statement=self.statement,
            db_message=self.db_message,
            code=self.code,
            rolled_back=self.rolled_back,
            outcome=outcome,
            kind=self.kind,
        )


class TableLockTimeout(StatementError, LockTimeout):
    """A statement waited longer than --lock-timeout for a table lock (PostgreSQL's
    lock_timeout, SQLSTATE 55P03) and was rolled back: a lock not acquired, exit 4, like
    every other wait for a lock; still a StatementError, with its file and line."""

    exit_code = EXIT_LOCK


class LintError(SqlmigError):
    """`apply --lint` found statements lint reports; nothing was run. ``findings``
    holds them (sqlmig.lint.Finding)."""

    def __init__(self, message: str, findings: list[object]) -> None:
        self.findings = findings
        super().__init__(message)


class FormatError(SqlmigError):
    """sqlmig's own tables are in a format this sqlmig does not know (a newer one wrote
    them): reading them could misread them, so nothing is done."""


class BackendError(SqlmigError):
    """A database error outside any migration file (bookkeeping, introspection)."""

    exit_code = EXIT_MIGRATION_FAILED


class BackupError(SqlmigError):
    """A backup could not be taken, checked or restored; the database was not changed."""

    exit_code = EXIT_BACKUP


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM ended an apply, rollback or seed run after it started, and
    ``partial`` says what the run had done (the backup first). Still a
    KeyboardInterrupt: code that stops on one stops on this one."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, partial: PartialRun | None, message: str = "interrupted") -> None:
        super().__init__(message)
        self.partial = partial
