"""The floors: the least work that gets the same result through the same driver.

Run as a child process, ``python -m floors OP ARGS...`` (bench/ on PYTHONPATH). It never
imports sqlmig, so the floor is the same whichever tree is being measured. A migration
floor reads its plan (statements and checksums) before its clock starts, then does, per
migration, one transaction with the same statements and a version-row insert (or
delete): no splitting, no checksums, no history, no validation, no locks. SQLite runs
in WAL mode, as sqlmig does.

Imports are kept to the few needed: the status floor is timed as a whole process.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time

TYPE_CHECKING = False  # typing itself costs the status floor's whole process 2-3 ms
if TYPE_CHECKING:
    from typing import Any

COLUMNS = (
    "version, name, checksum, down_checksum, status, kind, applied_at, applied_by, "
    "db_user, execution_ms, sqlmig_version"
)
CREATE_VERSIONS = """CREATE TABLE IF NOT EXISTS schema_version (
    version        {bigint} PRIMARY KEY,
    name           TEXT NOT NULL,
    checksum       TEXT NOT NULL,
    down_checksum  TEXT,
    status         TEXT NOT NULL CHECK (status IN ('applied', 'dirty')),
    kind           TEXT NOT NULL CHECK (kind IN ('migration', 'baseline')),
    applied_at     {ts} NOT NULL,
    applied_by     TEXT NOT NULL,
    db_user        TEXT NOT NULL,
    execution_ms   {bigint},
    sqlmig_version TEXT NOT NULL
)"""


class Db:
    """The driver's connection with the dialect's few differences, and nothing else."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:"):
            import sqlite3

            self.conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("PRAGMA journal_mode = wal")
            self.begin, mark, types = "BEGIN IMMEDIATE", "?", ("INTEGER", "TEXT")
        else:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
            self.begin, mark, types = "BEGIN", "%s", ("BIGINT", "TIMESTAMPTZ")
        self.create_versions = CREATE_VERSIONS.format(bigint=types[0], ts=types[1])
        self.insert_row = (
            f"INSERT INTO schema_version ({COLUMNS}) VALUES ({', '.join([mark] * 11)})"
        )
        self.delete_row = f"DELETE FROM schema_version WHERE version = {mark}"

    def close(self) -> None:
        self.conn.close()


def _row(m: dict[str, Any]) -> tuple[object, ...]:
    return (
        m["version"],
        m["name"],
        m["up_sha"],
        m["down_sha"],
        "applied",
        "migration",
        "2026-01-01T00:00:00+00:00",
        "bench@host",
        "",
        1,
        "floor",
    )


def _plan(path: str) -> list[dict[str, Any]]:
    import json

    with open(path) as f:
        return list(json.load(f))


def apply(url: str, plan_path: str) -> float:
    plan = _plan(plan_path)
    rows = [_row(m) for m in plan]
    start = time.perf_counter()
    db = Db(url)
    db.conn.execute(db.create_versions)
    for m, row in zip(plan, rows, strict=True):
        db.conn.execute(db.begin)
        for statement in m["up"]:
            db.conn.execute(statement)
        db.conn.execute(db.insert_row, row)
        db.conn.execute("COMMIT")
    db.close()
    return time.perf_counter() - start


def rollback(url: str, plan_path: str) -> float:
    plan = _plan(plan_path)[::-1]
    start = time.perf_counter()
    db = Db(url)
    for m in plan:
        db.conn.execute(db.begin)
        for statement in m["down"]:
            db.conn.execute(statement)
        db.conn.execute(db.delete_row, (m["version"],))
        db.conn.execute("COMMIT")
    db.close()
    return time.perf_counter() - start


def seed(url: str, plan_path: str, up_file: str) -> float:
    """Stream the file a line (a statement) at a time, in one transaction with its row."""
    row = _row(_plan(plan_path)[0])
    start = time.perf_counter()
    db = Db(url)
    db.conn.execute(db.create_versions)
    db.conn.execute(db.begin)
    with open(up_file) as f:
        for statement in f:
            db.conn.execute(statement)
    db.conn.execute(db.insert_row, row)
    db.conn.execute("COMMIT")
    db.close()
    return time.perf_counter() - start


def backup(url: str, dest: str, pg_dump: str) -> float:
    """A consistent copy: SQLite's backup API; pg_dump's custom format on PostgreSQL."""
    start = time.perf_counter()
    if url.startswith("sqlite:"):
        import sqlite3

        source = sqlite3.connect(url.removeprefix("sqlite:///"))
        target = sqlite3.connect(dest)
        source.backup(target)
        target.close()
        source.close()
    else:
        import subprocess

        subprocess.run([pg_dump, "--format=custom", "--file", dest, "--dbname", url], check=True)
    return time.perf_counter() - start


def status(url: str, folder: str) -> None:
    """Read and hash every file, read the version table, print what is pending or changed."""
    sums: dict[str, dict[int, str]] = {"up": {}, "down": {}}
    for sub, found in sums.items():
        with os.scandir(os.path.join(folder, sub)) as entries:
            for entry in entries:
                with open(entry.path, "rb") as f:
                    found[int(entry.name.split("_", 1)[0])] = hashlib.sha256(f.read()).hexdigest()
    # Reading only, as `sqlmig status` does: no WAL switch, no version table to create.
    if url.startswith("sqlite:"):
        import sqlite3

        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
    else:
        import psycopg

        conn = psycopg.connect(url)
    applied = dict(conn.execute("SELECT version, checksum FROM schema_version").fetchall())
    conn.close()
    pending = sum(1 for v in sums["up"] if v not in applied)
    changed = sum(1 for v, sha in applied.items() if sums["up"].get(v) != sha)
    print(f"{len(sums['up'])} migration(s): {pending} pending, {changed} changed")


def diff_sqlite(url: str, baseline: str) -> None:
    """Load the baseline into memory and compare the schema text of both sides."""
    import sqlite3

    query = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    live = sqlite3.connect(url.removeprefix("sqlite:///"))
    scratch = sqlite3.connect(":memory:")
    with open(baseline) as f:
        scratch.executescript(f.read())
    differences = set(live.execute(query)) ^ set(scratch.execute(query))
    print(f"{len(differences)} difference(s)")
    if differences:
        sys.exit(1)


def report(seconds: float) -> None:
    assert "sqlmig" not in sys.modules, "a floor must not import sqlmig"
    print("BENCH " + f'{{"seconds": {seconds!r}}}')


def main(argv: list[str]) -> None:
    op, *args = argv
    timed = {"apply": apply, "rollback": rollback, "seed": seed, "backup": backup}
    if op in timed:
        # The driver is imported before the clock starts, as bench/probe.py does for sqlmig.
        __import__("sqlite3" if args[0].startswith("sqlite:") else "psycopg")
        report(timed[op](*args))
    elif op == "status":
        status(*args)
    elif op == "diff-sqlite":
        diff_sqlite(*args)
    else:
        sys.exit(f"floors: unknown operation {op}")


if __name__ == "__main__":
    main(sys.argv[1:])
