"""Execute a plan: one transaction per migration with its version row, dirty marks for
the rest, a history event for every outcome.

The runner owns policy (what is recorded when), the engine only how it is done.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmig import __version__
from sqlmig.engines.base import DbFailure, Engine, os_identity
from sqlmig.engines.bookkeeping import RowChange
from sqlmig.errors import SqlmigError, StatementError
from sqlmig.models import AppliedRow, HistoryEvent, Migration, RunResult, SqlFile, StepResult
from sqlmig.splitter import Statement, split

# Savepoints (SAVEPOINT, RELEASE, ROLLBACK TO) are fine inside our transaction.
TRANSACTION_CONTROL = re.compile(
    r"(BEGIN|START\s+TRANSACTION|COMMIT|END|ABORT|ROLLBACK(?!\s+(?:TRANSACTION\s+)?TO\b))\b",
    re.IGNORECASE,
)
# "out of shared memory": the lock table (max_locks_per_transaction) is full.
OUT_OF_LOCKS = "53200"
Replan = Callable[[list[AppliedRow], list[Migration]], list[Migration]]
OnStep = Callable[[Migration, str, StepResult | None], None]


def now_utc() -> str:
    return datetime.now(UTC).isoformat()


def ms_since(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


@dataclass
class Runner:
    engine: Engine
    on_step: OnStep | None = None
    run_id: str = ""

    def __post_init__(self) -> None:
        self.run_id = self.run_id or os.urandom(6).hex()
        self.who = os_identity()
        self.db_user = self.engine.db_user()

    def event(
        self,
        event: str,
        m: Migration | None,
        *,
        name: str = "",
        file: SqlFile | None = None,
        success: bool = True,
        duration_ms: int = 0,
        direction: str | None = None,
        error: str | None = None,
        detail: str | None = None,
    ) -> HistoryEvent:
        """A history row for ``m`` (or a seed ``name``); ``file`` (default: the up file)
        gives the checksum."""
        source = file or (m.up if m else None)
        return HistoryEvent(
            event=event,
            version=m.version if m else None,
            name=m.name if m else name,
            checksum=source.checksum if source else None,
            success=success,
            duration_ms=duration_ms,
            direction=direction,
            error=error,
            detail=detail,
            run_id=self.run_id,
            at=now_utc(),
            applied_by=self.who,
            db_user=self.db_user,
            sqlmig_version=__version__,
        )

    def row(
        self, m: Migration, status: str, kind: str = "migration", ms: int | None = None
    ) -> AppliedRow:
        return AppliedRow(
            version=m.version,
            name=m.name,
            checksum=m.up.checksum,
            down_checksum=m.down.checksum,
            status=status,
            kind=kind,
            applied_at=now_utc(),
            applied_by=self.who,
            db_user=self.db_user,
            execution_ms=ms,
            sqlmig_version=__version__,
        )

    def run(self, steps: list[Migration], direction: str, replan: Replan) -> RunResult:
        """Run ``steps`` in order; ``replan`` re-derives them if another runner got in first."""
        result = RunResult()
        start = time.perf_counter()
        while steps:
            m = steps[0]
            file = m.up if direction == "up" else m.down
            if self.on_step:
                self.on_step(m, direction, None)
            if file.no_transaction:
                done = self._step_outside_transaction(m, file, direction, replan, steps)
            else:
                done = self._step_in_transaction(m, file, direction, replan, steps)
            if isinstance(done, list):  # someone else changed the version table: new plan
                steps = done
                continue
            result.steps.append(done)
            if self.on_step:
                self.on_step(m, direction, done)
            steps = steps[1:]
        result.duration_ms = ms_since(start)
        return result

    def _claim(
        self, m: Migration, replan: Replan, steps: list[Migration]
    ) -> list[Migration] | None:
        """Inside BEGIN: if others committed since we planned, re-plan; None means go ahead."""
        if not self.engine.changed_by_others():
            return None
        fresh = replan(self.engine.read_applied(), steps)
        return None if fresh and fresh[0].version == m.version else fresh

    def _step_in_transaction(
        self, m: Migration, file: SqlFile, direction: str, replan: Replan, steps: list[Migration]
    ) -> StepResult | list[Migration]:
        self.engine.begin()
        try:
            fresh = self._claim(m, replan, steps)
        except BaseException:
            self.engine.rollback()
            raise
        if fresh is not None:
            self.engine.rollback()
            return fresh
        count, ms = self._transactional(
            file,
            lambda ms: self._record_success(m, file, direction, ms, row_exists=False),
            lambda start, exc: self._record_failure(m, file, direction, start, exc),
        )
        return StepResult(m.version, m.name, direction, ms, count)

    def _transactional(
        self,
        file: SqlFile,
        record: Callable[[int], None],
        fail: Callable[[float, BaseException], None],
    ) -> tuple[int, int]:
        """In the open transaction: run ``file``, ``record(ms)`` the bookkeeping, commit.

        On any failure roll back, let ``fail`` log it, and re-raise. Returns the number
        of statements and the milliseconds they took.
        """
        start = time.perf_counter()
        try:
            count = self._execute(file, rolled_back=True)
            ms = ms_since(start)
            record(ms)
            try:
                self.engine.commit()
            except DbFailure as exc:
                raise self._statement_error(file, None, exc, rolled_back=True) from None
        except BaseException as exc:
            self.engine.rollback()
            fail(start, exc)
            raise
        return count, ms

    def _step_outside_transaction(
        self, m: Migration, file: SqlFile, direction: str, replan: Replan, steps: list[Migration]
    ) -> StepResult | list[Migration]:
        engine = self.engine
        engine.begin()
        try:
            fresh = self._claim(m, replan, steps)
            if fresh is not None:
                engine.rollback()
                return fresh
            # Mark dirty first and commit: if we die part-way, the mark survives us.
            if direction == "up":
                engine.insert_row(self.row(m, "dirty"))
            else:
                engine.update_row(self.row(m, "dirty"))
            engine.commit()
        except BaseException:
            engine.rollback()
            raise
        start = time.perf_counter()
        try:
            count = self._execute(file, rolled_back=False)
        except BaseException as exc:
            self._record_failure(m, file, direction, start, exc)
            raise
        ms = ms_since(start)
        engine.begin()
        self._record_success(m, file, direction, ms, row_exists=True)  # the dirty row
        engine.commit()
        return StepResult(m.version, m.name, direction, ms, count)

    def _record_success(
        self, m: Migration, file: SqlFile, direction: str, ms: int, *, row_exists: bool
    ) -> None:
        """Inside the caller's transaction: the version row (insert, or update of a dirty
        one, or delete for a rollback) and the history event."""
        change: RowChange = "update" if row_exists else "insert"
        if direction == "down":
            change = "delete"
        event = "apply" if direction == "up" else "rollback"
        self.engine.record(
            change,
            self.row(m, "applied", ms=ms),
            self.event(event, m, file=file, direction=direction, duration_ms=ms),
        )

    def run_seed(self, name: str, file: SqlFile) -> StepResult:
        """Apply one seed file in its own transaction, recording its checksum and history."""

        def record(ms: int) -> None:
            self.engine.record_seed(name, file.checksum, now_utc(), self.who, ms)
            self.engine.insert_history(
                self.event("seed", None, name=name, file=file, duration_ms=ms)
            )

        self.engine.begin()
        try:
            count, ms = self._transactional(
                file,
                record,
                lambda start, exc: self._record_failure(None, file, None, start, exc, name=name),
            )
        except StatementError as exc:
            raise exc.with_outcome(
                "This seed file was rolled back; migrations and seed files before it stay applied."
            ) from None
        return StepResult(0, name, "seed", ms, count)

    def execute_file(self, file: SqlFile, *, atomic: bool = True) -> int:
        """Run a whole file (no bookkeeping) in one transaction unless it opts out, reporting
        failures by file:line.

        The file goes to the engine in one piece: a 1,000-table baseline is 3,000 statements,
        and a round trip each would cost more than PostgreSQL takes to run them. Only when
        it fails is it replayed statement by statement, to name the line that failed.
        ``atomic=False`` (a scratch database, thrown away anyway) runs the statements one
        at a time when the file needs more locks than one PostgreSQL transaction may hold.
        """
        statements = split(file.text, self.engine.dialect)
        if file.no_transaction:
            return self._execute(file, rolled_back=False)
        self._refuse_transaction_control(file, statements)
        self.engine.begin()
        try:
            self.engine.execute_script(file.text)
        except DbFailure as exc:
            self.engine.rollback()
            if exc.code == OUT_OF_LOCKS and not atomic:
                return self._execute(file, rolled_back=False)
            self.engine.begin()
            try:
                self._execute(file, rolled_back=True)
            finally:
                self.engine.rollback()
            raise self._statement_error(file, None, exc, rolled_back=True) from None
        try:
            self.engine.commit()
        except DbFailure as exc:
            self.engine.rollback()
            raise self._statement_error(file, None, exc, rolled_back=True) from None
        return len(statements)

    def _execute(self, file: SqlFile, *, rolled_back: bool) -> int:
        statements = split(file.text, self.engine.dialect)
        if not file.no_transaction:
            self._refuse_transaction_control(file, statements)
        for st in statements:
            try:
                self.engine.execute(st.text)
            except DbFailure as exc:
                raise self._statement_error(file, st, exc, rolled_back=rolled_back) from None
        return len(statements)

    def _refuse_transaction_control(self, file: SqlFile, statements: list[Statement]) -> None:
        """A COMMIT inside a file would commit half a migration without its version row."""
        for st in statements:
            if TRANSACTION_CONTROL.match(st.text):
                failure = DbFailure(
                    "transaction control inside a migration that sqlmig already runs in one "
                    "transaction: remove it, or put '-- sqlmig: no-transaction' at the top of "
                    "the file if it must manage its own transactions"
                )
                raise self._statement_error(file, st, failure, rolled_back=True)

    def _statement_error(
        self, file: SqlFile, st: Statement | None, exc: DbFailure, *, rolled_back: bool
    ) -> StatementError:
        if st is not None:
            line = st.line
            if exc.position:
                line += st.text.count("\n", 0, exc.position - 1)
            text = st.text
        else:  # failed at commit: deferred constraints, SQLite's foreign key check
            line, text = file.text.count("\n") + 1, "COMMIT"
        return StatementError(
            path=file.path,
            line=line,
            statement=self.engine.url.redact(text),
            db_message=self.engine.url.redact(exc.message),
            code=exc.code,
            rolled_back=rolled_back,
        )

    def _record_failure(
        self,
        m: Migration | None,
        file: SqlFile,
        direction: str | None,
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
        event = self.event(
            "fail",
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
            self.engine.insert_history(event)
