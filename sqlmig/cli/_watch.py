"""What every command that changes a database shows first and while it runs: which
database (URL masked) and, during a run, its progress (sqlmig.progress).

Both go to stdout, or to stderr with --json, where stdout is the one document.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from sqlmig.migrator import Migrator
    from sqlmig.progress import Progress


def _stream(json: bool) -> TextIO:
    return sys.stderr if json else sys.stdout


def header(command: str, m: Migrator, *, json: bool = False) -> None:
    """``sqlmig apply: postgresql://app:***@db:5432/app (table public.schema_version)``:
    a stale DATABASE_URL shows before anything happens to it."""
    out = _stream(json)
    out.write(f"sqlmig {command}: {m.target()}\n")
    out.flush()


@contextmanager
def watching(m: Migrator, *, json: bool = False) -> Iterator[Progress]:
    """Progress for the run inside the block: live on a terminal, a line per event else."""
    from sqlmig.render_progress import reporting

    with reporting(_stream(json), m.activity) as reporter:
        yield reporter
