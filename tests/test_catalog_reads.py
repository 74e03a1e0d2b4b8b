"""How PostgreSQL's catalogs are read for a diff or a dump: in a few round trips, the next
kind's query on the server while the rows of the one before become the model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import pq

from sqlmig.schema.postgres import QUERIES, catalog_rows, introspect
from tests.test_dump import load

SCHEMA = """
CREATE TABLE parents (id bigint PRIMARY KEY, name text NOT NULL DEFAULT '');
CREATE TABLE children (id bigint PRIMARY KEY, parent_id bigint REFERENCES parents (id));
CREATE INDEX children_parent ON children (parent_id);
CREATE VIEW named AS SELECT id, name FROM parents;
"""
BIG = ["column", "constraint", "index", "table"]  # in the order they are sent


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    load(pg_url, SCHEMA)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


def test_the_next_kind_runs_on_the_server_while_the_caller_has_these_rows(conn, pg_url):
    rows = catalog_rows(conn, set())
    kind, found = next(rows)
    assert (kind, len(found)) == ("column", 6)
    with psycopg.connect(pg_url, autocommit=True) as watcher:
        deadline, seen = time.monotonic() + 10, ""
        while time.monotonic() < deadline:  # never, were it sent only when asked for
            seen = watcher.execute(
                "SELECT query FROM pg_stat_activity WHERE pid = %s", (conn.info.backend_pid,)
            ).fetchone()[0]
            if len(seen) > 100 and QUERIES["constraint"].startswith(seen):  # a long one is cut
                break
            time.sleep(0.01)
    assert QUERIES["constraint"].startswith(seen) and len(seen) > 100
    rest = [kind for kind, _ in rows]
    assert rest[:3] == BIG[1:] and sorted(rest[3:]) == sorted(set(QUERIES) - set(BIG))


def round_trips(conn: psycopg.Connection[tuple[object, ...]], trace: Path) -> int:
    """How often introspection asked the server to answer now: each simple query, sync or
    flush the client sent (libpq's trace of the messages)."""
    with trace.open("w") as out:
        conn.pgconn.trace(out.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        introspect(conn, set())
        conn.pgconn.untrace()
    sent = [line.split("\t") for line in trace.read_text().splitlines()]
    return sum(1 for f in sent if f[0] == "F" and f[2].strip() in ("Query", "Sync", "Flush"))


def test_the_catalogs_are_read_in_a_few_round_trips(conn, tmp_path):
    # BEGIN, one per large kind, one for the rest, the pipeline's end (sync and flush), COMMIT;
    # one query at a time, it was one per query with BEGIN, set_config and COMMIT: 18.
    assert round_trips(conn, tmp_path / "trace") == 9


def test_a_libpq_without_pipeline_mode_reads_the_same_one_query_at_a_time(
    conn, tmp_path, monkeypatch
):
    pipelined = introspect(conn, set())
    assert "view named" in pipelined and "index children_parent" in pipelined
    monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    assert introspect(conn, set()) == pipelined
    assert round_trips(conn, tmp_path / "trace") == 2 + len(QUERIES) + 1
