"""Ctrl-C and SIGTERM as sqlmig's command line handles them.

Python runs a signal handler only between bytecodes, never inside a C call such as
one long SQLite statement. The SQLite engine therefore has SQLite call back into
Python every few thousand instructions; the handler runs there, marks the stop as
requested here, and the engine turns the statement SQLite then aborts into the
KeyboardInterrupt it stands for, so the migration is rolled back and recorded.
"""

from __future__ import annotations

import signal

_seen: set[int] = set()  # the signals sqlmig's handler received


def requested() -> bool:
    """True once sqlmig's handler saw Ctrl-C or SIGTERM."""
    return bool(_seen)


def stop(signum: int, _frame: object) -> None:
    _seen.add(signum)
    # A cancelled CI job sends SIGTERM: unwind like Ctrl-C, so that the migration in
    # progress is rolled back and recorded and scratch databases are dropped.
    raise KeyboardInterrupt


def install() -> None:
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
