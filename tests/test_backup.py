"""Backups before migrating, backup, backups and restore, on real files and pg_dump."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sqlmig import Migrator, StatementError, backups, tempfiles
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


@pytest.fixture
def disk(tmp_path):
    """A 512 KB disk; fill(free) leaves ``free`` bytes of it."""
    mount = tmpfs(tmp_path / "disk", "size=512k")

    def fill(free: int) -> Path:
        st = os.statvfs(mount)
        (mount / "filler").write_bytes(b"x" * max(0, st.f_bavail * st.f_frsize - free))
        return mount

    yield fill
    subprocess.run(["umount", str(mount)], check=False)


def fill_database(url: str, rows: int, journal_mode: str = "wal") -> None:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.execute("CREATE TABLE IF NOT EXISTS filler (a text)")
    conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 1000,)] * rows)
    conn.commit()
    conn.close()


# The disk fills at every stage of a backup: the main file, its journal, the -wal and
# -shm files SQLite opens when it checks a copy of a WAL database, the manifest.
@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
@pytest.mark.parametrize("free_pages", [0, 2, 8, 24, 32, 48, 64])
def test_full_disk_while_backing_up_leaves_nothing(
    sqlite_url, write_migration, disk, journal_mode, free_pages
):
    folder = two_migrations(write_migration)
    with Migrator(sqlite_url, folder) as m:
        m.apply(1, backup=False)
    fill_database(sqlite_url, 300, journal_mode)  # ~300 KB
    backups = disk(free_pages * 4096)
    with (
        Migrator(sqlite_url, folder, backup_dir=backups) as m,
        pytest.raises(BackupError) as info,
    ):
        m.apply()
    assert "disk full" in str(info.value) and "nothing was changed" in str(info.value)
    assert versions(sqlite_url) == [1]
    assert os.listdir(backups) == ["filler"]


def test_full_disk_while_pg_dump_writes_leaves_nothing(pg_url, write_migration, small_disk):
    folder = two_migrations(write_migration)
    with Migrator(pg_url, folder) as m:
        m.apply(1, backup=False)
    query(
        pg_url, "CREATE TABLE filler AS SELECT md5(g::text) AS a FROM generate_series(1, 50000) g"
    )
    with (
        Migrator(pg_url, folder, backup_dir=small_disk) as m,
        pytest.raises(BackupError, match="No space left on device"),
    ):
        m.apply(backup=True)
    assert versions(pg_url) == [1]
    assert os.listdir(small_disk) == []


def test_a_backup_of_a_wal_database_stands_alone(sqlite_url, write_migration, read_only_dir):
    folder = two_migrations(write_migration)
    with Migrator(sqlite_url, folder) as m:
        m.apply(1, backup=False)
        info = m.backup()
        m.apply(backup=False)
    # Rollback-journal mode: reading it needs no -wal or -shm file, and creates none.
    assert info.path.read_bytes()[18:20] == b"\x01\x01"
    subprocess.run(["mount", "-o", "remount,rw", str(read_only_dir)], check=True)
    for f in (info.path, backups.manifest_path(info.path)):
        shutil.copy(f, read_only_dir)
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_dir)], check=True)
    with Migrator(sqlite_url, folder) as m:
        assert m.restore(read_only_dir / info.path.name).status.current_version == 1
    assert sorted(os.listdir(read_only_dir)) == sorted([info.path.name, info.path.name + ".json"])
    assert sorted(os.listdir(info.path.parent)) == sorted(
        [info.path.name, info.path.name + ".json"]
    )


def test_full_disk_while_restoring_changes_nothing_and_leaves_nothing(
    write_migration, disk, tmp_path
):
    database = disk(240 * 1024) / "app.db"  # room for the database, not for a second copy
    url = f"sqlite:///{database}"
    folder = two_migrations(write_migration)
    with Migrator(url, folder, backup_dir=tmp_path / "backups") as m:
        m.apply(1, backup=False)
        fill_database(url, 60)
        info = m.backup()
        m.apply()
        before = snapshot(url)
        with pytest.raises(BackupError, match="disk full .* while restoring"):
            m.restore(info.path)
    assert snapshot(url) == before
    assert not [f for f in os.listdir(database.parent) if "partial" in f]


def hold_until(proc: subprocess.Popen[str], folder: Path, pattern: str) -> list[str]:
    """Wait until a file named like ``pattern`` shows up in ``folder``."""
    deadline = time.monotonic() + 30
    while not (found := [f for f in os.listdir(folder) if fnmatch.fnmatch(f, pattern)]):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the backup never started"
        time.sleep(0.002)
    return found


def big_database(url: str) -> None:
    """~100 MB, so that a backup takes long enough to be stopped half-way."""
    query(url, "PRAGMA journal_mode = wal")
    query(
        url,
        "CREATE TABLE filler AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
        "FROM c WHERE x < 25000) SELECT randomblob(4000) AS a FROM c",
    )


def test_an_interrupted_backup_leaves_nothing(sqlite_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    with Migrator(sqlite_url, folder) as m:
        m.apply(backup=False)
    big_database(sqlite_url)
    backups_dir = tmp_path / "backups"
    backups_dir.mkdir()
    proc = sqlmig_process("backup", "-d", sqlite_url, "--dir", str(folder))
    hold_until(proc, backups_dir, ".*.partial")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: nothing in the configured database was changed" in err
    assert os.listdir(backups_dir) == []


def test_what_a_killed_backup_left_is_swept_by_the_next(sqlite_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    with Migrator(sqlite_url, folder) as m:
        m.apply(backup=False)
    big_database(sqlite_url)
    backups_dir = tmp_path / "backups"
    backups_dir.mkdir()
    proc = sqlmig_process("backup", "-d", sqlite_url, "--dir", str(folder))
    left = hold_until(proc, backups_dir, ".*.partial")
    proc.kill()
    proc.communicate()
    assert set(left) <= set(os.listdir(backups_dir))  # SIGKILL: nothing could clean up
    # Another host's, and a live process's, are not the next run's to remove.
    theirs = backups_dir / ".app-v0002-20260101T000000Z.sqlite.otherhost-1.partial"
    live = backups_dir / f".app-v0002-20260101T000000Z.sqlite.{tempfiles._writer()}.partial"
    theirs.touch()
    live.touch()
    with Migrator(sqlite_url, folder) as m:
        info = m.backup()
    assert sorted(os.listdir(backups_dir)) == sorted(
        [info.path.name, info.path.name + ".json", theirs.name, live.name]
    )


def sqlmig_process(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.Popen(
        [sys.executable, "-m", "sqlmig", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


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
