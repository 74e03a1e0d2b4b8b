"""Temporary files next to the files they become: named after their writer, always
removed, and swept up after a writer that died before it could remove them.

A backup (backups.py) and a SQLite restore's staging copy (engines/sqlite.py) are
written under such a name, so that whatever fails, nothing partial stays behind: not
the file, nor what a database engine writes next to it (-journal, -wal, -shm).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path


def safe_label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "database"


@contextlib.contextmanager
def temporary(folder: Path, name: str) -> Iterator[Path]:
    """A private temporary path for ``name`` in ``folder``; on the way out, whatever
    succeeds or fails, that file and everything named after it are removed."""
    path = folder / f".{name}.{_writer()}.partial"
    try:
        yield path
    finally:
        for left in folder.glob(_glob_escape(path.name) + "*"):
            with contextlib.suppress(FileNotFoundError):
                left.unlink()


def sweep(folder: Path) -> list[Path]:
    """Remove the temporary files of processes of this host that died (SIGKILL, power
    loss) before they could; return them. A live process's files, and other hosts'
    (a shared folder), are never touched."""
    host = re.escape(_host())
    pattern = re.compile(rf"^\..+\.{host}-(?P<pid>\d+)\.partial")
    removed = []
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            match = pattern.match(path.name)
            if match and not _alive(int(match["pid"])):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def _writer() -> str:
    return f"{_host()}-{os.getpid()}"


def _host() -> str:
    # Imported here: engines/sqlite.py imports this module, and `sqlmig status` needs none of it.
    import socket

    return safe_label(socket.gethostname())


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
