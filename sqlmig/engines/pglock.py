"""PostgreSQL's run lock: a session advisory lock, taken by polling, and refused where a
pooler would make a session lock meaningless.

Why polling. `CREATE INDEX CONCURRENTLY` waits, after its second table scan, for every
transaction in the database that holds a snapshot older than that scan (PostgreSQL's
WaitForOlderSnapshots: each one's virtual transaction id). A runner blocked inside
`SELECT pg_advisory_lock(...)` is such a transaction for as long as it waits, and it
waits for the index build's own runner: a deadlock, which PostgreSQL breaks by failing
the index build. A runner that polls `pg_try_advisory_lock` in an autocommit session
holds a snapshot only for the instant one poll takes and none while it sleeps, so an
index build never waits on it for longer than that.

Why the pooler check. A pooler in transaction mode (PgBouncer pool_mode=transaction,
Supabase's Supavisor on port 6543) may hand each transaction to another server
session: the advisory lock stays behind in a session other clients then use, and the
SET lock_timeout of this session silently applies to someone else's.
"""

from __future__ import annotations

import random
import select
import time
from collections.abc import Callable
from typing import Any

import psycopg

# Seconds between polls: the first soon (the holder may be about to finish), then
# doubling, with jitter so that replicas started together do not poll in step.
FIRST_POLL = 0.02
LONGEST_POLL = 0.5
# How long a second session may take to answer the pooler probe: a session-mode pooler
# with every server busy queues it, and that must not hold up the run.
PROBE_WAIT = 3.0

Conn = psycopg.Connection[tuple[Any, ...]]


def poll(
    conn: Conn, key: int, timeout: float, stop: Callable[[], bool] = lambda: False
) -> int | None:
    """Take the advisory lock ``key``, trying until ``timeout`` seconds have passed (0:
    forever); the backend pid that took it, or None when time ran out. ``stop()`` true
    (the run was cancelled) ends the wait as Ctrl-C would."""
    deadline = time.monotonic() + timeout if timeout > 0 else None
    delay = FIRST_POLL
    while True:
        if stop():
            raise KeyboardInterrupt
        got, pid = conn.execute(
            "SELECT pg_try_advisory_lock(%s), pg_backend_pid()", (key,)
        ).fetchone()  # type: ignore[misc]
        if got:
            return int(pid)
        pause = delay * random.uniform(0.5, 1.0)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            pause = min(pause, left)
        time.sleep(pause)
        delay = min(delay * 2, LONGEST_POLL)


def holder(conn: Conn, key: int) -> str:
    """Who holds the advisory lock ``key``, as a sentence ('' if nobody or unknown)."""
    found = holding(conn, key)
    return f" It is held by {found}." if found else ""


def holding(conn: Conn, key: int) -> str:
    """The session holding the advisory lock ``key``: pid, application, address and
    since when ('' if nobody)."""
    key &= 0xFFFFFFFFFFFFFFFF
    rows = conn.execute(
        "SELECT l.pid, a.application_name, a.client_addr::text, a.backend_start "
        "FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' "
        "AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
        ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
    ).fetchall()
    if not rows:
        return ""
    pid, app, addr, since = rows[0]
    return (
        f"pid {pid} ({app or 'no application_name'}, "
        f"{addr or 'local'}, since {since:%Y-%m-%d %H:%M:%S %Z})"
    )


def shares_sessions(conn: Conn, conninfo: str, opened_on: int) -> bool:
    """Whether this connection, which goes through something that is not the server
    (libpq's backend pid differs from pg_backend_pid()), shares server sessions with
    other clients: proof of transaction (or statement) pooling.

    A session-mode pooler gives each client one server session for as long as it is
    connected, so two observations can prove transaction pooling: this connection is
    no longer on the session it opened on, or a second client gets that very session
    while this one is connected (what PgBouncer's default, most-recently-used-first
    choice of an idle server does at once). Neither can happen in session mode.
    """
    (now,) = conn.execute("SELECT pg_backend_pid()").fetchone()  # type: ignore[misc]
    return bool(now != opened_on or _second_session_pid(conninfo) == now)


def _second_session_pid(conninfo: str) -> int | None:
    """pg_backend_pid() as a second client sees it; None if it cannot say in time."""
    try:
        other = psycopg.connect(
            conninfo, autocommit=True, application_name="sqlmig", connect_timeout=5
        )
    except psycopg.Error:
        return None
    try:
        # Sent without waiting, so a pooler that queues it costs PROBE_WAIT at most.
        pgconn = other.pgconn
        pgconn.send_query(b"SELECT pg_backend_pid()")
        deadline = time.monotonic() + PROBE_WAIT
        while pgconn.is_busy():
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pgconn.socket], [], [], left)[0]:
                return None
            pgconn.consume_input()
        result = pgconn.get_result()
        value = result.get_value(0, 0) if result is not None and result.ntuples else None
        return int(value) if value is not None else None
    except psycopg.Error:
        return None
    finally:
        other.close()


def pooler_refusal(masked_url: str) -> str:
    return (
        f"{masked_url} goes through a connection pooler in transaction mode (PgBouncer "
        "pool_mode = transaction, or Supabase's Supavisor on port 6543): it hands each "
        "transaction to another server session, so the migration lock and the session's "
        "lock_timeout and statement_timeout would protect nothing. Connect sqlmig to the "
        "server directly, or through a pooler in session mode: on Supabase the direct "
        "connection (db.<project>.supabase.co, port 5432) or the session pooler (port "
        "5432); with PgBouncer the server's own address or a pool_mode = session database."
    )
