"""SQLite's database and backup files: why a path would not open, a full disk, a busy
file, and a backup read, checked, staged and copied without touching the database.

What sqlite3 reports about a file ("unable to open", SQLITE_IOERR, "database is locked")
is true but rarely says what to do; here it is turned into what the user can act on.
The engine (sqlite.py) calls these with its settings and connection; none holds state.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

from sqlmig.engines.base import Statement
from sqlmig.errors import BackupError, LockTimeout


def is_busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorname", "").startswith(
        "SQLITE_BUSY"
    ) or "database is locked" in str(exc)


def why_not(path: Path, write: bool) -> str:
    """What SQLite's "unable to open" or "readonly database" means for this path."""
    if path.is_dir():
        return (
            f": {path} is a folder, not a database file; name the file in it, "
            f"e.g. sqlite:///{path / 'app.db'}"
        )
    if write and path.exists() and not os.access(path, os.W_OK):
        return f": {path} is read-only; sqlmig needs to write it"
    if write and not os.access(path.parent, os.W_OK | os.X_OK):
        return (
            f": its folder {path.parent} is read-only; SQLite writes its journal (or, in "
            "WAL mode, the -wal and -shm files) next to the database"
        )
    return ""


def write_failed(exc: sqlite3.Error, folder: Path, size: int, doing: str) -> str:
    """A full disk shows as SQLITE_FULL, or as an I/O error when it is the -wal or
    -shm file that could not grow: name it for what it is."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    import shutil  # lazily: only a backup or restore needs it

    short = shutil.disk_usage(folder).free < size
    if name == "SQLITE_FULL" or (name.startswith("SQLITE_IOERR") and short):
        return f"disk full in {folder} while {doing}; nothing was changed"
    return f"{doing} failed: {exc}"


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A backup, read as the immutable file it is: no locks, and no -wal or -shm file
    created next to it, even for one taken in WAL mode by an older sqlmig."""
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def check_backup(src: Path, source: sqlite3.Connection, table: str) -> None:
    """Refuse a file that is not a whole SQLite database holding sqlmig's ``table``."""
    with src.open("rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{src} is not an SQLite database")
    try:
        ok = source.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        has_table = source.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    except sqlite3.Error as exc:
        raise BackupError(f"{src} is not a usable sqlmig backup: {exc}") from exc
    if not ok or not has_table:
        why = "fails PRAGMA integrity_check" if not ok else f"has no {table} table"
        raise BackupError(f"{src} is not a usable sqlmig backup: it {why}")


def stage(
    source: sqlite3.Connection, staged: Path, finish: list[Statement], page_size: int
) -> None:
    """The backup, then ``finish``, in a private file in rollback-journal mode and in
    the database's ``page_size`` (a WAL database cannot take pages of another size)."""
    image = sqlite3.connect(staged, isolation_level=None)
    try:
        source.backup(image)
        image.execute("PRAGMA journal_mode = DELETE").fetchone()
        if image.execute("PRAGMA page_size").fetchone()[0] != page_size:
            image.execute(f"PRAGMA page_size = {int(page_size)}")
            image.execute("VACUUM")
        image.execute("BEGIN")
        for sql, params in finish:
            try:
                image.execute(sql, params)
            except sqlite3.OperationalError as exc:
                # ADD COLUMN, which SQLite cannot make IF NOT EXISTS, of a column the
                # backup already has: it was taken in this sqlmig's format.
                if not (sql.startswith("ALTER TABLE") and "duplicate column" in str(exc)):
                    raise
        image.execute("COMMIT")
    finally:
        image.close()


def copy(
    source: sqlite3.Connection,
    target: sqlite3.Connection,
    limit: float,
    locked: Callable[[], LockTimeout],
) -> None:
    """``source.backup(target)``, waiting at most ``limit`` seconds (0: forever) for the
    locks it needs, then raising ``locked()``: sqlite3 itself retries a busy database
    forever."""
    deadline = time.monotonic() + limit if limit else None

    def waited(status: int, remaining: int, total: int) -> None:
        busy = status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        if busy and deadline is not None and time.monotonic() > deadline:
            raise locked()

    source.backup(target, progress=waited)
