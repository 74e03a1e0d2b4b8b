"""Backup files: where they go, what they are called, how they are written and pruned.

Engines produce the bytes (SQLite's backup API, pg_dump); this module makes sure a
backup is either complete and private (mode 0600) or absent: it is written under a
temporary name and renamed only once the engine has finished and checked it. Next to
each backup, ``NAME.json`` (its manifest) records which database it is of, so that a
restore can refuse a backup of another one, and which command took it, for retention.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from sqlmig import tempfiles
from sqlmig._version import __version__
from sqlmig.engines.base import Engine
from sqlmig.errors import BackupError
from sqlmig.models import BackupInfo, BackupSource
from sqlmig.tempfiles import safe_label

NAME_RE = re.compile(
    r"^(?P<db>.+)-v(?P<version>\d+)-(?P<at>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?\.(?P<ext>sqlite|pgdump)$"
)
MANIFEST_FORMAT = 1


def _extension(engine: Engine) -> str:
    return "sqlite" if engine.dialect == "sqlite" else "pgdump"


def file_name(
    engine: Engine, version: int, now: datetime, n: int = 1, label: str | None = None
) -> str:
    """``label`` (default: the database's name) starts the name: a fleet target's."""
    suffix = f"-{n}" if n > 1 else ""
    stamp = f"{now:%Y%m%dT%H%M%SZ}{suffix}"
    return f"{safe_label(label or engine.label)}-v{version:04d}-{stamp}.{_extension(engine)}"


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".json")


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


def take(
    engine: Engine,
    folder: Path,
    version: int,
    keep: int | None = None,
    *,
    taken_by: str = "backup",
    label: str | None = None,
) -> BackupInfo:
    """Write a backup of ``engine``'s database at ``version`` into ``folder``, with its
    manifest, named by ``label`` (default: the database's name); then, with ``keep``,
    delete the old ones of that label the retention rule gives up."""
    _prepare_folder(folder)
    sweep(folder)
    now = datetime.now(UTC)
    # Threads of one fleet run share the process: the label keeps their files apart.
    with tempfiles.temporary(folder, file_name(engine, version, now, label=label)) as partial:
        try:
            os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            source = engine.backup_to(partial)
            with partial.open("rb+") as f:
                os.fsync(f.fileno())
            os.chmod(partial, 0o600)  # pg_dump rewrites the file; make sure it stays private
            manifest = partial.with_name(partial.name + ".json")
            _write_private(manifest, _manifest(source, version, now, taken_by))
            final = _publish(partial, manifest, lambda n: file_name(engine, version, now, n, label))
        except OSError as exc:
            raise BackupError(_os_message(exc, partial)) from None
    if keep:
        prune(folder, label or engine.label, keep, _extension(engine))
    return describe(final)


def sweep(folder: Path) -> list[Path]:
    """Remove what writers that died left (tempfiles.sweep), and manifests whose backup
    is gone (a prune that died between the two deletions); return them."""
    removed = tempfiles.sweep(folder)
    with contextlib.suppress(OSError):
        for path in folder.glob("*.json"):
            if NAME_RE.match(path.stem) and not path.with_suffix("").exists():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def _manifest(source: BackupSource, version: int, now: datetime, taken_by: str) -> str:
    doc = {
        "sqlmig_backup": MANIFEST_FORMAT,
        "version": version,
        "taken_at": now.isoformat(timespec="seconds"),
        "taken_by": taken_by,
        "sqlmig_version": __version__,
        "source": asdict(source),
    }
    return json.dumps(doc, indent=2) + "\n"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _publish(partial: Path, manifest: Path, name: Callable[[int], str]) -> Path:
    """Give the finished file its name, ``name(n)``, without ever replacing another
    backup, numbered after every backup of the same second, even one pruned since:
    order is by number. The manifest follows the backup, so that a manifest never
    names a file that is not there."""
    folder = partial.parent
    stem = name(1).rsplit(".", 1)[0]
    taken = [
        int(match["n"] or 1)
        for p in folder.iterdir()
        if p.name.startswith(stem) and (match := NAME_RE.match(p.name))
    ]
    for n in range(max(taken, default=0) + 1, 1000):
        final = folder / name(n)
        try:
            os.link(partial, final)  # unlike rename, fails if the name is taken
        except FileExistsError:
            continue
        os.replace(manifest, manifest_path(final))  # over a stale one whose backup is gone
        return final
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
    taken_by, source = read_manifest(path)
    return BackupInfo(
        path,
        match["db"],
        int(match["version"]),
        at.isoformat(),
        path.stat().st_size,
        taken_by,
        source,
    )


def read_manifest(backup: Path) -> tuple[str | None, BackupSource | None]:
    """The command that took ``backup`` and the database it is of, from its manifest;
    (None, None) when it has none or it cannot be read."""
    try:
        doc = json.loads(manifest_path(backup).read_text(encoding="utf-8"))
        source = doc["source"]
        return str(doc["taken_by"]), BackupSource(
            dialect=str(source["dialect"]),
            database=str(source["database"]),
            cluster=None if source["cluster"] is None else str(source["cluster"]),
            schemas=tuple(map(str, source["schemas"])),
            left_out=tuple(map(str, source["left_out"])),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


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
    """Delete the backups of ``database`` made by the engine that writes ``extension``
    files that the retention rule (backup_rules.backups_to_prune) gives up, with their
    manifests; return what was deleted."""
    from sqlmig.backup_rules import backups_to_prune

    mine = [
        b
        for b in listing(folder)
        if b.database == safe_label(database) and b.path.suffix == f".{extension}"
    ]
    doomed = [b.path for b in backups_to_prune(mine, keep)]
    for path in doomed:
        try:
            for gone in (path, manifest_path(path)):
                with contextlib.suppress(FileNotFoundError):  # another run pruned it first
                    gone.unlink()
        except OSError as exc:
            raise BackupError(
                f"the new backup was written, but the old backup {path} could not be "
                f"deleted (--keep {keep}): {exc.strerror or exc}. Fix the folder's "
                "permissions, or delete it by hand."
            ) from None
    return doomed
