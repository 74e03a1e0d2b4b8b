"""sqlmig's own tables carry a format: a newer sqlmig upgrades older tables in place, an
older one refuses newer tables rather than misread them (a rolling deploy runs both)."""

from __future__ import annotations

import pytest

from sqlmig import Migrator
from sqlmig.config import Settings
from sqlmig.engines import open_engine, store
from sqlmig.errors import BackendError, FormatError
from tests.helpers import OWN_TABLES, query, tables, versions


def format_one(db_url: str, write_migration) -> None:
    """A database as sqlmig left it before the meta table existed: migrated, no meta."""
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
    query(db_url, "DROP TABLE schema_version_meta")
    query(db_url, "DROP TABLE schema_version_seeds")  # older still: before seeds existed


def meta(db_url: str) -> list[tuple[str, str]]:
    return [tuple(r) for r in query(db_url, "SELECT name, value FROM schema_version_meta")]


def test_a_new_database_gets_the_current_format(db_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
    assert meta(db_url) == [("format", str(store.FORMAT))]


def test_older_tables_are_upgraded_in_place_and_keep_their_rows(db_url, write_migration):
    format_one(db_url, write_migration)
    folder = write_migration(2, "b", "CREATE TABLE b (x int);", "DROP TABLE b;")
    with Migrator(db_url, folder) as m:
        assert [e.state.value for e in m.status().entries] == ["applied", "pending"]  # reads as is
        assert "schema_version_meta" not in tables(db_url)  # reading upgrades nothing
        m.apply(backup=False)
        assert [e.event for e in m.history()][-1] == "apply"
    assert meta(db_url) == [("format", str(store.FORMAT))]
    assert versions(db_url) == [1, 2] and tables(db_url) >= OWN_TABLES


def test_an_upgrade_that_fails_changes_nothing(db_url, write_migration, monkeypatch):
    format_one(db_url, write_migration)
    monkeypatch.setitem(
        store._UPGRADES, 1, lambda s: [s.meta.create, "SELECT * FROM no_such_table_anywhere"]
    )
    with (
        Migrator(db_url, write_migration(2, "b", "SELECT 1;")) as m,
        pytest.raises(BackendError, match="no_such_table_anywhere"),
    ):
        m.apply(backup=False)
    assert "schema_version_meta" not in tables(db_url)  # the whole upgrade rolled back
    assert "schema_version_seeds" not in tables(db_url)
    assert versions(db_url) == [1]


@pytest.mark.parametrize(
    "command", ["status", "apply", "rollback", "history", "metrics", "validate"]
)
def test_tables_in_a_newer_format_are_refused_not_misread(db_url, write_migration, command):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
    query(db_url, f"UPDATE schema_version_meta SET value = '{store.FORMAT + 1}'")
    with Migrator(db_url, folder) as m, pytest.raises(FormatError) as info:
        getattr(m, command)()
    assert f"are in format {store.FORMAT + 1}, written by a newer sqlmig" in str(info.value)
    assert "Upgrade sqlmig" in str(info.value) and info.value.exit_code == 1
    assert versions(db_url) == [1] and "a" in tables(db_url)


def test_racing_upgrades_on_sqlite_upgrade_once(sqlite_url, write_migration):
    format_one(sqlite_url, write_migration)
    engines = [open_engine(Settings(database_url=sqlite_url), write=True) for _ in range(2)]
    try:
        first, second = (store.Store(e, Settings(database_url=sqlite_url)) for e in engines)
        assert first.format() == second.format() == 1
        first.ensure_tables()
        second.ensure_tables()  # saw format 1 before; finds 2 inside its transaction
        assert first.format() == second.format() == store.FORMAT
    finally:
        for e in engines:
            e.close()
    assert meta(sqlite_url) == [("format", str(store.FORMAT))]
