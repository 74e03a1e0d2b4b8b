"""The interface between the engine-free core and a database.

Engines stay dumb: they connect, lock, run SQL in transactions and say whether someone
else may have changed the database. Ordering, checksums, validation, planning and
sqlmig's own tables (engines/store.py) live in the core. What only an engine knows
(driver message strings, SQLSTATEs, file checks) stays in its module and reaches the
core as data: DbFailure.kind, ConnectError.retryable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from sqlmig.config import DatabaseUrl, Dialect
from sqlmig.models import BackupSource, Migration
from sqlmig.progress import Activity
from sqlmig.schema import Schema


class FailureKind(StrEnum):
    """The few failures the core treats differently from "this statement failed"."""

    OUT_OF_LOCKS = "out_of_locks"  # more locks than one transaction may hold
    LOCK_TIMEOUT = "lock_timeout"  # a table lock not granted within lock_timeout


class DbFailure(Exception):
    """A statement failed: the database's own message, code and error position.

    A plain class, not a frozen dataclass: contextlib sets ``__traceback__`` on the
    exceptions that pass through a context manager, which a frozen one refuses.
    """

    def __init__(
        self,
        message: str,
        code: str | None = None,
        position: int | None = None,  # 1-based character offset into the statement
        kind: FailureKind | None = None,
        index: int | None = None,  # of the statement that failed, in an execute_many
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.position, self.kind = message, code, position, kind
        self.index = index

    def __str__(self) -> str:
        return self.message


class Driver(Protocol):
    """What the runner and the store need from a database. One connection per run;
    every method raises SqlmigError subclasses (or DbFailure for execute*)."""

    dialect: Dialect
    url: DatabaseUrl

    def open(self, *, write: bool) -> None:
        """Connect; with ``write`` also prepare the session (journal mode, timeouts)."""

    def close(self) -> None: ...

    def cancel(self) -> None:
        """From another thread: stop the statement this connection is running and refuse
        every later migration statement, each raising KeyboardInterrupt in the thread that
        ran it, so that the run unwinds (rolls back, records) as on Ctrl-C."""

    def ping(self) -> None:
        """Check that the database can be reached; raise ConnectError (with ``retryable``
        False when waiting cannot help)."""

    def exists(self) -> bool:
        """Whether the database exists at all (a SQLite file; always True once connected
        to PostgreSQL). Commands that read must not create it."""

    def db_user(self) -> str:
        """The database user (current_user); '' where there is none."""

    def lock(self, timeout: float) -> None:
        """Take the run lock, or raise LockTimeout after ``timeout`` seconds (0: forever).
        SQLite has none that outlives a transaction: transaction() excludes instead."""

    def unlock(self) -> None: ...

    def activity(self) -> Activity | None:
        """From another thread, while a call of this engine has been running a while:
        what it waits for (the run lock's holder, a table lock's, a busy file) or the
        server's progress with its statement; None when there is nothing to say. It
        never uses this engine's connection, nor holds anything that connection (or a
        statement it runs) could wait for."""

    def transaction(self) -> AbstractContextManager[None]:
        """BEGIN (excluding other writers: IMMEDIATE on SQLite) ... COMMIT, or ROLLBACK if
        the block raises. The engine's checks before commit (SQLite's foreign keys) may
        raise DbFailure, after rolling back."""

    def change_token(self) -> object:
        """Equal between two calls when no other connection committed in between; to
        re-read the version table only when another runner changed it."""

    def execute(self, sql: str) -> None:
        """Run one statement of a migration; raise DbFailure with the database's message."""

    def execute_many(self, statements: Sequence[str]) -> None:
        """Run statements in order, in as few round trips as the engine allows; raise
        DbFailure with ``index`` (and ``position`` within that statement) when known: a
        server that runs them as one script may not say which one failed."""

    def invalid_indexes(self, m: Migration) -> list[str]:
        """Indexes a failed concurrent build of ``m``'s no-transaction files left INVALID,
        as `schema.name`; [] where an engine has no such builds."""

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one of sqlmig's own statements; its rows. Failures are BackendError (or
        LockTimeout), never a migration's."""

    def write_batch(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        """Several of sqlmig's own writes, in order, in as few round trips as the driver
        allows; a run of the same statement is sent as one (statement_runs)."""

    @property
    def home(self) -> str | None:
        """Where sqlmig's tables live within the database: a PostgreSQL schema (found at
        open), or None where tables live in the database itself (SQLite)."""


Statement = tuple[str, tuple[object, ...]]


class Engine(Driver, Protocol):
    """A Driver that can also back up, restore and read its schema."""

    def server_major(self) -> int | None:
        """The server's major version (PostgreSQL); None where there is no server."""

    @property
    def label(self) -> str:
        """The database's name, for backup file names."""

    def source(self) -> BackupSource:
        """Which database this is, as a backup's manifest records it."""

    def backup_to(self, dest: Path) -> BackupSource:
        """Write a complete, checked backup to ``dest`` and say what it holds; raise
        BackupError, or LockTimeout after waiting --lock-timeout for a lock."""

    def restore_from(
        self, src: Path, manifest: BackupSource | None, prepare: Callable[[], list[Statement]]
    ) -> list[str]:
        """Put back what the backup at ``src`` (described by ``manifest``, if it has one)
        holds, all or nothing, replacing what is there now, but nothing the connecting
        role does not own (PostgreSQL). Once the file is known to be a backup of this
        engine and nothing else can write, it calls ``prepare``, which may raise to
        refuse; the statements it returns (naming tables with their schema) run in the
        restore's own transaction, after the backup's content is in. Return what the
        restore left as it was, and why; raise BackupError, or LockTimeout."""

    def introspect(self, *, home_only: bool = False) -> Schema:
        """The database's schema, without sqlmig's own tables. ``home_only``: only the
        schema unqualified names land in (a tenant's), named as if it were the default
        (PostgreSQL; SQLite has one schema)."""

    def dump_schema(self) -> str:
        """The same schema as a deterministic SQL script that rebuilds it."""


@contextmanager
def transaction(
    begin: Callable[[], None], commit: Callable[[], None], rollback: Callable[[], None]
) -> Iterator[None]:
    """The one transaction helper both engines build theirs from."""
    begin()
    try:
        yield
        commit()
    except BaseException:
        rollback()
        raise


def statement_runs(
    statements: list[tuple[str, tuple[object, ...]]],
) -> Iterator[tuple[str, list[tuple[object, ...]]]]:
    """Adjacent writes of the same statement together, each with its parameters in order:
    a driver compiles it once for all of them."""
    run: list[tuple[object, ...]] = []
    for i, (sql, params) in enumerate(statements):
        run.append(params)
        if i + 1 == len(statements) or statements[i + 1][0] != sql:
            yield sql, run
            run = []
