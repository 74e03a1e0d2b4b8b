"""Generated inputs: migration folders, their plans for the floors, big files and schemas.

Every migration folder comes with ``plan.json``: each migration's statements and the
SHA-256 of its files, so that the floors run exactly the statements sqlmig runs
without a splitter or a checksum of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workload:
    folder: Path  # holds up/, down/ and plan.json
    count: int
    description: str

    @property
    def plan(self) -> Path:
        return self.folder / "plan.json"


def _write(folder: Path, migrations: list[tuple[str, list[str], list[str]]], what: str) -> Workload:
    """``migrations``: (name, up statements, down statements), numbered from 1."""
    for sub in ("up", "down"):
        (folder / sub).mkdir(parents=True)
    plan = []
    for version, (name, up, down) in enumerate(migrations, 1):
        file = f"{version:05d}_{name}.sql"
        texts = {
            "up": f"-- generated migration {version}\n" + "".join(s + ";\n" for s in up),
            "down": "".join(s + ";\n" for s in down),
        }
        for sub, text in texts.items():
            (folder / sub / file).write_text(text)
        plan.append(
            {
                "version": version,
                "name": name,
                "up": up,
                "down": down,
                "up_sha": hashlib.sha256(texts["up"].encode()).hexdigest(),
                "down_sha": hashlib.sha256(texts["down"].encode()).hexdigest(),
            }
        )
    (folder / "plan.json").write_text(json.dumps(plan))
    return Workload(folder, len(migrations), what)


def simple(folder: Path, count: int) -> Workload:
    """Today's workload: a table, an index and two rows each (a ';' in a default, so the
    splitter has something to do)."""
    return _write(
        folder,
        [
            (
                f"table_{v}",
                [
                    f"CREATE TABLE t_{v} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT DEFAULT 'x;y')",
                    f"CREATE INDEX t_{v}_name ON t_{v} (name)",
                    f"INSERT INTO t_{v} (id, name) VALUES (1, 'a'), (2, 'b')",
                ],
                [f"DROP TABLE t_{v}"],
            )
            for v in range(1, count + 1)
        ],
        "a table, an index, two rows each",
    )


def realistic(folder: Path, count: int) -> Workload:
    """A table of 5 columns, an index, a foreign key to the previous migration's table and
    10 rows each, with a down file that undoes exactly that. Runs on both engines."""
    migrations = []
    for v in range(1, count + 1):
        fk = f" REFERENCES r_{v - 1} (id)" if v > 1 else ""
        values = ", ".join(
            f"({i}, {'NULL' if v == 1 else i}, 'row {i} of {v}', {i}.25)" for i in range(1, 11)
        )
        migrations.append(
            (
                f"orders_{v}",
                [
                    f"CREATE TABLE r_{v} (id INTEGER PRIMARY KEY, parent_id INTEGER{fk}, "
                    "name TEXT NOT NULL, amount NUMERIC(10, 2) NOT NULL DEFAULT 0, "
                    "created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
                    f"CREATE INDEX r_{v}_parent ON r_{v} (parent_id)",
                    f"INSERT INTO r_{v} (id, parent_id, name, amount) VALUES {values}",
                ],
                [f"DROP INDEX r_{v}_parent", f"DROP TABLE r_{v}"],
            )
        )
    return _write(folder, migrations, "5 columns, an index, a foreign key, 10 rows each")


def unrelated(folder: Path) -> Workload:
    """One migration that touches nothing but its own new table."""
    return _write(
        folder,
        [
            (
                "unrelated",
                ["CREATE TABLE unrelated (id INTEGER PRIMARY KEY, note TEXT NOT NULL)"],
                ["DROP TABLE unrelated"],
            )
        ],
        "one CREATE TABLE",
    )


SEED_ROWS_PER_INSERT = 100


def seed(folder: Path, megabytes: int) -> Workload:
    """One migration of ordinary INSERT statements, ``megabytes`` MB in all, one statement
    a line (the memory floor streams the file line by line on that promise)."""
    for sub in ("up", "down"):
        (folder / sub).mkdir(parents=True)
    name = "00001_seed.sql"
    up = folder / "up" / name
    size = megabytes * 1024 * 1024
    digest = hashlib.sha256()
    with up.open("w") as f:
        for line in _seed_lines(size):
            f.write(line)
            digest.update(line.encode())
    down = "DROP TABLE seed_rows;\n"
    (folder / "down" / name).write_text(down)
    # Only the version row for the floors: the statements are the file's lines.
    entry = {"version": 1, "name": "seed", "up": [], "down": ["DROP TABLE seed_rows"]}
    entry |= {"up_sha": digest.hexdigest(), "down_sha": hashlib.sha256(down.encode()).hexdigest()}
    (folder / "plan.json").write_text(json.dumps([entry]))
    return Workload(folder, 1, f"{megabytes} MB of INSERT statements")


def _seed_lines(size: int) -> Iterator[str]:
    yield "CREATE TABLE seed_rows (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT NOT NULL);\n"
    written, row = 0, 0
    note = "reference data, long enough to look like a description of something"
    while written < size:
        rows = range(row + 1, row + SEED_ROWS_PER_INSERT + 1)
        row += SEED_ROWS_PER_INSERT
        values = ", ".join(f"({i}, 'name {i}', '{note} {i}')" for i in rows)
        line = f"INSERT INTO seed_rows (id, name, note) VALUES {values};\n"
        written += len(line)
        yield line


def big_sqlite(path: Path, rows: int, *, scattered: bool) -> int:
    """A parent and a child table of ``rows`` rows each, the child with a foreign key (and
    its index) to the parent; built with every safety off, as it is thrown away. Child i
    references parent i, or (``scattered``) parents spread over the whole table, which
    costs a check of every key a page-cache miss. Returns the file's size."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in (
        "journal_mode = OFF",
        "synchronous = OFF",
        "locking_mode = EXCLUSIVE",
        "cache_size = -262144",
        "temp_store = MEMORY",
    ):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    conn.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, "
        "parent_id INTEGER NOT NULL REFERENCES parent (id), note TEXT NOT NULL)"
    )
    series = f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})"
    parent = f"(i * 7919) % {rows} + 1" if scattered else "i"  # 7919: prime, so a permutation
    conn.execute("BEGIN")
    conn.execute(f"{series} INSERT INTO parent SELECT i, 'parent ' || i FROM n")
    conn.execute(f"{series} INSERT INTO child SELECT i, {parent}, 'child note ' || i FROM n")
    conn.execute("CREATE INDEX child_parent ON child (parent_id)")
    conn.execute("COMMIT")
    conn.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")  # as sqlmig leaves a file: no switch in the run
    conn.close()
    with path.open("rb+") as f:
        os.fsync(f.fileno())
    return path.stat().st_size


def schema_ddl(count: int, dialect: str) -> str:
    """``count`` tables with a few columns, an index and a foreign key each; each table
    references the one before it (1,000 foreign keys into a single table would measure
    PostgreSQL rebuilding that table's trigger list 1,000 times, not sqlmig)."""
    if dialect == "postgres":
        columns = "name text NOT NULL DEFAULT '', amount numeric(10, 2), created_at timestamptz DEFAULT now()"
        key = "bigint"
    else:
        columns = "name TEXT NOT NULL DEFAULT '', amount NUMERIC(10, 2), created_at TEXT DEFAULT CURRENT_TIMESTAMP"
        key = "INTEGER"
    parts = [f"CREATE TABLE t_0 (id {key} PRIMARY KEY, name text NOT NULL);"]
    for i in range(1, count):
        parts.append(
            f"CREATE TABLE t_{i} (id {key} PRIMARY KEY, parent_id {key} NOT NULL REFERENCES t_{i - 1} (id), {columns});\n"
            f"CREATE INDEX t_{i}_parent ON t_{i} (parent_id);"
        )
    return "\n".join(parts) + "\n"


def warm(folder: Path) -> None:
    """Read every file once and flush the machine's dirty pages, so the first round neither
    reads from disk nor competes with the write-back of what was just generated."""
    for root, _, files in os.walk(folder):
        for name in files:
            Path(root, name).read_bytes()
    os.sync()
