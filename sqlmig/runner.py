"""Execute a plan: one transaction per migration with its version row, dirty marks for
the rest, a history event for every outcome.

The runner owns policy (what is recorded when); the engine only how it is done; the
plan (planner.py) what comes next.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import NoReturn, Protocol

from sqlmig.engines.base import DbFailure, Driver
from sqlmig.engines.bookkeeping import RowChange
from sqlmig.engines.store import Store
from sqlmig.errors import Interrupted, SqlmigError, StatementError
from sqlmig.models import (
    AppliedRow,
    Direction,
    EventKind,
    FailedStep,
    Migration,
    PartialRun,
    RowStatus,
    RunResult,
    SeedResult,
    SqlFile,
    StepResult,
)
from sqlmig.records import RunContext, ms_since, now_utc
from sqlmig.scripts import run_statements, statement_error

OnStep = Callable[[Migration, Direction, StepResult | None], None]


class Plan(Protocol):
    @property
    def direction(self) -> Direction: ...

    def steps(self, rows: list[AppliedRow], done: int) -> list[Migration]: ...


class Runner:
    """Runs plans and seed files against one database, recording every outcome."""

    def __init__(
        self, engine: Driver, store: Store, ctx: RunContext, on_step: OnStep | None = None
    ) -> None:
        self.engine, self.store, self.ctx, self.on_step = engine, store, ctx, on_step

    def run(self, plan: Plan, result: RunResult | None = None) -> RunResult:
        """Take the plan's steps one at a time, each in its own transaction, until it has
        none left. On failure the error's ``partial`` says what had already committed.

        Each step begins, inside a transaction that excludes other writers, by asking the
        engine whether another runner changed the version table (SQLite runners share no
        lock that outlives a transaction); if so, the rest of the plan is made again from
        the rows as they now are. If not, those rows are the last ones read plus this
        run's own steps, and the plan made from them still holds: re-planning from them
        at every step would cost O(N) per step for nothing.
        """
        result = result or RunResult()
        start = time.perf_counter()
        cursor = _Cursor(plan)
        while (done := self._step(cursor, result)) is not None:
            result.steps.append(done)
        result.duration_ms = ms_since(start)
        return result

    def _step(self, cursor: _Cursor, result: RunResult) -> StepResult | None:
        """Claim the next step and run it: a transactional file in the claiming
        transaction itself; a no-transaction one after a dirty mark committed first."""
        direction = cursor.plan.direction
        m: Migration | None = None
        start = time.perf_counter()
        try:
            with self.engine.transaction():
                m = cursor.next(self.engine.change_token(), self.store, len(result.steps))
                if m is None:
                    return None
                file = m.file(direction)
                if self.on_step:
                    self.on_step(m, direction, None)
                start = time.perf_counter()
                if file.no_transaction:
                    self._mark_dirty(m, direction)  # committed: if we die, the mark survives
                else:
                    count = run_statements(self.engine, file, rolled_back=True)
                    ms = ms_since(start)
                    self._record_success(m, file, direction, ms, row_exists=False)
            if file.no_transaction:
                count = run_statements(self.engine, file, rolled_back=False)
                ms = ms_since(start)
                with self.engine.transaction():
                    self._record_success(m, file, direction, ms, row_exists=True)
        except DbFailure as exc:  # at commit: deferred constraints, SQLite's foreign keys
            assert m is not None
            file = m.file(direction)
            failure = statement_error(self.engine, file, None, exc, rolled_back=True)
            self._record_failure(m, file, direction, start, failure)
            raise _attach(failure, result, _failed(m, direction)) from exc
        except (SqlmigError, KeyboardInterrupt) as exc:
            if m is not None:
                self._record_failure(m, m.file(direction), direction, start, exc)
            _carry(exc, result, _failed(m, direction) if m else None)
        done = StepResult(m.version, m.name, direction, ms, count)
        if self.on_step:
            self.on_step(m, direction, done)
        return done

    def _mark_dirty(self, m: Migration, direction: Direction) -> None:
        # Committed before the first statement: if we die part-way, the mark survives us.
        row = self.ctx.row(m, RowStatus.DIRTY)
        if direction is Direction.UP:
            self.store.insert_row(row)
        else:
            self.store.update_row(row)

    def _record_success(
        self, m: Migration, file: SqlFile, direction: Direction, ms: int, *, row_exists: bool
    ) -> None:
        """Inside the caller's transaction: the version row (insert, or update of a dirty
        one, or delete for a rollback) and the history event."""
        change: RowChange = "update" if row_exists else "insert"
        if direction is Direction.DOWN:
            change = "delete"
        event = EventKind.APPLY if direction is Direction.UP else EventKind.ROLLBACK
        self.store.record(
            change,
            self.ctx.row(m, RowStatus.APPLIED, ms=ms),
            self.ctx.event(event, m, file=file, direction=direction, duration_ms=ms),
        )

    def run_seed(self, name: str, file: SqlFile, result: RunResult) -> SeedResult:
        """Apply one seed file in its own transaction, recording its checksum and history."""
        start = time.perf_counter()
        failed = FailedStep(file.path, name)
        try:
            with self.engine.transaction():
                count = run_statements(self.engine, file, rolled_back=True)
                ms = ms_since(start)
                self.store.record_seed(name, file.checksum, now_utc(), self.ctx.who, ms)
                self.store.insert_history(
                    self.ctx.event(EventKind.SEED, None, name=name, file=file, duration_ms=ms)
                )
        except DbFailure as exc:
            error = statement_error(self.engine, file, None, exc, rolled_back=True)
            self._record_failure(None, file, None, start, error, name=name)
            raise _attach(_seed_outcome(error), result, failed) from exc
        except StatementError as exc:
            self._record_failure(None, file, None, start, exc, name=name)
            raise _attach(_seed_outcome(exc), result, failed) from exc.__cause__
        except (SqlmigError, KeyboardInterrupt) as exc:
            self._record_failure(None, file, None, start, exc, name=name)
            _carry(exc, result, failed)
        return SeedResult(name, ms, count)

    def _record_failure(
        self,
        m: Migration | None,
        file: SqlFile,
        direction: Direction | None,
        start: float,
        exc: BaseException,
        *,
        name: str = "",
    ) -> None:
        """Append the failure to the history in its own transaction; never mask ``exc``."""
        if isinstance(exc, KeyboardInterrupt):
            error = "interrupted"
        elif isinstance(exc, StatementError):
            error = str(exc)
        else:
            return  # lock and connection errors: there is no database to write to
        event = self.ctx.event(
            EventKind.FAIL,
            m,
            name=name,
            success=False,
            direction=direction,
            duration_ms=ms_since(start),
            error=error,
            file=file,
        )
        # If even this write fails, the original error is still the one the user must see.
        with contextlib.suppress(SqlmigError):
            self.store.insert_history(event)


class _Cursor:
    """Where a run is in its plan: the steps left, as planned from the rows last read."""

    _UNREAD = object()

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.queue: list[Migration] = []
        self.token: object = self._UNREAD

    def next(self, token: object, store: Store, done: int) -> Migration | None:
        if self.token is self._UNREAD or token != self.token:
            self.queue = self.plan.steps(store.applied(), done)
            self.token = token
        return self.queue.pop(0) if self.queue else None


def _failed(m: Migration, direction: Direction) -> FailedStep:
    return FailedStep(m.file(direction).path, m.name, m.version, direction)


def _attach(exc: SqlmigError, result: RunResult, failed: FailedStep | None) -> SqlmigError:
    """Give ``exc`` what the run had done before it failed."""
    exc.partial = _partial(result, failed)
    return exc


def _partial(result: RunResult, failed: FailedStep | None) -> PartialRun:
    return PartialRun(list(result.steps), list(result.seeds), result.backup, failed)


def _carry(exc: BaseException, result: RunResult, failed: FailedStep | None) -> NoReturn:
    """Re-raise what ended the run, carrying what the run had done: an error gets its
    ``partial``, an interrupt becomes an Interrupted that has one."""
    if isinstance(exc, SqlmigError):
        if exc.partial is None:
            _attach(exc, result, failed)
        raise exc
    if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, Interrupted):
        raise Interrupted(_partial(result, failed)) from exc
    raise exc


@contextlib.contextmanager
def reporting(result: RunResult) -> Iterator[None]:
    """Whatever ends a run inside this block (the seeds, the status, the drift check
    after the migrations) says what the run had done, its backup first."""
    try:
        yield
    except (SqlmigError, KeyboardInterrupt) as exc:
        _carry(exc, result, None)


def _seed_outcome(exc: StatementError) -> StatementError:
    return exc.with_outcome(
        "This seed file was rolled back; migrations and seed files before it stay applied."
    )
