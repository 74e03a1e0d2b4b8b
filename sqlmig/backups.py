"""Backup files: where they go, what they are called, how they are written and pruned.

Engines produce the bytes (SQLite's backup API, pg_dump); this module makes sure a
backup is either complete and private (mode 0600) or absent: it is written under a
temporary name and renamed only once the engine has finished and checked it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from sqlmig.engines.base import Engine
from sqlmig.errors import BackupError
from sqlmig.models import BackupInfo

NAME_RE = re.compile(
    r"^(?P<db>.+)-v(?P<version>\d+)-(?P<at>\d{8}T\d{6}Z)(?:-\d+)?\.(?P<ext>sqlite|pgdump)$"
)


def safe_label(database: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", database) or "database"


def file_name(engine: Engine, version: int, now: datetime, n: int = 1) -> str:
    ext = "sqlite" if engine.dialect == "sqlite" else "pgdump"
    suffix = f"-{n}" if n > 1 else ""
    return f"{safe_label(engine.label)}-v{version:04d}-{now:%Y%m%dT%H%M%SZ}{suffix}.{ext}"


def _prepare_folder(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except FileNotFoundError:
        raise BackupError(
            f"backup folder {folder} cannot be created: {folder.parent} does not exist"
        ) from None
    except OSError as exc:
        raise BackupError(f"backup folder {folder} cannot be created: {exc.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupError(f"backup folder {folder} is not writable")


def take(engine: Engine, folder: Path, version: int, keep: int | None = None) -> BackupInfo:
    """Write a backup of ``engine``'s database at ``version`` into ``folder``."""
    _prepare_folder(folder)
    now = datetime.now(UTC)
    partial = folder / f".{file_name(engine, version, now)}.{os.getpid()}.partial"
    try:
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise BackupError(_os_message(exc, partial)) from None
    try:
        engine.backup_to(partial)
        with partial.open("rb+") as f:
            os.fsync(f.fileno())
        os.chmod(partial, 0o600)  # pg_dump rewrites the file; make sure it stays private
        final = _publish(partial, folder, engine, version, now)
    except OSError as exc:
        raise BackupError(_os_message(exc, partial)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    if keep:
        prune(folder, engine.label, keep)
    return describe(final)


def _publish(partial: Path, folder: Path, engine: Engine, version: int, now: datetime) -> Path:
    """Give the finished file its name without ever replacing another backup."""
    for n in range(1, 1000):
        final = folder / file_name(engine, version, now, n)
        try:
            os.link(partial, final)  # unlike rename, fails if the name is taken
            return final
        except FileExistsError:
            continue
    raise BackupError(f"too many backups named like {final.name} in {folder}")


def _os_message(exc: OSError, target: Path) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full while writing the backup {target}; nothing was changed"
    return f"cannot write the backup {target}: {exc.strerror or exc}"


def describe(path: Path) -> BackupInfo:
    match = NAME_RE.match(path.name)
    if not match:
        raise BackupError(f"{path.name} is not named like a sqlmig backup")
    at = datetime.strptime(match["at"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return BackupInfo(path, match["db"], int(match["version"]), at.isoformat(), path.stat().st_size)


def listing(folder: Path) -> list[BackupInfo]:
    """Every backup in ``folder``, newest first."""
    if not folder.is_dir():
        return []
    found = [describe(p) for p in folder.iterdir() if NAME_RE.match(p.name)]
    return sorted(found, key=lambda b: (b.taken_at, b.path.name), reverse=True)


def prune(folder: Path, database: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups of ``database``; return what was deleted."""
    mine = [b for b in listing(folder) if b.database == safe_label(database)]
    doomed = [b.path for b in mine[keep:]]
    for path in doomed:
        path.unlink()
    return doomed
