"""psycopg's errors as sqlmig reports them: a migration statement's failure as a
DbFailure (the server's message, detail and hint, SQLSTATE, kind, which statement of a
script and where in it), and which errors mean the server refused us or ended the session.

The engine (postgres.py) decides what to raise when; here is only what an error means,
so each SQLSTATE sqlmig cares about is named in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import errors as pg_errors

from sqlmig.engines.base import DbFailure, FailureKind

# libpq's answers from a server that is up and has refused us for good: waiting won't help.
_REFUSED = ("password authentication failed", "no pg_hba.conf entry", 'role "')
_OUT_OF_LOCKS = "53200"  # "out of shared memory": max_locks_per_transaction exhausted
_IN_TRANSACTION = "25001"  # "... cannot run inside a transaction block"
# SQLSTATE classes of an error that ended the session: connection exception, and the
# server terminating it (shutdown, crash, pg_terminate_backend, database dropped).
_SESSION_ENDED = ("08", "57P")
# Between statements sent as one script: on lines of its own, so that a statement ending
# in a `-- comment` cannot swallow it.
_SEPARATOR = "\n;\n"


def refused(message: str) -> bool:
    """A connection error retrying cannot cure (wrong password, no pg_hba.conf entry)."""
    return any(r in message for r in _REFUSED)


def ended_session(exc: psycopg.Error) -> bool:
    return (exc.sqlstate or "").startswith(_SESSION_ENDED)


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def statement_failure(exc: psycopg.Error, lock_timeout: float) -> DbFailure:
    """A migration statement's error, with what to do about the ones sqlmig can explain."""
    if isinstance(exc, pg_errors.LockNotAvailable):
        return DbFailure(
            f"{first_line(exc)} (waited --lock-timeout {lock_timeout:g}s for a table lock: "
            "a long query or transaction holds it; retry when it is done)",
            exc.sqlstate,
            _position(exc),
            FailureKind.LOCK_TIMEOUT,
        )
    kind = FailureKind.OUT_OF_LOCKS if exc.sqlstate == _OUT_OF_LOCKS else None
    message = _describe(exc)
    if exc.sqlstate == _IN_TRANSACTION:  # what the set check cannot see in the text
        # Imported here: sqlkind's patterns cost every connection (`sqlmig status`) ~2 ms.
        from sqlmig.sqlkind import NO_TRANSACTION_FIX

        message += f"\nHINT: {NO_TRANSACTION_FIX}"
    return DbFailure(message, exc.sqlstate, _position(exc), kind)


def _describe(exc: psycopg.Error) -> str:
    diag = exc.diag
    parts = [diag.message_primary or first_line(exc)]
    if diag.message_detail:
        parts.append(f"DETAIL: {diag.message_detail}")
    if diag.message_hint:
        parts.append(f"HINT: {diag.message_hint}")
    return "\n".join(parts)


def _position(exc: psycopg.Error) -> int | None:
    pos = exc.diag.statement_position
    return int(pos) if pos else None


def script(statements: Sequence[str]) -> str:
    """Statements as one script, for one round trip (``locate`` finds them again)."""
    return _SEPARATOR.join(statements)


def locate(failure: DbFailure, statements: Sequence[str]) -> None:
    """Set which of ``statements``, sent as ``script``, failed, and the position in it:
    the server's error position counts from the start of the script; an error without
    a position says nothing of which statement it was, unless there is only one."""
    if len(statements) == 1:
        failure.index = 0
    elif failure.position is not None:
        failure.index, failure.position = _which(statements, failure.position)


def _which(statements: Sequence[str], position: int) -> tuple[int, int]:
    """(index, 1-based position in that statement) of a 1-based position in the script."""
    start = 0
    for i, sql in enumerate(statements):
        end = start + len(sql) + len(_SEPARATOR)
        if position - 1 < end or i == len(statements) - 1:
            return i, max(1, position - start)
        start = end
    return len(statements) - 1, 1
