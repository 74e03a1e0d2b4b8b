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
    r"^(?P<db>.+)-v(?P<version>\d+)-(?P<at>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?\.(?P<ext>sqlite|pgdump)$"
)


def _extension(engine: Engine) -> str:
    return "sqlite" if engine.dialect == "sqlite" else "pgdump"


def safe_label(database: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", database) or "database"


def file_name(engine: Engine, version: int, now: datetime, n: int = 1) -> str:
    suffix = f"-{n}" if n > 1 else ""
    stamp = f"{now:%Y%m%dT%H%M%SZ}{suffix}"
    return f"{safe_label(engine.label)}-v{version:04d}-{stamp}.{_extension(engine)}"


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
        prune(folder, engine.label, keep, _extension(engine))
    return describe(final)


def _publish(partial: Path, folder: Path, engine: Engine, version: int, now: datetime) -> Path:
    """Give the finished file its name without ever replacing another backup, numbered
    after every backup of the same second, even one pruned since: order is by number."""
    stem = file_name(engine, version, now).rsplit(".", 1)[0]
    taken = [
        int(match["n"] or 1)
        for p in folder.iterdir()
        if p.name.startswith(stem) and (match := NAME_RE.match(p.name))
    ]
    for n in range(max(taken, default=0) + 1, 1000):
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
    """Every backup in ``folder``, newest first (of two in the same second, the later)."""
    if not folder.is_dir():
        return []
    found = [describe(p) for p in folder.iterdir() if NAME_RE.match(p.name) and p.is_file()]
    return sorted(found, key=_age, reverse=True)


def _age(backup: BackupInfo) -> tuple[str, int, int]:
    """Its second, then, within a second, when the file was written and its number."""
    match = NAME_RE.match(backup.path.name)
    return backup.taken_at, backup.path.stat().st_mtime_ns, int(match["n"] or 1) if match else 0


def prune(folder: Path, database: str, keep: int, extension: str) -> list[Path]:
    """Delete all but the newest ``keep`` backups of ``database`` made by the engine that
    writes ``extension`` files; return what was deleted."""
    mine = [
        b
        for b in listing(folder)
        if b.database == safe_label(database) and b.path.suffix == f".{extension}"
    ]
    doomed = [b.path for b in mine[keep:]]
    for path in doomed:
        with contextlib.suppress(FileNotFoundError):  # another run pruned it first
            path.unlink()
    return doomed
