"""A database sqlmig has never migrated, but that already holds a schema: `apply` runs
nothing there and points to `baseline`; what other tools put beside it does not count."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sqlmig import Migrator, StateError
from tests.conftest import REPO
from tests.helpers import query, tables, versions
from tests.test_cli import sqlmig


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    return tmp_path / "sql"


def by_hand(url: str, *files: Path) -> None:
    """Build a schema the way another tool would: run the statements, record nothing."""
    for file in files:
        for statement in file.read_text().split(";"):
            if statement.strip() and not all(
                line.strip().startswith("--") or not line.strip() for line in statement.split("\n")
            ):
                query(url, statement)


def test_apply_refuses_a_database_built_by_other_means(db_url, demo, tmp_path):
    query(db_url, "CREATE TABLE legacy (id int)")
    query(db_url, "CREATE VIEW legacy_ids AS SELECT id FROM legacy")
    with Migrator(db_url, demo) as m, pytest.raises(StateError) as info:
        m.apply(backup=False)
    message = str(info.value)
    assert "no sqlmig version table yet" in message and "Nothing was run" in message
    assert "table " in message and "legacy" in message and "view " in message
    assert "`sqlmig baseline N`" in message and "`sqlmig baseline 0`" in message
    assert tables(db_url) == {"legacy"}  # not even sqlmig's own tables were made
    dry = sqlmig("apply", "--dry-run", "-d", db_url, cwd=tmp_path)
    assert dry.returncode == 1 and "sqlmig baseline" in dry.stderr and not dry.stdout
    assert sqlmig("apply", "-d", db_url, cwd=tmp_path).returncode == 1
    assert versions(db_url) == []

    # The objects are another application's: record that none of the migrations is applied.
    done = sqlmig("baseline", "0", "-d", db_url, cwd=tmp_path)
    assert done.returncode == 0 and "baseline 0: recorded that none" in done.stdout
    applied = sqlmig("apply", "--no-backup", "-d", db_url, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert versions(db_url) == [1, 2, 3, 4, 5] and "legacy" in tables(db_url)
    with Migrator(db_url, demo) as m:
        assert [e.event for e in m.history()][-1] == "baseline"


def test_a_database_at_version_2_by_hand_is_baselined_and_migrated_on(db_url, demo, tmp_path):
    by_hand(
        db_url,
        demo / "up" / "0001_create_accounts.sql",
        demo / "up" / "0002_add_accounts_email_normalized.sql",
    )
    refused = sqlmig("apply", "-d", db_url, cwd=tmp_path)
    assert refused.returncode == 1 and "accounts" in refused.stderr
    assert sqlmig("baseline", "2", "-d", db_url, cwd=tmp_path).returncode == 0
    done = sqlmig("apply", "--no-backup", "--verify", "-d", db_url, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert versions(db_url) == [1, 2, 3, 4, 5]


def test_an_empty_database_and_one_sqlmig_migrated_are_not_refused(db_url, demo):
    with Migrator(db_url, demo) as m:
        m.apply(2, backup=False)
        m.apply(backup=False)  # its version table is there now: the objects are its own
    assert versions(db_url) == [1, 2, 3, 4, 5]


def test_extensions_and_other_schemas_do_not_count(pg_url, demo):
    """A Supabase-style database before its first migration: extensions in public, the
    platform's own schemas beside it."""
    query(pg_url, "CREATE EXTENSION citext")
    query(pg_url, "CREATE EXTENSION pgcrypto")
    for space in ("auth", "storage"):
        query(pg_url, f"CREATE SCHEMA {space}")
        query(pg_url, f"CREATE TABLE {space}.objects (id uuid PRIMARY KEY)")
        query(
            pg_url,
            f"CREATE FUNCTION {space}.uid() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'",
        )
    with Migrator(pg_url, demo) as m:
        m.apply(backup=False)
    assert versions(pg_url) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("statement", "shown"),
    [
        ("CREATE TABLE t (id serial PRIMARY KEY)", "table public.t"),  # not its sequence
        ("CREATE SEQUENCE counter", "sequence public.counter"),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "function public.f"),
        ("CREATE TYPE mood AS ENUM ('ok')", "type public.mood"),
        ("CREATE DOMAIN email AS text", "type public.email"),
        ("CREATE TYPE pair AS (a int, b int)", "type public.pair"),
        ("CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a", "materialized view public.mv"),
    ],
)
def test_every_kind_of_user_object_counts_on_postgres(pg_url, demo, statement, shown):
    query(pg_url, statement)
    with Migrator(pg_url, demo) as m, pytest.raises(StateError) as info:
        m.apply(backup=False)
    assert f"already holds {shown}: " in str(info.value)


def test_objects_where_the_migrations_land_count_when_sqlmig_tables_live_elsewhere(pg_url, demo):
    query(pg_url, "CREATE TABLE accounts (id int)")
    with Migrator(pg_url, demo, schema="ops") as m, pytest.raises(StateError, match="accounts"):
        m.apply(backup=False)
    assert query(pg_url, "SELECT to_regnamespace('ops')") == [(None,)]


def test_a_sqlite_table_counts_and_the_tables_sqlite_makes_itself_do_not(sqlite_url, demo):
    query(sqlite_url, "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)")  # sqlite_sequence
    query(sqlite_url, "INSERT INTO t DEFAULT VALUES")
    with Migrator(sqlite_url, demo) as m, pytest.raises(StateError) as info:
        m.apply(backup=False)
    assert "already holds table t: " in str(info.value)  # sqlite_sequence is SQLite's
