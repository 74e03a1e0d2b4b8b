"""Benchmark: sqlmig applying 1,000 generated migrations vs. the driver-only floor.

The floor runs the same statements and the same version-table inserts directly
through the same driver, one transaction per migration, with no checksums, no
history, no validation. sqlmig's target is within 1.2x of it on both engines.

    python bench/bench.py            # SQLite, plus PostgreSQL in a throwaway cluster
    SQLMIG_BENCH_PG_URL=postgresql://... python bench/bench.py   # an existing server
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlmig import Migrator  # noqa: E402
from sqlmig.discovery import load_migrations  # noqa: E402
from sqlmig.engines.bookkeeping import bookkeeping_sql, quote_ident  # noqa: E402
from sqlmig.models import Migration  # noqa: E402
from sqlmig.splitter import split  # noqa: E402

COUNT = int(os.environ.get("SQLMIG_BENCH_COUNT", "1000"))
ROUNDS = int(os.environ.get("SQLMIG_BENCH_ROUNDS", "5"))


def generate(folder: Path, count: int) -> Path:
    for sub in ("up", "down"):
        (folder / sub).mkdir(parents=True)
    for v in range(1, count + 1):
        name = f"{v:04d}_table_{v}.sql"
        (folder / "up" / name).write_text(
            f"-- generated migration {v}\n"
            f"CREATE TABLE t_{v} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT DEFAULT 'x;y');\n"
            f"CREATE INDEX t_{v}_name ON t_{v} (name);\n"
            f"INSERT INTO t_{v} (id, name) VALUES (1, 'a'), (2, 'b');\n"
        )
        (folder / "down" / name).write_text(f"DROP TABLE t_{v};\n")
    return folder


def row_values(m: Migration) -> tuple[object, ...]:
    return (
        m.version,
        m.name,
        m.up.checksum,
        m.down.checksum,
        "applied",
        "migration",
        "2026-01-01T00:00:00+00:00",
        "bench@host",
        "",
        1,
        "bench",
    )


def floor_sqlite(path: Path, folder: Path) -> float:
    migrations = load_migrations(folder)
    statements = [[s.text for s in split(m.up.text, "sqlite")] for m in migrations]
    sql = bookkeeping_sql("sqlite", quote_ident("schema_version"), '"h"', '"s"')
    start = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute(sql.create_versions)
    for m, stmts in zip(migrations, statements, strict=True):
        conn.execute("BEGIN IMMEDIATE")
        for st in stmts:
            conn.execute(st)
        conn.execute(sql.insert_row, row_values(m))
        conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start


def floor_postgres(url: str, folder: Path) -> float:
    import psycopg

    migrations = load_migrations(folder)
    statements = [[s.text for s in split(m.up.text, "postgres")] for m in migrations]
    sql = bookkeeping_sql("postgres", '"public"."schema_version"', '"h"', '"s"')
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.create_versions)
        for m, stmts in zip(migrations, statements, strict=True):
            conn.execute("BEGIN")
            for st in stmts:
                conn.execute(st)
            conn.execute(sql.insert_row, row_values(m))
            conn.execute("COMMIT")
    return time.perf_counter() - start


def parse_seconds(folder: Path) -> float:
    """The part of sqlmig's time the floor does not have: turning files into statements."""
    start = time.perf_counter()
    for m in load_migrations(folder):
        split(m.up.text, "sqlite")
    return time.perf_counter() - start


def sqlmig_run(url: str, folder: Path) -> float:
    start = time.perf_counter()
    with Migrator(url, folder) as m:
        m.apply(backup=False)  # the floor takes none; `make bench` measures migrating
    return time.perf_counter() - start


def compare(
    make_target: Callable[[], str], floor: Callable[[str], float], ours: Callable[[str], float]
) -> tuple[float, float]:
    """Median of each over ROUNDS, alternating so that drift on the machine hits both alike."""
    floors, ourss = [], []
    for _ in range(ROUNDS):
        floors.append(floor(make_target()))
        ourss.append(ours(make_target()))
    return statistics.median(floors), statistics.median(ourss)


def status_ms(url: str, folder: Path, cwd: Path) -> float:
    cmd = [sys.executable, "-m", "sqlmig", "status", "-d", url, "--dir", str(folder)]
    # As installed by pip: with bytecode caches (this machine sets PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    times = []
    for _ in range(7):
        start = time.perf_counter()
        subprocess.run(
            cmd,
            cwd=cwd,
            check=True,
            capture_output=True,
            env=env,
        )
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="sqlmig-bench-"))
    folder = generate(work / "sql", COUNT)
    print(
        f"{COUNT} generated migrations (CREATE TABLE, CREATE INDEX, INSERT each); median of {ROUNDS} rounds\n"
    )
    print(f"{'engine':<10} {'floor':>9} {'sqlmig':>9} {'ratio':>7}")

    def sqlite_target() -> str:
        return f"sqlite:///{work / (uuid.uuid4().hex + '.db')}"

    floor, ours = compare(
        sqlite_target,
        lambda u: floor_sqlite(Path(u.removeprefix("sqlite:///")), folder),
        lambda u: sqlmig_run(u, folder),
    )
    print(f"{'sqlite':<10} {floor:>8.2f}s {ours:>8.2f}s {ours / floor:>6.2f}x")
    print(
        f"{'':<10} (of sqlmig's time, reading, hashing and splitting the files: {parse_seconds(folder):.2f}s)"
    )

    cluster = None
    pg_url = os.environ.get("SQLMIG_BENCH_PG_URL")
    if not pg_url:
        from tests.pgcluster import start_cluster

        cluster = start_cluster()
        pg_url = cluster.admin_url
    try:
        import psycopg

        def pg_target() -> str:
            name = "bench_" + uuid.uuid4().hex[:10]
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            return pg_url.rsplit("/", 1)[0] + "/" + name

        floor, ours = compare(
            pg_target, lambda u: floor_postgres(u, folder), lambda u: sqlmig_run(u, folder)
        )
        print(f"{'postgres':<10} {floor:>8.2f}s {ours:>8.2f}s {ours / floor:>6.2f}x")
        diff_bench(pg_url, work)
    finally:
        if cluster:
            cluster.stop()

    url = sqlite_target()
    sqlmig_run(url, folder)
    print(
        f"\n`sqlmig status` on {COUNT} applied migrations (SQLite, whole process, median of 7): "
        f"{status_ms(url, folder, work):.0f} ms"
    )
    print(f"(python -c pass on this machine: {status_ms_baseline():.0f} ms)")


def status_ms_baseline() -> float:
    times = []
    for _ in range(7):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def schema_ddl(count: int) -> str:
    """`count` tables with a few columns, an index and a foreign key each; each table
    references the one before it (1,000 foreign keys into a single table would measure
    PostgreSQL rebuilding that table's trigger list 1,000 times, not sqlmig)."""
    parts = ["CREATE TABLE t_0 (id bigint PRIMARY KEY, name text NOT NULL);"]
    for i in range(1, count):
        parts.append(
            f"CREATE TABLE t_{i} (id bigint PRIMARY KEY, parent_id bigint NOT NULL REFERENCES t_{i - 1} (id), "
            f"name text NOT NULL DEFAULT '', amount numeric(10, 2), created_at timestamptz DEFAULT now());\n"
            f"CREATE INDEX t_{i}_parent ON t_{i} (parent_id);"
        )
    return "\n".join(parts) + "\n"


def diff_bench(pg_url: str, work: Path, count: int = 1000) -> None:
    """`sqlmig diff` (loading the baseline included) next to `pg_dump --schema-only`."""
    import psycopg

    from sqlmig.engines.pgtools import find_program

    name = "bench_diff_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = pg_url.rsplit("/", 1)[0] + "/" + name
    ddl = schema_ddl(count)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(ddl)
    baseline = work / "schema_1000.sql"
    baseline.write_text(ddl)
    diffs, dumps = [], []
    pg_dump = find_program("pg_dump")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sqlmig",
                "diff",
                "-d",
                url,
                "--baseline",
                str(baseline),
                "--dir",
                str(work),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        diffs.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(
            [str(pg_dump), "--schema-only", "--dbname", url], check=True, capture_output=True
        )
        dumps.append(time.perf_counter() - start)
    print(
        f"\n`sqlmig diff` on {count} tables (columns, an index, a foreign key each), whole process "
        f"including loading the baseline: {statistics.median(diffs):.2f}s; "
        f"`pg_dump --schema-only` on the same database: {statistics.median(dumps):.2f}s"
    )


if __name__ == "__main__":
    main()
