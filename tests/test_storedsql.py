"""The SQL kept with each version row: a changed down file is its own state, diffs of
edited files, and rollback --from-database for a checkout without the files."""

from __future__ import annotations

import json

import pytest

from sqlmig import Migrator
from sqlmig.engines import store
from sqlmig.errors import ValidationError
from sqlmig.models import State, StoredSql
from tests.helpers import query, tables, versions
from tests.test_cli import sqlmig


def three(write_migration):
    for v, name in ((1, "a"), (2, "b"), (3, "c")):
        folder = write_migration(v, name, f"CREATE TABLE {name} (x int);", f"DROP TABLE {name};")
    return folder


def stored(db_url: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in query(db_url, "SELECT version, up_sql, down_sql FROM schema_version")]


def test_apply_keeps_the_sql_of_both_files(db_url, write_migration):
    folder = three(write_migration)
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
        assert m.store().stored_sql([2]) == {
            2: StoredSql("CREATE TABLE b (x int);", "DROP TABLE b;")
        }
    assert sorted(stored(db_url))[0] == (1, "CREATE TABLE a (x int);", "DROP TABLE a;")


def test_a_changed_down_file_stops_nothing_and_rollback_runs_it_as_it_is(db_url, write_migration):
    folder = three(write_migration)
    with Migrator(db_url, folder) as m:
        m.apply(2, backup=False)
    down = folder / "down" / "0002_b.sql"
    down.write_text("-- the comment fixed\nDROP TABLE b;")
    with Migrator(db_url, folder) as m:
        st = m.status()
        assert [e.state for e in st.entries] == [State.APPLIED, State.DOWN_CHANGED, State.PENDING]
        assert "a rollback runs it as it is now" in st.entries[1].detail
        assert m.validate(st) == []
        (warning,) = m.warnings(st)
        assert warning.version == 2 and "sqlmig accept 2" in warning.message
        assert m.changes(st) == {
            2: [
                f"--- {down} (as applied)",
                f"+++ {down}",
                "@@ -1 +1,2 @@",
                "+-- the comment fixed",
                " DROP TABLE b;",
            ]
        }
        assert [s.version for s in m.apply(backup=False).steps] == [3]  # not refused
        m.ensure_current()  # nor here
        assert m.status().ok
        m.rollback(2)
        two = m.history(1)[0]
    assert versions(db_url) == [1] and "a" in tables(db_url) and "b" not in tables(db_url)
    assert two.version == 2 and "changed since applied: ran it as it is now" in (two.detail or "")
    with Migrator(db_url, folder) as m:  # the history records the new checksum
        assert two.checksum == m.migrations()[1].down.checksum


def test_status_exit_code_and_validate_pass_with_a_changed_down_file(sqlite_url, write_migration):
    folder = three(write_migration)
    assert (
        sqlmig("apply", "-d", sqlite_url, "--dir", str(folder), cwd=folder.parent).returncode == 0
    )
    (folder / "down" / "0001_a.sql").write_text("DROP TABLE IF EXISTS a;")
    args = ("-d", sqlite_url, "--dir", str(folder))
    st = sqlmig("status", "--exit-code", "--diff", *args, cwd=folder.parent)
    assert st.returncode == 0, st.stdout + st.stderr
    assert "down changed" in st.stdout and "+DROP TABLE IF EXISTS a;" in st.stdout
    checked = sqlmig("validate", "--json", *args, cwd=folder.parent)
    doc = json.loads(checked.stdout)
    assert checked.returncode == 0 and doc["ok"] and "sqlmig accept 1" in doc["warnings"][0]["text"]
    assert "-DROP TABLE a;" in doc["diffs"]["1"]
    doc = json.loads(sqlmig("status", "--json", "--diff", *args, cwd=folder.parent).stdout)
    assert doc["counts"]["down_changed"] == 1 and "+DROP TABLE IF EXISTS a;" in doc["diffs"]["1"]


def test_an_edited_up_file_is_still_changed_and_shows_its_diff(db_url, write_migration):
    folder = three(write_migration)
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
    (folder / "up" / "0003_c.sql").write_text("CREATE TABLE c (x bigint);")
    with Migrator(db_url, folder) as m:
        st = m.status()
        assert st.entries[2].state is State.CHANGED
        assert "-CREATE TABLE c (x int);" in m.changes(st)[3]
        with pytest.raises(ValidationError, match="edited since applied"):
            m.apply(backup=False)
        assert m.accept([3]) == [3]
        assert m.changes() == {}  # accept keeps the new SQL: nothing differs any more
        assert m.store().stored_sql([3])[3].up == "CREATE TABLE c (x bigint);"


def test_an_older_release_rolls_back_a_newer_database(db_url, write_migration):
    folder = three(write_migration)
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
    for sub in ("up", "down"):
        (folder / sub / "0003_c.sql").unlink()  # the older checkout has no 0003
    args = ("-d", db_url, "--dir", str(folder))
    refused = sqlmig("rollback", "1", *args, cwd=folder.parent)
    assert refused.returncode == 1 and "files are missing" in refused.stderr
    assert "`sqlmig rollback --from-database`" in refused.stderr
    assert versions(db_url) == [1, 2, 3]
    done = sqlmig("rollback", "--from-database", "1", *args, cwd=folder.parent)
    assert done.returncode == 0, done.stderr
    assert "kept in the database" in done.stdout
    assert versions(db_url) == [1, 2] and "c" not in tables(db_url) and "b" in tables(db_url)
    with Migrator(db_url, folder) as m:
        assert m.status().ok
        m.apply(backup=False)  # nothing pending: 0003 is gone from the folder and the database
        assert versions(db_url) == [1, 2]
    for sub in ("up", "down"):
        (folder / sub / "0002_b.sql").unlink()
    with Migrator(db_url, folder) as m:
        result = m.rollback(from_database=True)
    assert result.status is not None and result.status.ok  # of the folder as it is


def test_files_over_the_limit_keep_only_their_checksum_and_say_so(db_url, write_migration):
    folder = three(write_migration)
    with Migrator(db_url, folder, stored_sql_limit=16) as m:
        m.apply(backup=False)
    assert sorted(stored(db_url))[1] == (2, None, "DROP TABLE b;")  # 23 bytes up, 13 down
    with Migrator(db_url, folder, stored_sql_limit=0) as m:
        m.rollback(1)
        m.apply(backup=False)  # 0: none kept
    assert sorted(stored(db_url))[2] == (3, None, None)
    (folder / "up" / "0002_b.sql").write_text("CREATE TABLE b (y int);")
    for sub in ("up", "down"):
        (folder / sub / "0003_c.sql").unlink()
    with Migrator(db_url, folder) as m:
        (line,) = m.changes()[2]
        assert "not kept in the database" in line and "only its checksum" in line
        with pytest.raises(ValidationError) as info:
            m.rollback(1, from_database=True)
    assert "keeps no down SQL for version(s) 3" in str(info.value)
    assert versions(db_url) == [1, 2, 3]


def format_three(db_url: str, folder) -> None:
    """A database as sqlmig format 3 left it: version rows without their SQL."""
    with Migrator(db_url, folder) as m:
        m.apply(2, backup=False)
    for column in ("up_sql", "down_sql"):
        query(db_url, f"ALTER TABLE schema_version DROP COLUMN {column}")
    query(db_url, "UPDATE schema_version_meta SET value = '3'")


def test_a_format_three_database_is_upgraded_and_its_old_rows_keep_no_sql(db_url, write_migration):
    folder = three(write_migration)
    format_three(db_url, folder)
    (folder / "up" / "0001_a.sql").write_text("CREATE TABLE a (y int);")
    with Migrator(db_url, folder) as m:
        st = m.status()  # read as it is: nothing upgraded by reading
        assert [e.state for e in st.entries] == [State.CHANGED, State.APPLIED, State.PENDING]
        assert "not kept in the database" in m.changes(st)[1][0]
    assert query(db_url, "SELECT value FROM schema_version_meta") == [("3",)]
    (folder / "up" / "0001_a.sql").write_text("CREATE TABLE a (x int);")
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)  # the first write upgrades
        assert m.store().format() == store.FORMAT == 4
        assert m.store().stored_sql([1, 2, 3]) == {
            1: StoredSql(),
            2: StoredSql(),
            3: StoredSql("CREATE TABLE c (x int);", "DROP TABLE c;"),
        }
    for sub in ("up", "down"):
        (folder / sub / "0002_b.sql").unlink()
    with Migrator(db_url, folder) as m, pytest.raises(ValidationError) as info:
        m.rollback(2, from_database=True)
    assert "keeps no down SQL for version(s) 2" in str(info.value)
    assert versions(db_url) == [1, 2, 3]


def test_from_database_falls_back_to_the_files_of_rows_that_keep_no_sql(db_url, write_migration):
    folder = three(write_migration)
    format_three(db_url, folder)
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
        result = m.rollback(3, from_database=True)
    assert [s.note != "" for s in result.steps] == [True, False, False]
    assert versions(db_url) == [] and not {"a", "b", "c"} & tables(db_url)


def test_a_streamed_file_is_kept_whole(sqlite_url, write_migration, monkeypatch):
    from sqlmig import sqlstream

    monkeypatch.setattr(sqlstream, "INLINE_LIMIT", 64)
    body = "".join(f"INSERT INTO big VALUES ({i});\n" for i in range(20))
    folder = write_migration(1, "big", "CREATE TABLE big (x int);\n" + body, "DROP TABLE big;")
    with Migrator(sqlite_url, folder) as m:
        assert m.migrations()[0].up.streamed
        m.apply(backup=False)
        assert m.store().stored_sql([1])[1].up == "CREATE TABLE big (x int);\n" + body
    with Migrator(sqlite_url, folder, stored_sql_limit=100) as m:
        m.rollback()
        m.apply(backup=False)
        assert m.store().stored_sql([1])[1] == StoredSql(None, "DROP TABLE big;")
