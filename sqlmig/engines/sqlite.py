"""SQLite through the standard library's sqlite3, with explicit transactions.

sqlite3's implicit transaction handling is switched off (``isolation_level=None``) and
BEGIN IMMEDIATE / COMMIT are sent by hand: ``executescript`` would commit on its own and
cannot give one transaction per migration. What its errors about files mean, and the
backup file's checks and staging, are in sqlite_files.py; the foreign-key check before
each commit in sqlite_fk.py.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlmig import interrupts, tempfiles
from sqlmig.config import Dialect, Settings
from sqlmig.engines.base import DbFailure, Statement, statement_runs, transaction
from sqlmig.engines.sqlite_files import (
    check_backup,
    copy,
    is_busy,
    read_only,
    stage,
    why_not,
    write_failed,
)
from sqlmig.engines.sqlite_fk import ForeignKeyScope
from sqlmig.errors import BackendError, BackupError, ConnectError, LockTimeout
from sqlmig.models import BackupSource, Migration
from sqlmig.progress import Activity
from sqlmig.schema import Schema

# busy_timeout is an int of milliseconds inside SQLite; 0 on our side means "wait forever".
_FOREVER = 2**31 // 1000 - 1
# pragma_table_xinfo (the drift check) came in 3.26, upserts (seeds) in 3.24: one floor.
MIN_SQLITE = (3, 26, 0)


class SqliteEngine:
    dialect: Dialect = "sqlite"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.url
        self.path = self.url.sqlite_path
        self._conn: sqlite3.Connection | None = None
        self._deadline: float | None = None
        self._fk = ForeignKeyScope(set(settings.own_tables))
        self._in_memory_stand_in = False
        self.timeout = settings.lock_timeout or _FOREVER
        self._cancelled = False  # cancel() was called: run no more migration statements
        self._beginning = False  # in BEGIN IMMEDIATE, which waits while another writes

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "engine used before open()"
        return self._conn

    def open(self, *, write: bool) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise ConnectError(
                f"sqlmig needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer, and this Python's "
                f"sqlite3 module uses SQLite {sqlite3.sqlite_version}: use a Python built with a "
                "newer SQLite (python.org and Debian 12 or Ubuntu 22.04 and newer have one)"
            )
        target = self.path
        if not write and target != ":memory:" and not Path(target).exists():
            # Reading a database that does not exist yet must not create the file.
            target = ":memory:"
            self._in_memory_stand_in = True
        elif write and target != ":memory:" and not Path(target).parent.is_dir():
            raise ConnectError(
                f"cannot create {self.url.masked}: folder {Path(target).parent} does not exist",
                retryable=False,
            )
        try:
            self._conn = sqlite3.connect(
                target, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            # Reads the header now, so a corrupt or non-SQLite file fails here, named.
            self.conn.execute("PRAGMA schema_version").fetchone()
            # Migrations run with enforcement off, as SQLite's 12-step ALTER TABLE procedure
            # requires; commit() runs foreign_key_check instead. It must be set outside a
            # transaction, so once per connection.
            self.conn.execute("PRAGMA foreign_keys = OFF")
            if write:
                self._set_journal_mode()
        except sqlite3.Error as exc:
            self.close()
            if is_busy(exc):
                raise self._locked() from exc
            raise ConnectError(
                f"cannot open {self.url.masked}: {exc}{why_not(Path(self.path), write)}",
                retryable=not Path(self.path).is_dir(),
            ) from exc
        # Always: it is also how Ctrl-C reaches a long statement (sqlmig.interrupts). Every
        # 50,000 virtual machine steps is about a millisecond of work; more often
        # costs measurably, as each CREATE scans SQLite's whole schema table.
        self.conn.set_progress_handler(self._should_stop, 50_000)
        self.conn.set_authorizer(self._fk.authorize)

    def _set_journal_mode(self) -> None:
        wanted = self.settings.sqlite_journal_mode.lower()
        if self.path == ":memory:":
            return
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                current = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
                if current != wanted:
                    current = self.conn.execute(f"PRAGMA journal_mode = {wanted}").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                # Runners starting together on a new file all switch it to WAL, and SQLite
                # answers the losers "locked" at once rather than through its busy handler:
                # wait here instead, as for any lock.
                if not is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if current != wanted:
            raise ConnectError(
                f"{self.url.masked}: could not switch journal_mode to {wanted} (still {current})"
            )

    def _should_stop(self) -> int:
        """SQLite's progress callback: non-zero aborts the statement running now."""
        past = self._deadline is not None and time.monotonic() > self._deadline
        return int(past or self._cancelled or interrupts.requested())

    def _locked(self) -> LockTimeout:
        return LockTimeout(
            f"database is locked: waited {self.settings.lock_timeout:g}s for another connection "
            f"to finish writing to {self.path}. Stop the application or close its connections "
            "(a long transaction or an open write), keep WAL journal mode on so readers do not "
            "block writers, or raise --lock-timeout."
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def cancel(self) -> None:
        self._cancelled = True
        conn = self._conn
        if conn is not None:
            conn.interrupt()  # and the progress handler stops what this misses

    def exists(self) -> bool:
        return not self._in_memory_stand_in and (
            self.path == ":memory:" or Path(self.path).exists()
        )

    def ping(self) -> None:
        if not self.exists() and not Path(self.path).parent.is_dir():
            raise ConnectError(
                f"{self.url.masked}: folder {Path(self.path).parent} does not exist",
                retryable=False,
            )

    def db_user(self) -> str:
        return ""

    def server_major(self) -> int | None:
        return None

    @property
    def home(self) -> str | None:
        return None  # sqlmig's tables live in the database file itself

    def invalid_indexes(self, m: Migration) -> list[str]:
        return []  # SQLite builds an index inside its migration's transaction, or not at all

    def lock(self, timeout: float) -> None:
        # Exclusion comes from BEGIN IMMEDIATE in each step plus the change_token re-check.
        return

    def unlock(self) -> None:
        return

    def transaction(self) -> AbstractContextManager[None]:
        return transaction(self._begin, self._commit, self._rollback)

    def _begin(self) -> None:
        self._beginning = True
        try:
            self.query("BEGIN IMMEDIATE")
        finally:
            self._beginning = False
        self._fk.begin()

    def activity(self) -> Activity | None:
        """From the progress thread: a BEGIN IMMEDIATE still not through waits for the
        write lock another connection holds on the file (SQLite cannot say whose)."""
        if not self._beginning:
            return None
        t = self.settings.lock_timeout
        upto = f"up to {t:g}s (--lock-timeout)" if t else "until it is free"
        return Activity(
            "busy",
            f"waiting for {self.path}: another connection is writing to it (SQLite: "
            f"database is busy); waiting {upto}",
            waiting=True,
        )

    def _commit(self) -> None:
        try:
            violations = [
                row
                for table in self._fk.tables_to_check(self.conn)
                for row in self.conn.execute("SELECT * FROM pragma_foreign_key_check(?)", (table,))
            ]
        except sqlite3.Error as exc:
            if str(exc) == "interrupted" and (interrupts.requested() or self._cancelled):
                raise KeyboardInterrupt from exc
            # "foreign key mismatch": a key no longer points at a unique column, e.g. after
            # a down file rebuilt the parent without it. The migration must not commit.
            raise DbFailure(
                f"foreign key check failed before commit: {exc}",
                getattr(exc, "sqlite_errorname", None),
            ) from exc
        if violations:
            shown = "; ".join(
                f"{table} rowid {rowid} references {parent} (no matching row)"
                for table, rowid, parent, _ in violations[:10]
            )
            more = f" and {len(violations) - 10} more" if len(violations) > 10 else ""
            raise DbFailure(
                f"foreign key check failed before commit: {shown}{more}",
                "SQLITE_CONSTRAINT_FOREIGNKEY",
            )
        self._guarded("COMMIT")

    def _rollback(self) -> None:
        self._fk.forget()
        if self._conn is not None and self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def change_token(self) -> object:
        # Changes whenever another connection commits to the file, never for our own.
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def execute(self, sql: str) -> None:
        self._fk.statement(sql)
        self._guarded(sql)
        self._fk.ran(sql)

    def execute_many(self, statements: Sequence[str]) -> None:
        # sqlite3.executescript would COMMIT first; in-process statements cost no round trip.
        for i, sql in enumerate(statements):
            try:
                self.execute(sql)
            except DbFailure as exc:
                exc.index = i
                raise

    def _guarded(self, sql: str, params: tuple[object, ...] = ()) -> None:
        if self._cancelled:
            raise KeyboardInterrupt
        if self.settings.statement_timeout:
            self._deadline = time.monotonic() + self.settings.statement_timeout
        try:
            for _ in self.conn.execute(sql, params):
                pass  # step to the end: sqlite3 only runs a row-returning statement as far as read
        except sqlite3.Error as exc:
            if is_busy(exc):
                raise self._locked() from exc
            message = str(exc)
            if message == "interrupted" and (interrupts.requested() or self._cancelled):
                raise KeyboardInterrupt from exc
            if message == "interrupted" and self._deadline is not None:
                limit = self.settings.statement_timeout
                message = f"statement cancelled after --statement-timeout {limit:g}s"
            raise DbFailure(message, getattr(exc, "sqlite_errorname", None)) from exc
        finally:
            self._deadline = None

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._own_errors():
            return self.conn.execute(sql, params).fetchall()

    def write_batch(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        with self._own_errors():
            for sql, params in statement_runs(statements):
                self.conn.executemany(sql, params)

    @contextlib.contextmanager
    def _own_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            if is_busy(exc):
                raise self._locked() from exc
            raise BackendError(f"{self.url.masked}: sqlmig's own tables: {exc}") from exc

    @property
    def label(self) -> str:
        return Path(self.path).stem

    def introspect(self, *, home_only: bool = False) -> Schema:
        from sqlmig.schema.sqlite import introspect

        self._require_file()
        # A script from `sqlite3 .dump` creates virtual tables by writing sqlite_schema
        # directly; the connection sees them only once it re-reads its schema.
        self.conn.execute("PRAGMA writable_schema = RESET")
        return introspect(self.conn, self._own_tables)

    def dump_schema(self) -> str:
        from sqlmig.schema.sqlite import dump

        self._require_file()
        return dump(self.conn, self._own_tables)

    def _require_file(self) -> None:
        """A mistyped path must be an error, not an empty schema: that would overwrite a
        real schema.sql, or show as every object missing."""
        if self.path != ":memory:" and not Path(self.path).exists():
            raise ConnectError(f"no database at {self.url.masked}")

    @property
    def _own_tables(self) -> set[str]:
        s = self.settings
        return set(s.own_tables)

    def source(self) -> BackupSource:
        return BackupSource("sqlite", str(Path(self.path).resolve()))

    def backup_to(self, dest: Path) -> BackupSource:
        """SQLite's online backup API: a consistent copy even while others write (WAL
        too), turned to rollback-journal mode so that it stands alone: reading it later
        creates no -wal or -shm file next to it."""
        try:
            target = sqlite3.connect(dest, isolation_level=None)
            try:
                copy(self.conn, target, self.settings.lock_timeout, self._locked)
                target.execute("PRAGMA journal_mode = DELETE").fetchone()
                problems = [r[0] for r in target.execute("PRAGMA integrity_check").fetchall()]
            finally:
                target.close()
        except sqlite3.Error as exc:
            size = Path(self.path).stat().st_size
            doing = f"backing up {self.path}"
            raise BackupError(write_failed(exc, dest.parent, size, doing)) from exc
        if problems != ["ok"]:
            shown = "; ".join(problems[:5])
            raise BackupError(
                f"{self.path} failed PRAGMA integrity_check, nothing was changed: {shown}"
            )
        return self.source()

    def restore_from(
        self, src: Path, manifest: BackupSource | None, prepare: Callable[[], list[Statement]]
    ) -> list[str]:
        """Stage the backup, with ``prepare``'s statements run on it, in a temporary
        copy next to the database, then copy that over the database with the backup
        API (safe under WAL) in one step: the database is either as before or restored,
        history included. The database is write-locked from ``prepare`` until the copy
        begins."""
        with read_only(src) as source:
            check_backup(src, source, self.settings.table)
            folder = Path(self.path).resolve().parent
            tempfiles.sweep(folder)
            with tempfiles.temporary(folder, Path(self.path).name + ".restore") as staged:
                try:
                    self._begin()
                    try:
                        page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
                        stage(source, staged, prepare(), page_size)
                    finally:
                        self._rollback()
                    with read_only(staged) as ready:
                        copy(ready, self.conn, self.settings.lock_timeout, self._locked)
                except sqlite3.Error as exc:
                    if is_busy(exc):
                        raise self._locked() from exc
                    doing = f"restoring {src}"
                    size = src.stat().st_size
                    raise BackupError(write_failed(exc, folder, size, doing)) from exc
        return []
