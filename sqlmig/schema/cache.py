"""The baseline cache: the model a scratch load of schema.sql built, kept on disk so that
the next check compares with it instead of loading the file again.

An entry is one file named by the hash of its key, everything that can change what a
load builds (the file's bytes, sqlmig's own code, the scratch server's version,
settings, extensions and roles); it holds that key again, the model and the notes on
how it was built. It is written to a private temporary file, synced and renamed into
place, so a reader sees a whole entry or none; one that does not read back whole and
valid (cut short, edited, of another format, unreadable) is ignored, and built again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlmig.config import Settings
from sqlmig.schema import Schema

FORMAT = 1  # of an entry's layout; part of every key
KEEP = 20  # entries kept, the most recently used
_STALE_PARTIAL = 3600  # seconds after which a temporary file is a killed writer's


def folder(settings: Settings) -> Path | None:
    """Where entries go: ``cache_dir``, else $XDG_CACHE_HOME/sqlmig, else ~/.cache/sqlmig;
    None when the cache is off or no home folder can be found."""
    if not settings.cache:
        return None
    if settings.cache_dir is not None:
        return settings.cache_dir / "baselines"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    try:  # the XDG rules: an unset, empty or relative value means the default
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    except RuntimeError:  # no HOME and no password-file entry
        return None
    return base / "sqlmig" / "baselines"


_FINGERPRINT: list[str] = []


def fingerprint() -> str:
    """sqlmig's version and a hash of its source: a model built by other code is another
    model, even under the same version number (an editable install, a patched copy)."""
    if not _FINGERPRINT:
        from sqlmig._version import __version__

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        digest = hashlib.sha256()
        for path in sorted(_sources(root)):
            digest.update(os.path.relpath(path, root).replace(os.sep, "/").encode() + b"\0")
            with open(path, "rb") as f:
                digest.update(f.read())
        _FINGERPRINT.append(f"{__version__}+{digest.hexdigest()[:32]}")
    return _FINGERPRINT[0]


def _sources(top: str) -> list[str]:
    found = []
    for entry in os.scandir(top):
        if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
            found += _sources(entry.path)
        elif entry.name.endswith(".py"):
            found.append(entry.path)
    return found


def python() -> str:
    return "{}.{}".format(*sys.version_info[:2])


def local_key(dialect: str, name: str, source: bytes, settings: Settings) -> dict[str, Any]:
    """The parts of a key this process knows without asking a server."""
    return {
        "format": FORMAT,
        "sqlmig": fingerprint(),
        "python": python(),
        "dialect": dialect,
        "file": {"name": name, "sha256": hashlib.sha256(source).hexdigest()},
        "settings": {"table": settings.table, "schema": settings.schema},
    }


class Cache:
    """The entries in one folder."""

    def __init__(self, where: Path) -> None:
        self.where = where

    def _path(self, key: dict[str, Any]) -> Path:
        canonical = json.dumps(key, sort_keys=True, separators=(",", ":"))
        return self.where / f"{hashlib.sha256(canonical.encode()).hexdigest()}.json"

    def read(self, key: dict[str, Any]) -> tuple[Schema, list[str]] | None:
        """The model and notes stored under ``key``; None when there is no whole, valid
        entry for it (never an error)."""
        path = self._path(key)
        try:
            data = path.read_bytes()
            header, _, payload = data.partition(b"\n")
            meta = json.loads(header)
            if meta != {"format": FORMAT, "sha256": hashlib.sha256(payload).hexdigest()}:
                return None
            entry = json.loads(payload)
            if entry["key"] != json.loads(json.dumps(key)):  # as JSON gives it back
                return None
            schema, notes = entry["schema"], entry["notes"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not _valid(schema, notes):
            return None
        with contextlib.suppress(OSError):  # most recently used, for pruning
            os.utime(path)
        return schema, notes

    def write(self, key: dict[str, Any], schema: Schema, notes: list[str]) -> str | None:
        """Store an entry; a note saying why not when it cannot be written."""
        payload = json.dumps({"key": key, "schema": schema, "notes": notes}).encode()
        header = json.dumps({"format": FORMAT, "sha256": hashlib.sha256(payload).hexdigest()})
        path = self._path(key)
        partial = path.with_name(f".{path.stem}.{os.getpid()}.{time.monotonic_ns()}.partial")
        try:
            self.where.mkdir(mode=0o700, parents=True, exist_ok=True)
            # O_EXCL and 0600: private from the first byte, and never another's file.
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(header.encode() + b"\n" + payload)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
        except OSError as exc:
            return (
                f"could not keep the baseline in the cache ({exc.strerror or exc}: "
                f"{exc.filename or self.where}): the next check loads it again; "
                "set cache_dir to a writable folder, or turn the cache off with --no-cache"
            )
        self._prune()
        return None

    def _prune(self) -> None:
        """Drop all but the KEEP most recently used entries, and what killed writers left."""
        try:
            found = [(p, p.stat().st_mtime) for p in self.where.iterdir()]
        except OSError:
            return
        entries = sorted((t, p) for p, t in found if p.suffix == ".json")
        now = time.time()
        stale = [p for p, t in found if p.suffix == ".partial" and now - t > _STALE_PARTIAL]
        for path in [p for _, p in entries[:-KEEP]] + stale:
            with contextlib.suppress(OSError):  # another process pruned it first
                path.unlink()


def _valid(schema: object, notes: object) -> bool:
    """Whether a model read back is one sqlmig could have written: text everywhere."""
    if not isinstance(schema, dict) or not isinstance(notes, list):
        return False
    try:  # one pass over ~60,000 values for 1,000 tables: the cost of a stray type
        return all(type(n) is str for n in notes) and all(
            type(v) is str for attrs in schema.values() for v in attrs.values()
        )
    except AttributeError:  # an object's attributes that are not a mapping
        return False
