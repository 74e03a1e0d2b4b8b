"""Reference data in seeds/*.sql: applied in name order, again whenever a file changes.

Seeds are like repeatable migrations: their checksum is recorded, and an unchanged
file is never run twice. They must be idempotent (INSERT ... ON CONFLICT), since an
edited file runs again over the data its previous version wrote.
"""

from __future__ import annotations

from pathlib import Path

from sqlmig.discovery import read_sql_file, transaction_problems
from sqlmig.errors import Problem, ValidationError
from sqlmig.models import SeedState, SeedStatus
from sqlmig.splitter import Dialect


def load_seeds(
    folder: Path, applied: dict[str, str], dialect: Dialect | None = None
) -> list[SeedStatus]:
    """Every seed file with its state; [] when there is no seeds folder. Each seed runs
    in one transaction: with ``dialect``, statements that cannot are problems."""
    if not folder.is_dir():
        return []
    problems: list[Problem] = []
    seeds = []
    for path in sorted(folder.glob("*.sql")):
        file = read_sql_file(path, problems)
        if file is None:
            continue
        if file.no_transaction:
            problems.append(
                Problem("seeds always run in one transaction each: remove no-transaction", path)
            )
        elif dialect is not None:
            problems += transaction_problems(file, dialect, "wal")
        recorded = applied.get(path.name)
        state = (
            SeedState.PENDING
            if recorded is None
            else SeedState.APPLIED
            if recorded == file.checksum
            else SeedState.CHANGED
        )
        seeds.append(SeedStatus(path.name, state, file))
    if problems:
        raise ValidationError(problems)
    return seeds
