"""redo and goto on a real database: apply's and rollback's plans, run by the runner."""

from __future__ import annotations

import json

import pytest

from sqlmig import Migrator
from sqlmig.errors import ConfigError, IrreversibleError, StateError
from sqlmig.models import Direction
from tests.helpers import query, tables, versions
from tests.test_cli import sqlmig
from tests.test_storedsql import three


def test_goto_goes_down_up_and_to_zero(db_url, write_migration):
    folder = three(write_migration)
    with Migrator(db_url, folder) as m:
        direction, result = m.goto(3, backup=False)
        assert direction is Direction.UP and [s.version for s in result.steps] == [1, 2, 3]
        direction, result = m.goto(1)
        assert direction is Direction.DOWN and [s.version for s in result.steps] == [3, 2]
        assert versions(db_url) == [1]
        assert m.goto(1)[1].steps == []  # there already
        assert m.plan_goto(2) == (Direction.UP, [m.migrations()[1]])
        assert [s.version for s in m.goto(0)[1].steps] == [1]
        assert m.goto(0)[1].steps == []
    assert versions(db_url) == [] and not {"a", "b", "c"} & tables(db_url)


def test_goto_refuses_what_it_cannot_reach(sqlite_url, write_migration):
    folder = three(write_migration)
    with Migrator(sqlite_url, folder) as m:
        m.apply(backup=False)
        with pytest.raises(ConfigError, match="goto 7: there is no migration with version 7"):
            m.goto(7)
        with pytest.raises(ConfigError, match="goto -1: a version is 0"):
            m.goto(-1)
        query(sqlite_url, "DELETE FROM schema_version WHERE version = 2")  # 2 pending below 3
        with pytest.raises(StateError, match="version 2 is not applied, and the database is at 3"):
            m.goto(2)
    assert versions(sqlite_url) == [1, 3]


def test_redo_runs_the_edited_up_file(db_url, write_migration):
    folder = three(write_migration)
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
    (folder / "up" / "0003_c.sql").write_text("CREATE TABLE c (x int, y int);")
    with Migrator(db_url, folder) as m:
        assert m.plan_redo().version == 3
        result = m.redo(backup=False)
        assert [(s.version, s.direction) for s in result.steps] == [
            (3, Direction.DOWN),
            (3, Direction.UP),
        ]
        assert m.status().ok
        assert m.store().stored_sql([3])[3].up == "CREATE TABLE c (x int, y int);"
    query(db_url, "INSERT INTO c (x, y) VALUES (1, 2)")  # the new column is there


@pytest.mark.parametrize(
    ("setup", "error", "match"),
    [
        ("none", StateError, "no migration is applied, so there is none to redo"),
        ("irreversible", IrreversibleError, "is marked irreversible: drops c, and redo rolls"),
        ("dirty", StateError, "version 3 \\(c\\) is dirty: it failed part-way"),
    ],
)
def test_redo_refuses_with_a_clear_error(sqlite_url, write_migration, setup, error, match):
    folder = three(write_migration)
    if setup == "irreversible":
        (folder / "down" / "0003_c.sql").write_text("-- sqlmig: irreversible drops c\n")
    with Migrator(sqlite_url, folder) as m:
        if setup != "none":
            m.apply(backup=False)
        if setup == "dirty":
            query(sqlite_url, "UPDATE schema_version SET status = 'dirty' WHERE version = 3")
        before = versions(sqlite_url)
        with pytest.raises(error, match=match):
            m.redo(backup=False)
    assert versions(sqlite_url) == before


def test_redo_and_goto_on_the_command_line(sqlite_url, write_migration, tmp_path):
    folder = three(write_migration)
    args = ("-d", sqlite_url, "--dir", str(folder))
    up = sqlmig("goto", "2", "--json", *args, cwd=tmp_path)
    doc = json.loads(up.stdout)
    assert up.returncode == 0 and doc["direction"] == "up" and len(doc["steps"]) == 2
    assert list(tmp_path.glob("backups/*")), "goto up takes apply's backup on SQLite"
    dry = sqlmig("goto", "0", "--dry-run", *args, cwd=tmp_path)
    assert dry.returncode == 0 and "DROP TABLE b;" in dry.stdout and "DROP TABLE a;" in dry.stdout
    assert versions(sqlite_url) == [1, 2]
    dry = sqlmig("redo", "--dry-run", *args, cwd=tmp_path)
    assert dry.stdout.index("DROP TABLE b;") < dry.stdout.index("CREATE TABLE b")
    redo = sqlmig("redo", "--no-backup", *args, cwd=tmp_path)
    assert redo.returncode == 0 and "redid 2 (b): rolled back and applied again" in redo.stdout
    doc = json.loads(sqlmig("redo", "--json", "--no-backup", *args, cwd=tmp_path).stdout)
    assert doc["direction"] == "redo" and [s["direction"] for s in doc["steps"]] == ["down", "up"]
    # Down more than one migration: asked as rollback asks, so without a terminal --yes.
    refused = sqlmig("goto", "0", *args, cwd=tmp_path)
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert versions(sqlite_url) == [1, 2]
    down = sqlmig("goto", "0", "--yes", *args, cwd=tmp_path)
    assert down.returncode == 0 and versions(sqlite_url) == []
    assert "backup before rolling back: " in down.stdout, "goto down takes rollback's backup"
    bad = sqlmig("redo", *args, cwd=tmp_path)
    assert bad.returncode == 1 and "none to redo" in bad.stderr
