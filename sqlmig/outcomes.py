"""What a failure left behind, told so that it cannot be misread: the words on the
error (its outcome: what was rolled back, what stays, what to run next) and what the
run had committed before it (its ``partial``)."""

from __future__ import annotations

from enum import Enum
from typing import NoReturn

from sqlmig.engines.base import FailureKind
from sqlmig.errors import Interrupted, SqlmigError, StatementError
from sqlmig.models import Direction, FailedStep, Migration, PartialRun, RunResult


class At(Enum):
    """Where a step was when its connection was lost."""

    CLAIM = "claim"  # in the first transaction, before its commit
    COMMIT = "commit"  # committing the first transaction
    STATEMENTS = "statements"  # a no-transaction file's statements, each its own commit
    RECORD = "record"  # recording a no-transaction file's success


def failed_step(m: Migration, direction: Direction) -> FailedStep:
    return FailedStep(m.file(direction).path, m.name, m.version, direction)


def attach(exc: SqlmigError, result: RunResult, failed: FailedStep | None) -> SqlmigError:
    """Give ``exc`` what the run had done before it failed."""
    exc.partial = _partial(result, failed)
    return exc


def _partial(result: RunResult, failed: FailedStep | None) -> PartialRun:
    return PartialRun(list(result.steps), list(result.seeds), result.backup, failed)


def carry(exc: BaseException, result: RunResult, failed: FailedStep | None) -> NoReturn:
    """Re-raise what ended the run, carrying what the run had done: an error gets its
    ``partial``, an interrupt becomes an Interrupted that has one."""
    if isinstance(exc, SqlmigError):
        if exc.partial is None:
            attach(exc, result, failed)
        raise exc
    if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, Interrupted):
        raise Interrupted(_partial(result, failed)) from exc
    raise exc


def step_outcome(exc: StatementError, m: Migration, direction: Direction) -> StatementError:
    """Say what a failed step left behind in words that cannot be misread."""
    if not exc.rolled_back:
        return exc  # a no-transaction file: the error already says the version is dirty
    if direction is Direction.UP:
        return exc.with_outcome(
            f"This migration was rolled back: nothing of it stays, version {m.version} is "
            "not applied."
        )
    return exc.with_outcome(
        f"The down file's changes were undone: version {m.version} is still applied, "
        "as it was before this rollback started."
    )


WHOLE_ROLLED_BACK = (
    "--single-transaction: the whole run was rolled back, none of its migrations stays "
    "and the database is as it was before the run."
)


def whole_outcome(exc: StatementError) -> str:
    if exc.kind == FailureKind.OUT_OF_LOCKS:
        return (
            f"{WHOLE_ROLLED_BACK} One transaction holds a lock on every table the run "
            "touches, more than PostgreSQL's lock table has room for: raise "
            "max_locks_per_transaction (SHOW max_locks_per_transaction; the server must be "
            "restarted) or apply without --single-transaction."
        )
    return WHOLE_ROLLED_BACK


def seed_outcome(exc: StatementError) -> StatementError:
    return exc.with_outcome(
        "This seed file was rolled back; migrations and seed files before it stay applied."
    )


def lost_outcome(m: Migration, direction: Direction, at: At) -> str:
    """What a lost connection left of step ``m``: the server rolled back the transaction
    that was open, and only that."""
    up, v = direction is Direction.UP, m.version
    what = f"version {v} ({m.name})" if up else f"the down file of version {v} ({m.name})"
    again = "Run `sqlmig apply` again" if up else "Run the rollback again"
    back = "once the server is back"
    if not m.file(direction).no_transaction:
        if at is At.COMMIT:
            return (
                f"It was lost while committing {what}: the server either committed it "
                "whole, with its version row, or rolled it back whole; `sqlmig status` shows "
                f"which {back}."
            )
        still = "" if up else f", and version {v} is still applied"
        return (
            f"{_capital(what)} ran in one transaction, which the server rolled back: nothing "
            f"of it stays{still}. {again} {back}."
        )
    if at is At.CLAIM:
        return f"None of {what} ran. {again} {back}."
    if at is At.COMMIT:
        undo = "--rolled-back" if up else "--applied"
        return (
            f"None of {what} ran, but the connection was lost while marking the version dirty: "
            f"{back}, if `sqlmig status` shows it dirty, run `sqlmig resolve {v} {undo}`."
        )
    if at is At.STATEMENTS:
        return (
            f"{_capital(what)} runs outside a transaction: its statements that ran before the "
            f"connection was lost stay, and the version is marked dirty. {_capital(back)}, "
            "inspect the database, finish or undo the change by hand, then run "
            f"`sqlmig resolve {v} --applied` or `sqlmig resolve {v} --rolled-back`."
        )
    done = "--applied" if up else "--rolled-back"
    return (
        f"Every statement of {what} ran, but the connection was lost while recording it: "
        f"{back}, if `sqlmig status` shows the version dirty, run `sqlmig resolve {v} {done}`."
    )


def lost_seed_outcome(name: str, at: At) -> str:
    if at is At.COMMIT:
        return (
            f"It was lost while committing seed file {name}: the server either committed it "
            "whole or rolled it back whole; `sqlmig status` shows which once the server is back."
        )
    return (
        f"Seed file {name} ran in one transaction, which the server rolled back: nothing of it "
        "stays. Run `sqlmig seed` again once the server is back."
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
