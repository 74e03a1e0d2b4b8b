"""The README's exit-code table, kept: every kind of failure, on each engine it applies to,
through a real `sqlmig` process."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.helpers import versions
from tests.test_cli import sqlmig

SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 1000000000) SELECT count(*) FROM c;",
    "postgres": "SELECT pg_sleep(30);",
}


def write(project: Path, version: int, name: str, up: str, down: str = "SELECT 1;") -> None:
    for sub, text in (("up", up), ("down", down)):
        (project / "sql" / sub).mkdir(parents=True, exist_ok=True)
        (project / "sql" / sub / f"{version:04d}_{name}.sql").write_text(text + "\n")


@pytest.fixture
def project(tmp_path: Path, db_url: str) -> Iterator[tuple[Path, str, str]]:
    write(tmp_path, 1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    yield tmp_path, db_url, "sqlite" if db_url.startswith("sqlite") else "postgres"


def run(project: tuple[Path, str, str], *args: str) -> subprocess.CompletedProcess[str]:
    folder, url, _ = project
    return sqlmig(*args, "-d", url, cwd=folder)


@contextmanager
def lock_held(url: str) -> Iterator[None]:
    """Another runner holding the run: the advisory lock, or a SQLite write transaction."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.close()
        return
    digest = hashlib.sha256(b"sqlmig:public.schema_version").digest()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_advisory_lock(%s)", (int.from_bytes(digest[:8], "big", signed=True),)
        )
        yield


def test_0_success(project):
    assert run(project, "apply").returncode == 0
    assert run(project, "status", "--exit-code").returncode == 0


@pytest.mark.parametrize(
    "case",
    ["edited", "dirty", "irreversible", "pending", "state", "drift", "set"],
)
def test_1_a_check_failed_or_a_command_refused(project, case):
    folder, _, _ = project
    assert run(project, "apply").returncode == 0
    if case == "edited":
        (folder / "sql" / "up" / "0001_t.sql").write_text("CREATE TABLE t (a int); -- edited\n")
        result = run(project, "apply")
    elif case == "dirty":
        write(folder, 2, "half", "-- sqlmig: no-transaction\nCREATE TABLE h (a int);\nSELEC;")
        assert run(project, "apply").returncode == 5
        result = run(project, "apply")
    elif case == "irreversible":
        write(folder, 2, "x", "CREATE TABLE x (a int);", "-- sqlmig: irreversible drops data\n")
        assert run(project, "apply").returncode == 0
        result = run(project, "rollback")
    elif case == "pending":
        write(folder, 2, "x", "CREATE TABLE x (a int);")
        result = run(project, "status", "--exit-code")
    elif case == "state":
        result = run(project, "resolve", "1", "--applied")
    elif case == "drift":
        (folder / "sql" / "schema.sql").write_text("CREATE TABLE t (a int, b int);\n")
        result = run(project, "diff")
    else:  # the set check: a statement that cannot run in the file's transaction
        write(folder, 2, "vac", "VACUUM;")
        result = run(project, "apply")
    assert result.returncode == 1, (case, result.stdout, result.stderr)


@pytest.mark.parametrize("case", ["option", "url", "setting", "version"])
def test_2_usage_or_configuration(project, case):
    folder, _, _ = project
    if case == "option":
        result = run(project, "apply", "--no-such-option")
    elif case == "url":
        result = sqlmig("apply", "-d", "mysql://u@h/db", cwd=folder)
    elif case == "setting":
        (folder / "sqlmig.toml").write_text("lock_timout = 3\n")
        result = run(project, "apply")
    else:
        result = run(project, "apply", "--to", "99")
    assert result.returncode == 2, (case, result.stderr)


def test_3_cannot_connect_or_open(project):
    folder, _, dialect = project
    if dialect == "sqlite":
        (folder / "broken.db").write_bytes(b"not a database" * 100)
        result = sqlmig("apply", "-d", f"sqlite:///{folder / 'broken.db'}", cwd=folder)
    else:
        result = sqlmig("apply", "-d", "postgresql://u@127.0.0.1:1/db", cwd=folder)
    assert result.returncode == 3, result.stderr


def test_4_a_lock_not_acquired_in_time(project):
    _, url, _ = project
    assert run(project, "status").returncode == 0
    if url.startswith("sqlite"):  # the file must exist for another connection to lock it
        sqlite3.connect(url.removeprefix("sqlite:///")).close()
    with lock_held(url):
        result = run(project, "apply", "--lock-timeout", "0.5")
    assert result.returncode == 4, result.stderr


def test_4_a_table_lock_a_migration_waits_for(project):
    folder, url, dialect = project
    if dialect == "sqlite":
        pytest.skip("SQLite has no table locks; a busy file is test_4_a_lock_not_acquired_in_time")
    assert run(project, "apply").returncode == 0
    write(folder, 2, "alter", "ALTER TABLE t ADD COLUMN b int;")
    with psycopg.connect(url) as app:
        app.execute("SELECT * FROM t")  # an application's open transaction on the table
        result = run(project, "apply", "--lock-timeout", "0.5")
    assert result.returncode == 4 and "55P03" in result.stderr, result.stderr


@pytest.mark.parametrize("case", ["migration", "seed"])
def test_5_a_migration_or_seed_failed(project, case):
    folder, _, _ = project
    if case == "migration":
        write(folder, 2, "bad", "SELEC 1;")
        result = run(project, "apply")
    else:
        (folder / "seeds").mkdir()
        (folder / "seeds" / "a.sql").write_text("INSERT INTO nowhere VALUES (1);\n")
        result = run(project, "apply", "--seed")
    assert result.returncode == 5, result.stderr


@pytest.mark.parametrize("case", ["backup", "restore"])
def test_6_a_backup_or_restore_failed(project, case):
    folder, _, dialect = project
    if case == "backup":
        (folder / "blocked").write_text("a file where the backup folder should be\n")
        result = run(project, "apply", "--backup", "--backup-dir", str(folder / "blocked" / "b"))
    else:
        assert run(project, "apply").returncode == 0
        fake = folder / ("x.sqlite" if dialect == "sqlite" else "x.pgdump")
        fake.write_text("not a backup\n")
        result = run(project, "restore", str(fake), "--yes")
    assert result.returncode == 6, result.stderr


def test_130_interrupted(project):
    folder, url, dialect = project
    write(folder, 2, "slow", SLOW[dialect])
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlmig", "apply", "-d", url],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: versions(url) == [1], proc)  # the slow one is next
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err


def _wait_for(ready: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while not ready():
        assert proc.poll() is None and time.monotonic() < deadline, "sqlmig ended early"
        time.sleep(0.05)
    time.sleep(0.3)  # into the slow statement
