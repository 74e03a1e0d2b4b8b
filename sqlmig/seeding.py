"""Reference data in seeds/*.sql: applied in name order, again whenever a file changes.

Seeds are like repeatable migrations: their checksum is recorded, and an unchanged
file is never run twice. They must be idempotent (INSERT ... ON CONFLICT), since an
edited file runs again over the data its previous version wrote.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmig.discovery import read_sql_file, transaction_problems
from sqlmig.engines.base import DbFailure
from sqlmig.errors import ConnectionLost, Problem, SqlmigError, StatementError, ValidationError
from sqlmig.models import (
    EventKind,
    FailedStep,
    RunResult,
    SeedResult,
    SeedState,
    SeedStatus,
    SqlFile,
)
from sqlmig.records import ms_since, now_utc
from sqlmig.splitter import Dialect

if TYPE_CHECKING:
    from sqlmig.runner import Runner


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


def run_seed(runner: Runner, name: str, file: SqlFile, result: RunResult) -> SeedResult:
    """Apply one seed file in its own transaction, recording its checksum and history."""
    # Here: `sqlmig status` reads the seeds (load_seeds) and runs none of them.
    from sqlmig.outcomes import At, attach, carry, lost_seed_outcome, seed_outcome
    from sqlmig.scripts import Unlocated, locate, run_statements, statement_error

    start = time.perf_counter()
    failed = FailedStep(file.path, name)
    at = At.STATEMENTS
    try:
        with runner.engine.transaction():
            count = run_statements(
                runner.engine, file, rolled_back=True, variables=runner.ctx.variables
            )
            ms = ms_since(start)
            runner.store.record_seed(name, file.checksum, now_utc(), runner.ctx.who, ms)
            runner.store.insert_history(
                runner.ctx.event(EventKind.SEED, None, name=name, file=file, duration_ms=ms)
            )
            at = At.COMMIT
    except ConnectionLost as exc:
        lost = exc.with_outcome(lost_seed_outcome(name, at))
        runner.record_failure(None, file, None, start, lost, name=name)
        raise attach(lost, result, failed) from exc.__cause__
    except DbFailure as exc:
        error = statement_error(runner.engine, file, None, exc, rolled_back=True)
        runner.record_failure(None, file, None, start, error, name=name)
        raise attach(seed_outcome(error), result, failed) from exc
    except StatementError as exc:
        runner.record_failure(None, file, None, start, exc, name=name)
        raise attach(seed_outcome(exc), result, failed) from exc.__cause__
    except Unlocated as unlocated:
        found = locate(runner.engine, unlocated)
        runner.record_failure(None, file, None, start, found, name=name)
        raise attach(seed_outcome(found), result, failed) from unlocated.failure
    except (SqlmigError, KeyboardInterrupt) as exc:
        runner.record_failure(None, file, None, start, exc, name=name)
        carry(exc, result, failed)
    return SeedResult(name, ms, count)
