"""Running the statements of a SQL file and turning a failure into file:line.

The runner uses these for migrations and seeds; scratch loads (`diff`, `test`) use
execute_file, which runs a whole file with no bookkeeping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmig.engines.base import DbFailure, Driver, FailureKind
from sqlmig.errors import StatementError, TableLockTimeout
from sqlmig.models import SqlFile
from sqlmig.splitter import Statement, split

if TYPE_CHECKING:
    from sqlmig.variables import Bindings


def run_statements(
    engine: Driver, file: SqlFile, *, rolled_back: bool, variables: Bindings | None = None
) -> int:
    """Send ``file``'s statements one by one, with ``variables`` substituted; the number
    sent. A failure names its line and shows the statement as written."""
    statements = split(file.text, engine.dialect)
    for st in statements:
        sent = variables.substitute(st.text) if variables else st.text
        try:
            engine.execute(sent)
        except DbFailure as exc:
            raise statement_error(
                engine, file, st, exc, rolled_back=rolled_back, sent=sent
            ) from exc
    return len(statements)


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
        line, text = file.text.count("\n") + 1, "COMMIT"
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


def execute_file(engine: Driver, file: SqlFile, *, atomic: bool = True) -> int:
    """Run a whole file (no bookkeeping) in one transaction unless it opts out, reporting
    failures by file:line.

    The file goes to the engine in one piece: a 1,000-table baseline is 3,000 statements,
    and a round trip each would cost more than PostgreSQL takes to run them. Only when
    it fails is it replayed statement by statement, to name the line that failed.
    ``atomic=False`` (a scratch database, thrown away anyway) runs the statements one
    at a time when the file needs more locks than one PostgreSQL transaction may hold.
    """
    if file.no_transaction:
        return run_statements(engine, file, rolled_back=False)
    statements = split(file.text, engine.dialect)
    try:
        with engine.transaction():
            try:
                engine.execute_script(file.text)
            except DbFailure as exc:
                raise _ScriptFailed(exc) from exc
    except _ScriptFailed as failed:
        cause = failed.failure
        if cause.kind is FailureKind.OUT_OF_LOCKS and not atomic:
            return run_statements(engine, file, rolled_back=False)
        _name_the_line(engine, file)  # raises for the statement that fails alone
        raise statement_error(engine, file, None, cause, rolled_back=True) from cause
    except DbFailure as exc:  # at commit: deferred constraints, SQLite's foreign keys
        raise statement_error(engine, file, None, exc, rolled_back=True) from exc
    return len(statements)


def _name_the_line(engine: Driver, file: SqlFile) -> None:
    """Replay ``file`` statement by statement in a transaction that is always rolled back,
    so that the statement that failed as part of the whole raises with its own line."""
    try:
        with engine.transaction():
            run_statements(engine, file, rolled_back=True)
            raise _Undo
    except _Undo:
        pass


class _Undo(Exception):
    """Ends a replay's transaction with a rollback."""


class _ScriptFailed(Exception):
    """A statement of the script failed (as opposed to the commit after it)."""

    def __init__(self, failure: DbFailure) -> None:
        self.failure = failure
