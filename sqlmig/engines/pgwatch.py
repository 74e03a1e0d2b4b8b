"""Looking at a run's PostgreSQL session from outside, for its progress report: what it
waits for (the migration lock's holder, a table lock's holders) and the server's own
progress views (pg_stat_progress_create_index, _cluster, _vacuum, _analyze).

It uses a second connection, opened only once a step has been quiet for a while, in
autocommit and never inside a transaction: each look is one statement, which holds a
snapshot only while it runs and none between looks. A CREATE INDEX CONCURRENTLY waits
for every transaction holding an older snapshot (pglock.py says more); a watcher that
kept one would be such a transaction, and the index build would wait on the very run
that watches it. The looks also have a short statement_timeout: the watcher must never
hang, and whatever goes wrong with it only ends the watching, never the run.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from sqlmig.engines import pglock
from sqlmig.progress import Activity

_LOOK_TIMEOUT_MS = 2000
T = TypeVar("T")
Conn = psycopg.Connection[tuple[Any, ...]]

# The progress views share a shape here: what runs, on which table, in which phase, how
# far (blocks, else tuples), and for a concurrent build the session it waits for now.
_PROGRESS = """
SELECT p.command, p.relid::regclass::text, p.phase, p.done, p.total, p.unit,
       p.locker, w.application_name, w.state
FROM (
    SELECT command, relid, phase,
           CASE WHEN blocks_total > 0 THEN blocks_done ELSE tuples_done END AS done,
           CASE WHEN blocks_total > 0 THEN blocks_total ELSE tuples_total END AS total,
           CASE WHEN blocks_total > 0 THEN 'blocks' ELSE 'tuples' END AS unit,
           nullif(current_locker_pid, 0) AS locker
    FROM pg_stat_progress_create_index WHERE pid = %(pid)s
    UNION ALL
    SELECT command, relid, phase, heap_blks_scanned, heap_blks_total, 'blocks', NULL
    FROM pg_stat_progress_cluster WHERE pid = %(pid)s
    UNION ALL
    SELECT 'VACUUM', relid, phase, heap_blks_scanned, heap_blks_total, 'blocks', NULL
    FROM pg_stat_progress_vacuum WHERE pid = %(pid)s
    UNION ALL
    SELECT 'ANALYZE', relid, phase, sample_blks_scanned, sample_blks_total, 'blocks', NULL
    FROM pg_stat_progress_analyze WHERE pid = %(pid)s
) p LEFT JOIN pg_stat_activity w ON w.pid = p.locker
"""

# pg_blocking_pids takes the lock manager's locks for a moment: asked only of a session
# that waits for a lock, and once per look.
_BLOCKED = """
SELECT l.mode, coalesce(l.relation::regclass::text, l.locktype), b.pid, b.application_name,
       b.state, b.xact_start
FROM pg_stat_activity a
JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS blocker(pid)
JOIN pg_stat_activity b ON b.pid = blocker.pid
WHERE a.pid = %(pid)s AND a.wait_event_type = 'Lock'
ORDER BY b.pid
"""


class Watch:
    """A watcher of the session with backend ``pid``; connects on first use."""

    def __init__(self, conninfo: str, pid: int) -> None:
        self.conninfo, self.pid = conninfo, pid
        self._conn: Conn | None = None
        self._lock = threading.Lock()
        self._done = False  # closed, or broken: no more looks

    def migration_lock(self, key: int, where: str, timeout: float) -> Activity | None:
        """While the run polls for the migration lock: who holds it."""
        found = self._look(lambda conn: pglock.holding(conn, key))
        if not found:
            return None
        return Activity(
            f"advisory {found.split(' (')[0]}",
            f"waiting for the migration lock on {where}, held by {found}: another sqlmig "
            f"run is migrating it; waiting {_upto(timeout)}",
            waiting=True,
        )

    def session(self, timeout: float) -> Activity | None:
        """While a statement runs: the server's progress with it, or the lock it waits
        for (for ``timeout`` seconds at most) and who holds it."""
        return self._look(lambda conn: self._activity(conn, timeout))

    def _activity(self, conn: Conn, timeout: float) -> Activity | None:
        rows = conn.execute(_PROGRESS, {"pid": self.pid}).fetchall()
        if rows:
            return _progress(rows[0])
        blocked = conn.execute(_BLOCKED, {"pid": self.pid}).fetchall()
        if not blocked:
            return None
        mode, what = blocked[0][0], blocked[0][1]
        holders = "; ".join(_session(*r[2:]) for r in blocked)
        return Activity(
            f"lock {mode} {what} {[r[2] for r in blocked]}",
            f"waiting for {mode} on {what}, held by {holders}; waiting {_upto(timeout)}",
            waiting=True,
        )

    def _look(self, how: Callable[[Conn], T]) -> T | None:
        with self._lock:
            if self._done:
                return None
            try:
                if self._conn is None:
                    self._conn = psycopg.connect(
                        self.conninfo,
                        autocommit=True,
                        application_name="sqlmig progress",
                        connect_timeout=3,
                    )
                    self._conn.execute(f"SET statement_timeout = {_LOOK_TIMEOUT_MS}")
                return how(self._conn)
            except psycopg.Error:
                self._close()  # progress is a courtesy: stop asking, run on
                return None

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        self._done = True
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


def _progress(row: tuple[Any, ...]) -> Activity:
    """A row of _PROGRESS as a line."""
    command, table, phase, done, total, unit, locker, locker_app, locker_state = row
    text = f"server: {command}{f' on {table}' if table else ''}: {phase}"
    if total:
        text += f", {100 * (done or 0) // total}% ({done or 0:,} of {total:,} {unit})"
    if locker is not None:
        text += f", now for {_session(locker, locker_app, locker_state, None)}"
    return Activity(f"progress {command} {phase}", text, waiting=phase.startswith("waiting"))


def _session(pid: int, app: str | None, state: str | None, since: Any) -> str:
    started = f", in a transaction since {since:%H:%M:%S %Z}" if since is not None else ""
    return f"pid {pid} ({app or 'no application_name'}, {state or 'state not visible'}{started})"


def _upto(timeout: float) -> str:
    return f"up to {timeout:g}s (--lock-timeout)" if timeout else "until it is free"
