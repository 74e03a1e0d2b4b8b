"""Catalog queries sent in batches, the next batch already running on the server while
the caller works on the rows of this one.

A cached diff of 1,000 tables spends as long building the model of the rows in Python
as the server spends on the largest query: run one after the other, each waits for the
other. In libpq's pipeline mode a query is sent without waiting for the one before, so
each batch is sent as soon as the previous one's rows are in, before they are handed
over; and the queries of one batch share one round trip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.pq import PipelineStatus

Row = tuple[Any, ...]
Batch = list[tuple[str, str]]  # (name, SQL without parameters)


def pipeline(conn: psycopg.Connection[Any]) -> contextlib.AbstractContextManager[Any]:
    """Pipeline mode for ``conn`` where its libpq has it (14 and later)."""
    return conn.pipeline() if psycopg.Pipeline.is_supported() else contextlib.nullcontext()


def results(conn: psycopg.Connection[Any], batches: list[Batch]) -> Iterator[tuple[str, list[Row]]]:
    """Each query's name and rows, in order; in ``pipeline``, the next batch is on the
    server before this one's rows are yielded. Without it, one query at a time."""
    if conn.pgconn.pipeline_status == PipelineStatus.OFF:
        for batch in batches:
            for name, sql in batch:
                yield name, conn.execute(sql).fetchall()
        return
    sent = _send(conn, batches[0]) if batches else []
    for following in [*batches[1:], []]:
        # The first fetch waits for the whole batch: nothing else has been sent since.
        got = [(name, cur.fetchall()) for name, cur in sent]
        sent = _send(conn, following)
        yield from got


def _send(conn: psycopg.Connection[Any], batch: Batch) -> list[tuple[str, psycopg.Cursor[Row]]]:
    return [(name, conn.execute(sql)) for name, sql in batch]
