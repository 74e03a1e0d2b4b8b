"""Backups are where people look when things go wrong: a run says where its backup is
before the first migration, every failure after it says so again, and failed retries
never push out, through --keep, the backups taken before the failing version."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from sqlmig import Migrator, SqlmigError, docschema
from tests.helpers import query, tables, two_migrations, versions


def sqlmig(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "sqlmig", *args],
        cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_the_backup_is_named_before_the_first_migration_runs(sqlite_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    done = sqlmig("apply", "-d", sqlite_url, "--dir", str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if "0001_accounts.sql" in line)
    announced = [i for i, line in enumerate(lines) if line.startswith("backup before migrating: ")]
    # Only the line naming the database comes before it.
    assert lines[0].startswith("sqlmig apply: sqlite:///"), done.stdout
    assert announced == [1] and first > 1, done.stdout
    assert Path(lines[1].split(": ", 1)[1].split(" (")[0]).is_file()
    # With --json, stdout is the document alone, and the line goes to stderr, for the
    # person watching the job (and for a run killed before it can print the document).
    write_migration(3, "more", "CREATE TABLE more (a int);", "DROP TABLE more;")
    done = sqlmig("apply", "--json", "-d", sqlite_url, "--dir", str(folder), cwd=tmp_path)
    doc = json.loads(done.stdout)
    assert f"backup before migrating: {doc['backup']['path']}" in done.stderr


def fails_at(db_url: str, kind: str) -> tuple[str, str]:
    """Migration 3 (after 1 and 2, which apply) failing in ``kind`` of the ways a run
    can fail once it has started: (its up file, what the error says)."""
    sqlite = db_url.startswith("sqlite")
    return {
        "statement": ("SELECT * FROM nowhere;", "nowhere"),
        "foreign key": (
            "CREATE TABLE child (id int REFERENCES accounts (id));\nINSERT INTO child VALUES (99);",
            "foreign key check failed before commit" if sqlite else "child",
        ),
        "connection": ("SELECT pg_terminate_backend(pg_backend_pid());", "lost the connection"),
    }[kind]


@pytest.mark.parametrize("kind", ["statement", "foreign key"])
def test_every_failure_after_the_backup_names_it(db_url, write_migration, kind):
    assert_names_the_backup(db_url, write_migration, *fails_at(db_url, kind))


def test_a_connection_lost_after_the_backup_names_it(pg_url, write_migration):
    assert_names_the_backup(pg_url, write_migration, *fails_at(pg_url, "connection"))


def assert_names_the_backup(db_url: str, write_migration, up: str, said: str) -> None:
    folder = two_migrations(write_migration)
    write_migration(3, "bad", up, "SELECT 1;")
    with Migrator(db_url, folder) as m, pytest.raises(SqlmigError, match=said) as info:
        m.apply(backup=True)
    partial = info.value.partial
    assert partial is not None and partial.backup is not None and partial.backup.path.is_file()
    assert [s.version for s in partial.applied] == [1, 2]


def test_a_lock_timeout_after_the_backup_names_it(db_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    write_migration(3, "alter", "ALTER TABLE accounts ADD COLUMN note text;", "SELECT 1;")
    with Migrator(db_url, folder) as m:
        m.apply(2, backup=False)
    blocker = hold_a_lock(db_url)
    try:
        with (
            Migrator(db_url, folder, lock_timeout=0.5) as m,
            pytest.raises(SqlmigError, match="lock") as info,
        ):
            m.apply(backup=True)
    finally:
        blocker.set()
    partial = info.value.partial
    assert partial is not None and partial.backup is not None and partial.backup.path.is_file()
    assert versions(db_url) == [1, 2]


def hold_a_lock(db_url: str) -> threading.Event:
    """Another connection holds a write lock on accounts until the event is set."""
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        if db_url.startswith("sqlite"):
            conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO accounts VALUES (3, 'c@example.com')")
        else:
            conn = psycopg.connect(db_url)  # type: ignore[assignment]
            conn.execute("LOCK TABLE accounts IN SHARE MODE")
        held.set()
        release.wait(60)
        conn.rollback()
        conn.close()

    threading.Thread(target=hold, daemon=True).start()
    held.wait(30)
    return release


def test_a_seed_or_a_drift_check_that_fails_after_migrating_names_it(
    sqlite_url, write_migration, tmp_path
):
    folder = two_migrations(write_migration)
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "plans.sql").write_text("INSERT INTO nowhere VALUES (1);\n")
    with Migrator(sqlite_url, folder, seeds_dir=tmp_path / "seeds") as m:
        with pytest.raises(SqlmigError) as info:
            m.apply(1, seed=True)
        assert info.value.partial and info.value.partial.backup
        (tmp_path / "seeds" / "plans.sql").unlink()
        (folder / "schema.sql").write_text("CREATE TABLE broken (;\n")
        with pytest.raises(SqlmigError) as info:
            m.apply(verify=True)
    partial = info.value.partial
    assert partial is not None and partial.backup is not None
    assert [s.version for s in partial.applied] == [2]


def slow(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        return (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            "WHERE x < 10000000) SELECT count(*) FROM c;"
        )
    return "SELECT pg_sleep(2);"


@pytest.mark.parametrize("as_json", [False, True])
def test_an_interrupted_run_names_its_backup(db_url, write_migration, tmp_path, as_json):
    folder = two_migrations(write_migration)
    write_migration(3, "slow", f"CREATE TABLE slow (a int);\n{slow(db_url)}", "DROP TABLE slow;")
    args = [
        "apply",
        "--backup",
        "-d",
        db_url,
        "--dir",
        str(folder),
        *(["--json"] if as_json else []),
    ]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlmig", *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not ("schema_version" in tables(db_url) and versions(db_url) == [1, 2]):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    time.sleep(0.3)  # into migration 3, which takes seconds
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (backup,) = [p for p in (tmp_path / "backups").iterdir() if p.suffix != ".json"]
    assert "interrupted: a migration in progress was rolled back" in err
    assert f"backup taken before the first migration: {backup}" in err
    assert versions(db_url) == [1, 2]
    if as_json:
        doc = json.loads(out)
        assert docschema.check(doc) == []
        assert doc["ok"] is False and doc["error"]["kind"] == "Interrupted"
        assert doc["error"]["exit_code"] == 130 and doc["backup"]["path"] == str(backup)
        assert [s["version"] for s in doc["applied"]] == [1, 2]
        assert doc["failed"]["version"] == 3
    else:
        assert out.index(f"backup before migrating: {backup}") < out.index("0001_accounts")


def test_failed_retries_keep_the_backup_taken_before_the_first_attempt(
    sqlite_url, write_migration, tmp_path
):
    folder = two_migrations(write_migration)
    write_migration(3, "c", "CREATE TABLE c (a int);", "DROP TABLE c;")
    write_migration(4, "broken", "SELECT * FROM nowhere;", "SELECT 1;")
    with Migrator(sqlite_url, folder, backup_keep=3) as m:
        for target in (1, 2, 3):  # deploys at versions 0, 1, 2: a backup before each
            m.apply(target)
        attempts = []
        for _ in range(6):  # the first attempt, then five retries
            with pytest.raises(SqlmigError) as info:
                m.apply()
            assert info.value.partial and info.value.partial.backup
            attempts.append(info.value.partial.backup.path)
        left = m.backups()
    assert [b.version for b in left] == [3, 3, 2, 1]
    assert [b.path for b in left[:2]] == [attempts[-1], attempts[0]]
    assert all(b.taken_by == "apply" for b in left)
    assert not attempts[2].exists() and not Path(f"{attempts[2]}.json").exists()
    assert query(
        sqlite_url, "SELECT count(*) FROM schema_version_history WHERE event = 'fail'"
    ) == [(6,)]
