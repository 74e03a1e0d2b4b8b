"""Running the statements of a SQL file and turning a failure into file:line.

The runner uses these for migrations and seeds; scratch loads (`diff`, `test`) use
execute_file, which runs a whole file with no bookkeeping.

A file that runs in a transaction goes to the engine in batches of statements (the
whole of a usual file at once): on PostgreSQL each batch is one round trip, which is
most of what a migration costs there. When the server fails a batch without saying
where (a constraint violation has no error position), the batch is run again
statement by statement, in a transaction that is then rolled back, to name the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from sqlmig.engines.base import DbFailure, Driver, FailureKind
from sqlmig.errors import StatementError, TableLockTimeout
from sqlmig.models import SqlFile
from sqlmig.splitter import Statement

if TYPE_CHECKING:
    from sqlmig.variables import Bindings

BATCH = 1024 * 1024  # characters of SQL sent together, at most (unless one statement is more)


class Unlocated(Exception):
    """The engine failed a batch of ``file``'s statements without saying which one; the
    caller, once the transaction is rolled back, names it with ``locate``."""

    def __init__(
        self,
        failure: DbFailure,
        file: SqlFile,
        *,
        rolled_back: bool,
        variables: Bindings | None = None,
    ) -> None:
        super().__init__(failure.message)
        self.failure, self.file, self.rolled_back = failure, file, rolled_back
        self.variables = variables


def run_statements(
    engine: Driver, file: SqlFile, *, rolled_back: bool, variables: Bindings | None = None
) -> int:
    """Send ``file``'s statements (one by one outside a transaction, in batches inside
    one), with ``variables`` substituted; the number sent. A failure names its line and
    shows the statement as written, or raises Unlocated."""
    if file.no_transaction:
        return one_by_one(engine, file, rolled_back=rolled_back, variables=variables)
    count = 0
    for batch in batches(file.statements(engine.dialect)):
        sent = [_sent(st, variables) for st in batch]
        try:
            engine.execute_many(sent)
        except DbFailure as exc:
            if exc.index is None:
                raise Unlocated(exc, file, rolled_back=rolled_back, variables=variables) from exc
            st = batch[exc.index]
            raise statement_error(
                engine, file, st, exc, rolled_back=rolled_back, sent=sent[exc.index]
            ) from exc
        count += len(batch)
    return count


def _sent(st: Statement, variables: Bindings | None) -> str:
    return variables.substitute(st.text) if variables else st.text


def one_by_one(
    engine: Driver, file: SqlFile, *, rolled_back: bool, variables: Bindings | None = None
) -> int:
    """Send ``file``'s statements one at a time (each commits on its own outside a
    transaction); the number sent."""
    count = 0
    for st in file.statements(engine.dialect):
        sent = _sent(st, variables)
        try:
            engine.execute(sent)
        except DbFailure as exc:
            raise statement_error(
                engine, file, st, exc, rolled_back=rolled_back, sent=sent
            ) from exc
        count += 1
    return count


def batches(statements: Iterable[Statement]) -> Iterator[list[Statement]]:
    batch: list[Statement] = []
    size = 0
    for st in statements:
        if batch and size + len(st.text) > BATCH:
            yield batch
            batch, size = [], 0
        batch.append(st)
        size += len(st.text)
    if batch:
        yield batch


def locate(engine: Driver, unlocated: Unlocated, earlier: Sequence[SqlFile] = ()) -> StatementError:
    """The statement error a batch failure stands for, found by running ``earlier`` files
    (those that ran before it in the same transaction) and then the file statement by
    statement, in a transaction that is always rolled back. Not for a lock that was not
    granted in time: waiting for it again would double the wait, so the error names the
    file's first statement and says the server did not say which one waited."""
    file, cause, variables = unlocated.file, unlocated.failure, unlocated.variables
    current: Statement | None = None
    if cause.kind is not FailureKind.LOCK_TIMEOUT:
        try:
            with engine.transaction():
                for f in earlier:
                    engine.execute_many(
                        [_sent(st, variables) for st in f.statements(engine.dialect)]
                    )
                for current in file.statements(engine.dialect):
                    engine.execute(_sent(current, variables))
                current = None
                raise _Undo
        except DbFailure as again:
            if current is not None:
                return statement_error(
                    engine,
                    file,
                    current,
                    again,
                    rolled_back=unlocated.rolled_back,
                    sent=_sent(current, variables),
                )
        except _Undo:
            pass
    first = next(file.statements(engine.dialect), None)
    return _unnamed(engine, file, first, cause, rolled_back=unlocated.rolled_back)


def statement_error(
    engine: Driver,
    file: SqlFile,
    st: Statement | None,
    exc: DbFailure,
    *,
    rolled_back: bool,
    sent: str | None = None,
) -> StatementError:
    """The failure of ``st`` (None: at commit) as file, line, statement and message;
    ``sent`` is the text the database got, if variables made it differ."""
    if st is not None:
        line = st.line
        if exc.position:
            line += (sent or st.text).count("\n", 0, exc.position - 1)
        text = st.text
    else:  # failed at commit: deferred constraints, SQLite's foreign key check
        line, text = _last_line(file), "COMMIT"
    return _error(engine, file, line, text, exc, rolled_back=rolled_back)


def _unnamed(
    engine: Driver, file: SqlFile, first: Statement | None, exc: DbFailure, *, rolled_back: bool
) -> StatementError:
    text = "(one of the file's statements, sent together: the server did not say which)"
    return _error(engine, file, first.line if first else 1, text, exc, rolled_back=rolled_back)


def _error(
    engine: Driver, file: SqlFile, line: int, text: str, exc: DbFailure, *, rolled_back: bool
) -> StatementError:
    kind = TableLockTimeout if exc.kind is FailureKind.LOCK_TIMEOUT else StatementError
    return kind(
        path=file.path,
        line=line,
        statement=engine.url.redact(text),
        db_message=engine.url.redact(exc.message),
        code=exc.code,
        rolled_back=rolled_back,
        kind=exc.kind.value if exc.kind else None,
    )


def _last_line(file: SqlFile) -> int:
    if not file.streamed:
        return file.text.count("\n") + 1
    from sqlmig.sqlstream import normalised_chunks

    return sum(chunk.count("\n") for chunk in normalised_chunks(file.path)) + 1


def execute_file(
    engine: Driver, file: SqlFile, *, atomic: bool = True, variables: Bindings | None = None
) -> int:
    """Run a whole file (no bookkeeping) in one transaction unless it opts out, with
    ``variables`` substituted, reporting failures by file:line.

    ``atomic=False`` (a scratch database, thrown away anyway) runs the statements one
    at a time when the file needs more locks than one PostgreSQL transaction may hold.
    """
    try:
        with engine.transaction():
            return run_statements(engine, file, rolled_back=True, variables=variables)
    except Unlocated as failed:
        if failed.failure.kind is FailureKind.OUT_OF_LOCKS and not atomic:
            return one_by_one(engine, file, rolled_back=False, variables=variables)
        raise locate(engine, failed) from failed.failure
    except StatementError as exc:
        if exc.kind == FailureKind.OUT_OF_LOCKS and not atomic:
            return one_by_one(engine, file, rolled_back=False, variables=variables)
        raise
    except DbFailure as exc:  # at commit: deferred constraints, SQLite's foreign keys
        raise statement_error(engine, file, None, exc, rolled_back=True) from exc


class _Undo(Exception):
    """Ends a replay's transaction with a rollback."""
