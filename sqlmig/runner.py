"""Execute a plan: one transaction per migration with its version row, dirty marks for
the rest, a history event for every outcome.

The runner owns policy (what is recorded when); the engine only how it is done; the
plan (planner.py) what comes next.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import NoReturn

from sqlmig.engines.base import DbFailure, Driver
from sqlmig.engines.bookkeeping import RowChange, Write
from sqlmig.engines.store import Store
from sqlmig.errors import BackendError, ConnectionLost, Interrupted, SqlmigError, StatementError
from sqlmig.models import (
    AppliedRow,
    Direction,
    EventKind,
    HistoryEvent,
    Migration,
    RowStatus,
    RunResult,
    SqlFile,
    StepResult,
    StoredSql,
)
from sqlmig.outcomes import (
    WHOLE_ROLLED_BACK,
    At,
    attach,
    carry,
    failed_step,
    lost_outcome,
    step_outcome,
    whole_outcome,
)
from sqlmig.planner import rollback_note
from sqlmig.planrules import invalid_left
from sqlmig.progress import Progress
from sqlmig.records import RunContext, ms_since
from sqlmig.runsteps import Cursor, InFlight, Plan
from sqlmig.scripts import Unlocated, locate, run_statements, statement_error
from sqlmig.storedsql import is_stored


class Runner:
    """Runs plans against one database, recording every outcome (seed files too:
    seeding.run_seed)."""

    def __init__(
        self, engine: Driver, store: Store, ctx: RunContext, progress: Progress | None = None
    ) -> None:
        self.engine, self.store, self.ctx, self.progress = engine, store, ctx, progress
        self._whole = False  # inside run_whole's one transaction
        # run_whole's version rows and history, written together before its commit: after
        # each migration's DDL SQLite compiles a statement again, PostgreSQL is a round
        # trip away, and in one transaction nothing can see them sooner anyway.
        self._records: list[tuple[Write, Write]] = []
        self._unwritten: list[HistoryEvent] = []  # failures to record once it rolled back

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
        cursor = Cursor(plan)
        while self._step(cursor, result) is not None:
            pass
        result.duration_ms = ms_since(start)
        return result

    def run_whole(self, plan: Plan, result: RunResult) -> RunResult:
        """Every step of the plan in one transaction, their version rows and history
        with them: all of it commits, or nothing does (``--single-transaction``). The
        planner has refused a plan with a no-transaction file. On SQLite the foreign
        keys are checked once, before that commit, over all that the run touched."""
        start = time.perf_counter()
        cursor = Cursor(plan)
        ran = RunResult(backup=result.backup)  # what has run; committed only at the end
        try:
            with self.engine.transaction():
                self._whole, self._records = True, []
                while self._step(cursor, ran) is not None:
                    pass
                # The version rows, then the history: each a run of one statement.
                self.store.write([r for r, _ in self._records] + [h for _, h in self._records])
                self._whole = False
        except DbFailure as exc:  # at the commit: SQLite's foreign keys, deferred ones
            last = ran.steps[-1].version if ran.steps else None
            m = next((m for m in plan.migrations if m.version == last), None)
            raise self._whole_failed(exc, m, plan.direction, result) from exc
        except Unlocated as unlocated:  # rolled back: now the statement can be named
            by_version = {m.version: m for m in plan.migrations}
            m = next(m for m in plan.migrations if m.file(plan.direction) is unlocated.file)
            earlier = [by_version[d.version].file(plan.direction) for d in ran.steps]
            found = locate(self.engine, unlocated, earlier)
            failure = found.with_outcome(whole_outcome(found))
            self.record_failure(m, m.file(plan.direction), plan.direction, start, failure)
            raise attach(failure, result, failed_step(m, plan.direction)) from unlocated.failure
        except (SqlmigError, Interrupted) as exc:  # nothing of the run committed
            if exc.partial is not None:
                exc.partial = replace(exc.partial, applied=[])
            raise
        finally:
            self._whole, self._records = False, []
            self._write_unwritten()
        result.steps = ran.steps
        result.duration_ms = ms_since(start)
        return result

    def _whole_failed(
        self, exc: DbFailure, m: Migration | None, direction: Direction, result: RunResult
    ) -> SqlmigError:
        if m is None:
            return BackendError(f"the run's commit failed: {exc}")
        failure = statement_error(self.engine, m.file(direction), None, exc, rolled_back=True)
        failure = failure.with_outcome(WHOLE_ROLLED_BACK)
        self.record_failure(m, m.file(direction), direction, time.perf_counter(), failure)
        return attach(failure, result, failed_step(m, direction))

    def _write_unwritten(self) -> None:
        events, self._unwritten = self._unwritten, []
        for event in events:
            with contextlib.suppress(SqlmigError):
                self.store.insert_history(event)

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        """A step's own transaction, or none inside run_whole's."""
        return contextlib.nullcontext() if self._whole else self.engine.transaction()

    def _step(self, cursor: Cursor, result: RunResult) -> StepResult | None:
        """Claim the next step and run it (``_claim_and_run``); on failure, record it and
        say what it left behind."""
        step = InFlight(cursor.plan.direction)
        try:
            done = self._claim_and_run(cursor, len(result.steps), step)
            if done is not None:  # in the try: a Ctrl-C now still finds the step done
                self._took(step, done, result)
        except DbFailure as exc:  # at commit: deferred constraints, SQLite's foreign keys
            assert step.m is not None
            failure = statement_error(self.engine, step.file, None, exc, rolled_back=True)
            raise self._failed(step_outcome(failure, step.m, step.direction), step, result) from exc
        except Unlocated as unlocated:
            if self._whole:
                raise  # run_whole names the statement once its transaction is rolled back
            assert step.m is not None
            found = step_outcome(locate(self.engine, unlocated), step.m, step.direction)
            raise self._failed(found, step, result) from unlocated.failure
        except StatementError as exc:
            assert step.m is not None  # statements run only once a step is claimed
            if self._whole:
                failure = exc.with_outcome(whole_outcome(exc))
            elif exc.rolled_back:
                failure = step_outcome(exc, step.m, step.direction)
            else:
                failure = self._naming_invalid_indexes(exc, step.m)
            raise self._failed(failure, step, result) from exc.__cause__
        except ConnectionLost as exc:
            lost = exc
            if step.m is not None:
                lost = exc.with_outcome(lost_outcome(step.m, step.direction, step.at))
            raise self._failed(lost, step, result) from exc.__cause__
        except (SqlmigError, KeyboardInterrupt) as exc:
            self._stopped(exc, step, result)
        return done

    def _took(self, step: InFlight, done: StepResult, result: RunResult) -> None:
        result.steps.append(done)
        if self.progress:
            assert step.m is not None
            self.progress.done(step.m, step.direction, done)

    def _stopped(
        self, exc: SqlmigError | KeyboardInterrupt, step: InFlight, result: RunResult
    ) -> NoReturn:
        """End the run on ``exc``: the step it stopped is recorded as failed, unless a
        Ctrl-C came once it had committed, when it is done and the run stops after it."""
        landed = self._landed(step) if isinstance(exc, KeyboardInterrupt) else None
        if landed is not None:
            if landed not in result.steps:
                result.steps.append(landed)
            carry(exc, result, None)
        if step.m is not None:
            self.record_failure(step.m, step.file, step.direction, step.start, exc)
        carry(exc, result, step.failed)

    def _landed(self, step: InFlight) -> StepResult | None:
        """The interrupted step's result if it had committed all it does: the result was
        ready and the version table says so (the signal can come between the commit and
        this run noting it); else None."""
        if step.done is None or step.m is None or self._whole:  # whole: nothing committed yet
            return None
        try:
            row = next((r for r in self.store.applied() if r.version == step.m.version), None)
        except SqlmigError:
            return None  # unknowable now: reported as interrupted, as before
        if step.direction is Direction.UP:
            committed = row is not None and row.status is RowStatus.APPLIED
        else:
            committed = row is None
        return step.done if committed else None

    def _claim_and_run(self, cursor: Cursor, done: int, step: InFlight) -> StepResult | None:
        """A transactional file runs in the claiming transaction itself; a no-transaction
        one after a dirty mark committed first. ``step`` follows where it is."""
        direction = step.direction
        with self._transaction():
            m = step.m = cursor.next(self.engine.change_token(), self.store, done)
            if m is None:
                return None
            file = m.file(direction)
            note = _note(m, direction, cursor.rows.get(m.version))
            if self.progress:  # the total as planned now: SQLite re-plans after another runner
                self.progress.started(m, direction, done + 1, done + 1 + len(cursor.queue))
            step.start = time.perf_counter()
            if file.no_transaction:
                self._mark_dirty(m, direction)  # committed: if we die, the mark survives
            else:
                count = run_statements(
                    self.engine, file, rolled_back=True, variables=self.ctx.variables
                )
                ms = ms_since(step.start)
                self._record_success(m, file, direction, ms, row_exists=False, note=note)
                step.done = StepResult(m.version, m.name, direction, ms, count, note)
            step.at = At.COMMIT
        if file.no_transaction:
            step.at = At.STATEMENTS
            count = run_statements(
                self.engine, file, rolled_back=False, variables=self.ctx.variables
            )
            ms = ms_since(step.start)
            step.at = At.RECORD
            step.done = StepResult(m.version, m.name, direction, ms, count, note)
            with self.engine.transaction():
                self._record_success(m, file, direction, ms, row_exists=True, note=note)
        assert step.done is not None
        return step.done

    def _failed(self, failure: SqlmigError, step: InFlight, result: RunResult) -> SqlmigError:
        """``failure`` recorded in the history (if a step was claimed) and given what the
        run had done."""
        if step.m is not None:
            self.record_failure(step.m, step.file, step.direction, step.start, failure)
        return attach(failure, result, step.failed)

    def _naming_invalid_indexes(self, exc: StatementError, m: Migration) -> StatementError:
        """A failed no-transaction file may have left INVALID indexes: say which, and
        how to drop them (if the database can still be asked)."""
        invalid: list[str] = []
        with contextlib.suppress(SqlmigError):
            invalid = self.engine.invalid_indexes(m)
        if not invalid:
            return exc
        return exc.with_outcome(f"{exc.outcome} {invalid_left(m.version, invalid)}")

    def _mark_dirty(self, m: Migration, direction: Direction) -> None:
        # Committed before the first statement: if we die part-way, the mark survives us.
        row = self.ctx.row(m, RowStatus.DIRTY)
        if direction is Direction.UP:
            self.store.insert_row(row, self.ctx.stored(m))
        else:
            self.store.update_row(row)

    def _record_success(
        self,
        m: Migration,
        file: SqlFile,
        direction: Direction,
        ms: int,
        *,
        row_exists: bool,
        note: str,
    ) -> None:
        """Inside the caller's transaction: the version row (insert, or update of a dirty
        one, or delete for a rollback) and the history event, ``note`` its detail."""
        change: RowChange = "update" if row_exists else "insert"
        if direction is Direction.DOWN:
            change = "delete"
        event = EventKind.APPLY if direction is Direction.UP else EventKind.ROLLBACK
        detail = note or None
        records = self.store.record_statements(
            change,
            self.ctx.row(m, RowStatus.APPLIED, ms=ms),
            self.ctx.event(event, m, file=file, direction=direction, duration_ms=ms, detail=detail),
            self.ctx.stored(m) if change == "insert" else StoredSql(),
        )
        if self._whole:
            self._records.append(records)
        else:
            self.store.write(list(records))

    def record_failure(
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
        elif isinstance(exc, ConnectionLost):
            error = str(exc)
            try:  # a new session, if the server is there (a terminated backend, a failover)
                self.engine.open(write=True)
            except SqlmigError:
                return  # it is not: nothing can be recorded
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
        if self._whole:  # the transaction it would go into is about to be rolled back
            self._unwritten.append(event)
            return
        # If even this write fails, the original error is still the one the user must see.
        with contextlib.suppress(SqlmigError):
            self.store.insert_history(event)


def _note(m: Migration, direction: Direction, row: AppliedRow | None) -> str:
    """What a rollback step says beside its result: its down file changed since apply,
    or came from the database (rollback --from-database)."""
    if direction is Direction.UP:
        return ""
    if is_stored(m.down):
        return "ran the down SQL kept in the database since it was applied (--from-database)"
    return rollback_note(m, row)


@contextlib.contextmanager
def reporting(result: RunResult) -> Iterator[None]:
    """Whatever ends a run inside this block (the seeds, the status, the drift check
    after the migrations) says what the run had done, its backup first."""
    try:
        yield
    except (SqlmigError, KeyboardInterrupt) as exc:
        carry(exc, result, None)
