"""The interface between the engine-free core and a database.

Engines stay dumb: they run SQL, read and write bookkeeping rows, and lock. Ordering,
checksums, validation and planning live in the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from sqlmig.config import DatabaseUrl, Dialect
from sqlmig.engines.bookkeeping import BookkeepingSql, RowChange
from sqlmig.models import AppliedRow, HistoryEvent
from sqlmig.schema import Schema


@dataclass(frozen=True, slots=True)
class DbFailure(Exception):
    """A statement failed: the database's own message, code and error position."""

    message: str
    code: str | None = None
    position: int | None = None  # 1-based character offset into the statement, if known

    def __str__(self) -> str:
        return self.message


@cache
def os_identity() -> str:
    import getpass  # lazily: only runs that write need it
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class Engine(Protocol):
    """What the runner needs from a database. One connection per run."""

    dialect: Dialect
    url: DatabaseUrl
    sql: BookkeepingSql

    def open(self, *, write: bool) -> None:
        """Connect; with ``write`` also prepare the session (journal mode, timeouts)."""

    def close(self) -> None: ...

    def db_user(self) -> str: ...

    def ensure_tables(self) -> None:
        """Create the version and history tables if they do not exist (safe to race)."""

    def read_applied(self) -> list[AppliedRow]:
        """All version rows, ordered by version; [] when the table does not exist yet."""

    def read_history(
        self, limit: int | None, since: str | None = None, failed: bool = False
    ) -> list[HistoryEvent]:
        """History events newest first: at most ``limit``, at or after ``since`` (ISO UTC)."""

    def read_seeds(self) -> dict[str, str]:
        """Seed file name -> checksum of the version last applied."""

    def record_seed(self, name: str, checksum: str, at: str, by: str, ms: int) -> None: ...

    def fetch(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one of bookkeeping's read queries; [] before sqlmig's tables exist."""

    def lock(self, timeout: float) -> None:
        """Take the run lock (PostgreSQL advisory lock); raise LockTimeout after ``timeout``."""

    def unlock(self) -> None: ...

    def begin(self) -> None:
        """Start a transaction that excludes other runners until commit (SQLite: IMMEDIATE)."""

    def commit(self) -> None:
        """Check what the engine must check (SQLite foreign keys), then commit."""

    def rollback(self) -> None: ...

    def changed_by_others(self) -> bool:
        """True if another connection may have changed the version table since we read it."""

    def execute(self, sql: str) -> None:
        """Run one statement; raise DbFailure with the database's message."""

    def execute_script(self, sql: str) -> None:
        """Run many statements, in as few round trips as the engine allows; raise DbFailure."""

    def record(self, change: RowChange, row: AppliedRow, event: HistoryEvent) -> None:
        """Insert, update or delete ``row`` and add ``event``, in as few round trips as
        the driver allows."""

    def insert_row(self, row: AppliedRow) -> None: ...

    def update_row(self, row: AppliedRow) -> None: ...

    def delete_row(self, version: int) -> None: ...

    def insert_history(self, event: HistoryEvent) -> None: ...

    @property
    def label(self) -> str:
        """The database's name, for backup file names."""

    def backup_to(self, dest: Path) -> None:
        """Write a complete, checked backup to ``dest``; raise BackupError."""

    def restore_from(self, src: Path) -> None:
        """Replace the whole database with the backup at ``src``, all or nothing."""

    def introspect(self) -> Schema:
        """The database's schema, without sqlmig's own tables."""

    def dump_schema(self) -> str:
        """The same schema as a deterministic SQL script that rebuilds it."""
