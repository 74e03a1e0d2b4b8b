"""SQLite specifics: WAL, busy timeouts, `database is locked`, foreign keys during rebuilds."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from sqlmig import LockTimeout, Migrator, StatementError
from sqlmig.config import Settings
from sqlmig.engines import open_engine
from sqlmig.errors import ConnectError
from sqlmig.splitter import split
from tests.helpers import query, versions

PARENT_REBUILD = """\
CREATE TABLE accounts_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL CHECK (email LIKE '%@%'));
INSERT INTO accounts_new SELECT id, email FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;
"""


def test_wal_is_the_default_and_configurable(tmp_path, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    for mode, name in (("wal", "wal.db"), ("delete", "delete.db")):
        url = f"sqlite:///{tmp_path / name}"
        with Migrator(url, folder, sqlite_journal_mode=mode) as m:
            m.apply()
        assert query(url, "PRAGMA journal_mode") == [(mode,)]


def test_rebuilding_a_parent_table_keeps_children(sqlite_url, write_migration):
    """The 12-step procedure: with enforcement on, DROP TABLE would cascade into profiles."""
    folder = write_migration(
        1,
        "init",
        """\
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
        CREATE TABLE profiles (account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE, bio TEXT);
        INSERT INTO accounts VALUES (1, 'a@example.com'), (2, 'b@example.com');
        INSERT INTO profiles VALUES (1, 'one'), (2, 'two');
        """,
    )
    write_migration(2, "rebuild", PARENT_REBUILD)
    conn = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    conn.execute("PRAGMA foreign_keys = ON")  # an application connection that enforces them
    with Migrator(sqlite_url, folder) as m:
        m.apply()
    assert query(sqlite_url, "SELECT account_id, bio FROM profiles ORDER BY 1") == [
        (1, "one"),
        (2, "two"),
    ]
    assert query(sqlite_url, "PRAGMA foreign_key_check") == []
    conn.close()


def test_foreign_key_violation_is_caught_before_commit_and_named(sqlite_url, write_migration):
    folder = write_migration(
        1,
        "init",
        """\
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
        CREATE TABLE profiles (account_id INTEGER PRIMARY KEY REFERENCES accounts (id), bio TEXT);
        INSERT INTO accounts VALUES (1, 'a@example.com'), (2, 'broken');
        INSERT INTO profiles VALUES (1, 'one'), (2, 'two');
        """,
    )
    # The rebuild's CHECK drops account 2 on copy... no: it fails. Copy only valid rows instead:
    write_migration(
        2,
        "lossy",
        PARENT_REBUILD.replace("FROM accounts;", "FROM accounts WHERE email LIKE '%@%';"),
    )
    with Migrator(sqlite_url, folder) as m:
        m.apply(1)
        with pytest.raises(
            StatementError,
            match="foreign key check failed before commit: profiles rowid 2 references accounts",
        ) as info:
            m.apply()
        assert info.value.rolled_back
    assert versions(sqlite_url) == [1]
    assert query(sqlite_url, "SELECT id FROM accounts ORDER BY id") == [(1,), (2,)]


def test_database_is_locked_names_the_wait_and_the_remedy(sqlite_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    with Migrator(sqlite_url, folder) as m:
        m.status()
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("BEGIN IMMEDIATE")
    start = time.monotonic()
    try:
        with (
            Migrator(sqlite_url, folder, lock_timeout=0.5) as m,
            pytest.raises(LockTimeout) as info,
        ):
            m.apply()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert 0.4 < time.monotonic() - start < 5
    message = str(info.value)
    assert "database is locked: waited 0.5s" in message
    assert "close its connections" in message and "WAL" in message
    assert info.value.exit_code == 4
    assert versions(sqlite_url) == []


def test_corrupt_file_is_a_clear_connect_error(tmp_path, write_migration):
    folder = write_migration(1, "a", "SELECT 1;")
    db = tmp_path / "corrupt.db"
    db.write_bytes(b"this is not a database" * 100)
    with (
        Migrator(f"sqlite:///{db}", folder) as m,
        pytest.raises(ConnectError, match="file is not a database"),
    ):
        m.apply()


def test_folder_that_does_not_exist(tmp_path, write_migration):
    folder = write_migration(1, "a", "SELECT 1;")
    with (
        Migrator(f"sqlite:///{tmp_path}/no/such/dir/x.db", folder) as m,
        pytest.raises(ConnectError, match="does not exist"),
    ):
        m.apply()


def test_trigger_bodies_run_whole(sqlite_url, write_migration):
    folder = write_migration(
        1,
        "trigger",
        """\
        CREATE TABLE t (a int, b text);
        CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN
            UPDATE t SET b = CASE WHEN new.a > 0 THEN 'pos' ELSE 'neg' END WHERE rowid = new.rowid;
            SELECT 1;
        END;
        INSERT INTO t (a) VALUES (1), (-1);
        """,
    )
    with Migrator(sqlite_url, folder) as m:
        m.apply()
    assert query(sqlite_url, "SELECT a, b FROM t ORDER BY a") == [(-1, "neg"), (1, "pos")]


def test_switching_to_wal_waits_for_a_writer_instead_of_failing_at_once(tmp_path):
    """Runners starting together on a new file: while one writes in rollback-journal mode,
    SQLite refuses another's switch to WAL at once, without its busy handler. sqlmig
    waits, as for any lock, instead of failing the deploy."""
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE x (a)")
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    try:
        engine = open_engine(
            Settings(database_url=f"sqlite:///{path}", lock_timeout=10), write=True
        )
    finally:
        release.join()
        holder.close()
    try:
        assert engine.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        engine.close()
    assert time.monotonic() - started >= 0.4  # it did wait for the writer


def test_a_sqlite_library_older_than_the_floor_is_refused_by_name(
    tmp_path, write_migration, monkeypatch
):
    import sqlite3

    from sqlmig.engines import sqlite as engine

    assert sqlite3.sqlite_version_info >= engine.MIN_SQLITE  # the suite runs on a supported one
    folder = write_migration(1, "a", "SELECT 1;")
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 25, 3))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.25.3")
    with (
        Migrator(f"sqlite:///{tmp_path / 'a.db'}", folder) as m,
        pytest.raises(ConnectError, match=r"needs SQLite 3\.26\.0 or newer.*uses SQLite 3\.25\.3"),
    ):
        m.apply()
    assert not (tmp_path / "a.db").exists()


def test_a_foreign_key_that_no_longer_fits_its_parent_is_a_statement_error(
    sqlite_url, write_migration
):
    write_migration(
        1,
        "parent",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT UNIQUE);",
        "DROP TABLE parent;",
    )
    folder = write_migration(
        2,
        "child",
        "CREATE TABLE child (id INTEGER PRIMARY KEY, code TEXT REFERENCES parent (code));\n"
        "INSERT INTO parent VALUES (1, 'a'); INSERT INTO child VALUES (1, 'a');",
        # A rebuild that loses the UNIQUE the child's key points at.
        "CREATE TABLE parent_new (id INTEGER PRIMARY KEY, code TEXT);\n"
        "INSERT INTO parent_new SELECT id, code FROM parent;\n"
        "DROP TABLE parent;\n"
        "ALTER TABLE parent_new RENAME TO parent;",
    )
    with Migrator(sqlite_url, folder) as m:
        m.apply()
        with pytest.raises(StatementError) as info:
            m.rollback()
        failure = m.history()[0]
    assert info.value.exit_code == 5 and info.value.path.name == "0002_child.sql"
    assert "foreign key mismatch" in info.value.db_message
    assert "version 2 is still applied" in str(info.value)
    assert failure.event == "fail" and "foreign key mismatch" in (failure.error or "")
    assert versions(sqlite_url) == [1, 2]
    assert (
        query(sqlite_url, "SELECT sql FROM sqlite_master WHERE name = 'parent'")[0][0].count(
            "UNIQUE"
        )
        == 1
    )


def test_a_folder_or_a_read_only_file_is_named_as_such(tmp_path, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    for command in ("apply", "status"):
        with (
            Migrator(f"sqlite:///{tmp_path}", folder) as m,
            pytest.raises(ConnectError, match=rf"{tmp_path} is a folder, not a database file"),
        ):
            getattr(m, command)()
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=False
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (root only); root ignores file modes")
    try:
        sqlite3.connect(mount / "app.db").execute("CREATE TABLE t (a)").connection.close()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        url = f"sqlite:///{mount / 'app.db'}"
        with Migrator(url, folder) as m, pytest.raises(ConnectError) as info:
            m.apply(backup=False)
        assert "readonly database" in str(info.value)
        assert f"{mount / 'app.db'} is read-only; sqlmig needs to write it" in str(info.value)
        with Migrator(url, folder) as m:  # reading still works
            assert [e.state.value for e in m.status().entries] == ["pending"]
    finally:
        subprocess.run(["umount", str(mount)], check=False)


FAMILY = (
    "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n"
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));\n"
    "INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (1, 1);"
)


def test_the_foreign_key_check_covers_only_what_the_migration_touched(tmp_path):
    from sqlmig.engines.sqlite import SqliteEngine

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}")
    engine = SqliteEngine(settings)
    engine.open(write=True)
    try:
        with engine.transaction():
            engine.execute_many([st.text for st in split(FAMILY, "sqlite")])
        with engine.transaction():
            # A table with no keys of its own has nothing to check, nor anything under it.
            engine.execute("CREATE TABLE unrelated (a int)")
            assert engine._fk.tables_to_check(engine.conn) == []
        with engine.transaction():
            engine.execute("DELETE FROM parent WHERE id = 2")  # its children are checked
            assert engine._fk.tables_to_check(engine.conn) == ["child"]
        with engine.transaction():
            engine.execute("CREATE TABLE keyed (a int REFERENCES parent (id))")
            engine.execute("INSERT INTO unrelated VALUES (1)")
            assert engine._fk.tables_to_check(engine.conn) == ["keyed"]
        with engine.transaction():
            engine.execute("DROP TABLE keyed")  # gone: nothing of it left to check
            assert engine._fk.tables_to_check(engine.conn) == []
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("name", "up"),
    [
        ("delete_parent", "DELETE FROM parent WHERE id = 1;"),
        ("orphan_insert", "INSERT INTO child VALUES (2, 42);"),
        # A parent rebuilt without the row a child points at (the 12-step procedure).
        (
            "rebuild_parent",
            "CREATE TABLE parent_new (id INTEGER PRIMARY KEY);\n"
            "INSERT INTO parent_new SELECT id FROM parent WHERE id <> 1;\n"
            "DROP TABLE parent;\nALTER TABLE parent_new RENAME TO parent;",
        ),
        # A trigger on another table deletes the parent row.
        (
            "by_trigger",
            "CREATE TABLE cleanup (id int);\n"
            "CREATE TRIGGER cleanup_ai AFTER INSERT ON cleanup BEGIN\n"
            "  DELETE FROM parent WHERE id = new.id;\nEND;\n"
            "INSERT INTO cleanup VALUES (1);",
        ),
    ],
)
def test_a_violation_the_migration_causes_is_still_caught(sqlite_url, write_migration, name, up):
    write_migration(1, "family", FAMILY, "DROP TABLE child; DROP TABLE parent;")
    folder = write_migration(2, name, up)
    with (
        Migrator(sqlite_url, folder) as m,
        pytest.raises(StatementError, match="foreign key check failed before commit: child"),
    ):
        m.apply(backup=False)
    assert versions(sqlite_url) == [1]
    assert query(sqlite_url, "SELECT id FROM parent ORDER BY id") == [(1,), (2,)]


def test_a_statement_sqlite_had_compiled_before_is_still_checked(sqlite_url, write_migration):
    """The sqlite3 module reuses compiled statements of the same text, and SQLite's
    authorizer sees a statement only when it is compiled."""
    write_migration(1, "family", FAMILY)
    write_migration(2, "tidy", "DELETE FROM parent WHERE id = 2;")  # no child: fine
    write_migration(3, "again", "INSERT INTO parent VALUES (2); INSERT INTO child VALUES (2, 2);")
    folder = write_migration(4, "tidy_again", "DELETE FROM parent WHERE id = 2;")  # same text
    with (
        Migrator(sqlite_url, folder) as m,
        pytest.raises(StatementError, match="child rowid 2 references parent"),
    ):
        m.apply(backup=False)
    assert versions(sqlite_url) == [1, 2, 3]


def test_an_apply_without_backup_or_variables_loads_only_what_it_uses(tmp_path, write_migration):
    # Each is a few milliseconds of every apply: what a backup, a temporary file or the
    # history's variables need waits until they are needed.
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    url = f"sqlite:///{tmp_path / 'a.db'}"
    probe = (
        "import sys, sqlite3, sqlmig\n"
        "before = set(sys.modules)\n"
        f"with sqlmig.Migrator({url!r}, {str(folder)!r}) as m:\n"
        "    assert len(m.apply(backup=False).steps) == 1\n"
        "print(sorted(set(sys.modules) - before & {'json', 'shutil', 'socket', 'subprocess'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
