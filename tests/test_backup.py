"""Backups before migrating, backup, backups and restore, on real files and pg_dump."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from sqlmig import Migrator, StatementError
from sqlmig.errors import BackupError, DirtyError
from tests.helpers import OWN_TABLES, query, snapshot, tables, two_migrations, versions


def test_sqlite_apply_takes_a_private_checked_backup_first(sqlite_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    with Migrator(sqlite_url, folder) as m:
        m.apply(1)
        result = m.apply()
    assert result.backup is not None
    backup = result.backup.path
    assert re.fullmatch(r"app-v0001-\d{8}T\d{6}Z\.sqlite", backup.name)
    assert backup.parent == tmp_path / "backups"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    copy = sqlite3.connect(backup)
    assert copy.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    assert copy.execute("SELECT count(*) FROM accounts").fetchall() == [(0,)]
    copy.close()
    assert not list((tmp_path / "backups").glob(".*partial"))


def test_no_backup_when_nothing_to_apply_or_when_disabled(sqlite_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    with Migrator(sqlite_url, folder) as m:
        assert m.apply(backup=False).backup is None
        assert m.apply().backup is None  # nothing pending
    assert not (tmp_path / "backups").exists()


def test_postgres_backup_is_opt_in_and_uses_pg_dump(pg_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    with Migrator(pg_url, folder) as m:
        assert m.apply(1).backup is None
        info = m.apply(backup=True).backup
    assert info is not None and info.path.name.endswith(".pgdump") and info.version == 1
    assert info.path.read_bytes()[:5] == b"PGDMP"
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600


def test_listing_and_retention(sqlite_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    with Migrator(sqlite_url, folder, backup_keep=2) as m:
        m.apply(1)
        for _ in range(3):
            m.backup()
        found = m.backups()
    assert len(found) == 2  # the newest two; the others were pruned
    assert all(b.version == 1 and b.database == "app" and b.size > 0 for b in found)


def test_retention_keeps_the_newest_and_only_touches_its_own_backups(
    sqlite_url, write_migration, tmp_path
):
    folder = two_migrations(write_migration)
    backups = tmp_path / "backups"
    backups.mkdir()
    # Named like backups, but another engine's database of the same name, and a folder.
    other_engine = backups / "app-v0001-20260101T000000Z.pgdump"
    other_engine.write_text("not ours")
    (backups / "app-v0001-20260101T000001Z.sqlite").mkdir()
    with Migrator(sqlite_url, folder, backup_keep=1) as m:
        m.apply(1, backup=False)
        # Several in the same second: -2, -3 ... must count as newer, not older.
        taken = [m.backup() for _ in range(4)]
        found = m.backups()
    assert [b.path for b in found if b.path.suffix == ".sqlite"] == [taken[-1].path]
    assert other_engine.exists()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_restore_after_a_no_transaction_migration_fails_halfway(engine, request, write_migration):
    url = request.getfixturevalue("sqlite_url" if engine == "sqlite" else "pg_url")
    folder = two_migrations(write_migration)
    write_migration(3, "more", "CREATE TABLE extra (a int);", "DROP TABLE extra;")
    write_migration(
        4,
        "halfway",
        "-- sqlmig: no-transaction\nCREATE TABLE half (a int);\nSELECT * FROM missing;\n",
        "DROP TABLE half;",
    )
    with Migrator(url, folder) as m:
        m.apply(2)
        before = snapshot(url)
        with pytest.raises(StatementError):
            m.apply(backup=True)
        assert {"extra", "half"} <= tables(url)
        with pytest.raises(DirtyError):
            m.apply()
        backup = m.backups()[0]  # the newest: taken by the apply that failed
        status = m.restore(backup.path).status
    assert status.current_version == 2
    assert [e.state.value for e in status.entries] == ["applied", "applied", "pending", "pending"]
    after = snapshot(url)
    assert {k: v for k, v in after.items() if k not in OWN_TABLES} == {
        k: v for k, v in before.items() if k not in OWN_TABLES
    }
    assert versions(url) == [1, 2]
    with Migrator(url, folder) as m:
        assert m.history(1)[0].event == "restore"


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_restore_refuses_a_file_that_is_not_a_backup(engine, request, write_migration, tmp_path):
    url = request.getfixturevalue("sqlite_url" if engine == "sqlite" else "pg_url")
    folder = two_migrations(write_migration)
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    with Migrator(url, folder) as m:
        m.apply(backup=False)
        before = snapshot(url)
        with pytest.raises(BackupError, match="not"):
            m.restore(bogus)
    assert snapshot(url) == before


def test_restore_refuses_an_sqlite_file_without_a_version_table(
    sqlite_url, write_migration, tmp_path
):
    folder = two_migrations(write_migration)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (a int)").connection.commit()
    with Migrator(sqlite_url, folder) as m:
        m.apply(backup=False)
        with pytest.raises(BackupError, match="has no schema_version table"):
            m.restore(other)
    assert versions(sqlite_url) == [1, 2]


def test_missing_or_unusable_backup_folder(sqlite_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    with Migrator(sqlite_url, folder) as m:
        m.apply(1, backup=False)
    for backup_dir, message in (
        (tmp_path / "no" / "such" / "dir", "does not exist"),
        (tmp_path / "a_file", "cannot be created"),
    ):
        (tmp_path / "a_file").touch()
        with (
            Migrator(sqlite_url, folder, backup_dir=backup_dir) as m,
            pytest.raises(BackupError, match=message),
        ):
            m.apply()
        assert versions(sqlite_url) == [1]


def tmpfs(mount: Path, options: str) -> Path:
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
        check=False,
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    return mount


@pytest.fixture
def small_disk(tmp_path):
    yield tmpfs(tmp_path / "small", "size=64k")
    subprocess.run(["umount", str(tmp_path / "small")], check=False)


@pytest.fixture
def read_only_dir(tmp_path):
    yield tmpfs(tmp_path / "ro", "ro,size=64k")  # root ignores file modes, not a read-only mount
    subprocess.run(["umount", str(tmp_path / "ro")], check=False)


def test_unwritable_backup_folder(sqlite_url, write_migration, read_only_dir):
    folder = two_migrations(write_migration)
    with Migrator(sqlite_url, folder) as m:
        m.apply(1, backup=False)
    with (
        Migrator(sqlite_url, folder, backup_dir=read_only_dir) as m,
        pytest.raises(BackupError, match="not writable"),
    ):
        m.apply()
    assert versions(sqlite_url) == [1]


def test_full_disk_while_backing_up_changes_nothing(sqlite_url, write_migration, small_disk):
    folder = two_migrations(write_migration)
    with Migrator(sqlite_url, folder) as m:
        m.apply(1, backup=False)
    query(sqlite_url, "CREATE TABLE filler (a text)")
    conn = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 1000,)] * 300)  # ~300 KB
    conn.commit()
    conn.close()
    with (
        Migrator(sqlite_url, folder, backup_dir=small_disk) as m,
        pytest.raises(BackupError) as info,
    ):
        m.apply()
    assert "disk full" in str(info.value) or "disk is full" in str(info.value)
    assert versions(sqlite_url) == [1]
    assert os.listdir(small_disk) == []


def test_corrupt_sqlite_file_aborts_apply(sqlite_url, write_migration):
    folder = two_migrations(write_migration)
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    with Migrator(sqlite_url, folder) as m:
        m.apply(1, backup=False)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = delete")
    conn.execute("CREATE TABLE big (a text)")
    conn.execute("CREATE INDEX big_a ON big (a)")
    conn.executemany("INSERT INTO big VALUES (?)", [(f"row {i:05d}" * 20,) for i in range(2000)])
    conn.commit()
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(len(data) - 3 * page, len(data) - 2 * page, 7):  # scribble over one page
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))
    with (
        Migrator(sqlite_url, folder) as m,
        pytest.raises(BackupError, match="integrity_check|malformed"),
    ):
        m.apply()
    assert [r[0] for r in query(sqlite_url, "SELECT version FROM schema_version")] == [1]


def test_pg_dump_missing_or_too_old(pg_url, write_migration, tmp_path, monkeypatch):
    import sqlmig.engines.pgtools as pgtools

    folder = two_migrations(write_migration)
    monkeypatch.setattr(pgtools.glob, "glob", lambda pattern: [])
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with (
        Migrator(pg_url, folder) as m,
        pytest.raises(BackupError, match="pg_dump was not found on PATH"),
    ):
        m.apply(backup=True)
    assert versions(pg_url) == []
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    with (
        Migrator(pg_url, folder) as m,
        pytest.raises(BackupError, match=r"version 9, older than the server \(1\d\)"),
    ):
        m.apply(backup=True)
    assert versions(pg_url) == []
