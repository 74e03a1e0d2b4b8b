"""The pull-request side of the workflow, where the branch's migrations are applied
nowhere yet: schema.sql built from the migrations, the round trip naming a schema.sql
left behind, and `diff` of a database that migrations are still pending for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sqlmig import Migrator, StatementError, ValidationError
from sqlmig.models import Migration, SqlFile
from sqlmig.schema import Baseline
from sqlmig.schema.roundtrip import baseline_problems
from tests.conftest import REPO
from tests.helpers import query, tables
from tests.test_cli import sqlmig
from tests.test_schema import scratch_databases


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    return tmp_path / "sql"


def test_dump_from_migrations_is_the_dump_of_the_migrated_database(db_url, demo, tmp_path):
    with Migrator(db_url, demo) as m:
        built = m.dump(tmp_path / "built.sql", from_migrations=True)
        if db_url.startswith("sqlite"):  # the configured database was not even made
            assert not (tmp_path / "app.db").exists()
        else:
            assert tables(db_url) == set() and scratch_databases(db_url) == []
        m.apply(backup=False)
        live = m.dump()
    assert built.text == live.text and "CREATE TABLE" in built.text
    assert (tmp_path / "built.sql").read_text() == live.text


def test_cli_dump_from_migrations_writes_schema_sql(demo, tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    (demo / "schema.sql").unlink()
    done = sqlmig("dump", "--from-migrations", "-d", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"wrote {demo / 'schema.sql'}" in done.stderr.replace("\n", "")
    assert "CREATE UNIQUE INDEX accounts_email_normalized" in (demo / "schema.sql").read_text()
    out = sqlmig("dump", "--from-migrations", "-o", "-", "-d", url, cwd=tmp_path)
    assert out.stdout == (demo / "schema.sql").read_text()
    assert not (tmp_path / "app.db").exists()
    assert sqlmig("test", "-d", url, cwd=tmp_path).returncode == 0  # the file it wrote passes


def test_dump_from_migrations_names_the_file_that_fails(db_url, write_migration, tmp_path):
    folder = write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    write_migration(2, "bad", "ALTER TABLE t ADD COLUMN b int;\nALTER TABLE nope ADD c int;")
    (folder / "schema.sql").write_text("-- kept\n")
    with Migrator(db_url, folder) as m, pytest.raises(StatementError) as info:
        m.dump(folder / "schema.sql", from_migrations=True)
    assert info.value.path.name == "0002_bad.sql" and info.value.line == 2
    assert "configured database was not touched" in str(info.value)
    assert (folder / "schema.sql").read_text() == "-- kept\n"
    if db_url.startswith("postgres"):
        assert scratch_databases(db_url) == []


def test_diff_with_migrations_pending_compares_at_the_database_version(db_url, demo, tmp_path):
    with Migrator(db_url, demo) as m:
        m.apply(3, backup=False)
        behind = m.diff()
        assert behind == [] and behind.version == 3 and behind.pending == [4, 5]
        assert "2 migration(s) pending (4, 5)" in behind.notes[0]
        assert m.diff(demo / "schema.sql") != []  # schema.sql is version 5's
    query(db_url, "CREATE TABLE extra (a int)")
    out = sqlmig("diff", "-d", db_url, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "schema drift: " in out.stdout
    assert "from what the migrations build up to version 3" in out.stdout
    assert "extra: in database, not in what the migrations build up to version 3" in out.stdout
    doc = json.loads(sqlmig("diff", "--json", "-d", db_url, cwd=tmp_path).stdout)
    assert doc["ok"] is False and doc["version"] == 3 and doc["pending"] == [4, 5]
    assert doc["compared_with"] == "what the migrations build up to version 3"
    assert any(d["object"] == "table extra" for d in doc["differences"])
    if db_url.startswith("postgres"):
        assert scratch_databases(db_url) == []


def test_diff_at_the_newest_version_still_compares_with_schema_sql(sqlite_url, demo, tmp_path):
    with Migrator(sqlite_url, demo) as m:
        m.apply(backup=False)
    out = sqlmig("diff", "--json", "-d", sqlite_url, cwd=tmp_path)
    doc = json.loads(out.stdout)
    assert out.returncode == 0 and doc["compared_with"] == "schema.sql"
    assert doc["version"] is None and doc["pending"] == [] and doc["differences"] == []
    assert "schema matches schema.sql" in sqlmig("diff", "-d", sqlite_url, cwd=tmp_path).stdout


def test_diff_of_a_database_with_a_dirty_version_says_what_shows(sqlite_url, demo):
    (demo / "up" / "0003_backfill_email_normalized.sql").write_text(
        "-- sqlmig: no-transaction\nCREATE TABLE half (a int);\nSELECT * FROM nope;\n"
    )
    with Migrator(sqlite_url, demo) as m:
        with pytest.raises(StatementError):
            m.apply(backup=False)
        drift = m.diff()
    assert drift.version == 2 and drift.pending == [4, 5]
    assert drift == [
        "column half.a: in database, not in what the migrations build up to version 2",
        "table half: in database, not in what the migrations build up to version 2",
    ]
    assert any("version 3 (backfill_email_normalized) is dirty" in n for n in drift.notes)


def test_diff_cannot_build_a_version_whose_files_are_missing(sqlite_url, demo):
    with Migrator(sqlite_url, demo) as m:
        m.apply(4, backup=False)
    for sub in ("up", "down"):
        (demo / sub / "0004_index_accounts_email_normalized.sql").unlink()
    with Migrator(sqlite_url, demo) as m, pytest.raises(ValidationError) as info:
        m.diff()
    assert "version 4 (index_accounts_email_normalized) is applied but its files are missing" in (
        str(info.value)
    )
    assert "--baseline FILE" in str(info.value)


def test_diff_of_a_database_sqlmig_never_migrated_compares_with_schema_sql(sqlite_url, demo):
    query(sqlite_url, "CREATE TABLE by_hand (a int)")
    with Migrator(sqlite_url, demo) as m:
        drift = m.diff()
    assert drift.compared_with == "schema.sql" and drift.version is None
    assert "table by_hand: in database, not in schema.sql" in drift


def test_the_round_trip_flags_a_down_file_that_does_nothing(db_url, write_migration, tmp_path):
    write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    folder = write_migration(2, "fill", "INSERT INTO t VALUES (1);", "-- nothing to undo\n")
    out = sqlmig("test", "-d", db_url, "--dir", str(folder), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr  # a warning, not a failure
    assert (
        "warning: 0002_fill.sql: its down file has no statements, so a rollback undoes "
        "nothing: write it, or say why in its header with '-- sqlmig: empty <reason>'"
    ) in out.stdout.replace("\n", " ").replace("  ", " ")
    doc = json.loads(
        sqlmig("test", "--json", "-d", db_url, "--dir", str(folder), cwd=tmp_path).stdout
    )
    assert doc["ok"] is True and [w.split(":")[0] for w in doc["warnings"]] == ["0002_fill.sql"]
    write_migration(2, "fill", "INSERT INTO t VALUES (1);", "-- sqlmig: empty rows may stay\n")
    with Migrator(db_url, folder) as m:
        assert m.test_roundtrip().warnings == []


def test_rollback_of_a_down_file_without_statements_says_it_undid_nothing(
    sqlite_url, write_migration, tmp_path
):
    write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    folder = write_migration(2, "fill", "INSERT INTO t VALUES (1);", "-- nothing\n")
    assert sqlmig("apply", "-d", sqlite_url, "--dir", str(folder), cwd=tmp_path).returncode == 0
    out = sqlmig("rollback", "-d", sqlite_url, "--dir", str(folder), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (
        "note: rolling back 2 (fill) undid nothing: its down file has no statements; only its "
        "version row was removed."
    ) in out.stdout
    assert query(sqlite_url, "SELECT a FROM t") == [(1,)]
    again = sqlmig("rollback", "-d", sqlite_url, "--dir", str(folder), cwd=tmp_path)
    assert "undid nothing" not in again.stdout  # 0001's down file ran a statement


def pair(v: int) -> Migration:
    up, down = (
        SqlFile(Path(f"up/{v:04d}_m.sql"), "", ""),
        SqlFile(Path(f"down/{v:04d}_m.sql"), "", ""),
    )
    return Migration(v, "m", up, down)


@pytest.mark.parametrize(
    ("matched", "verdict"),
    [
        (None, "schema.sql is not the schema the migrations build, at any version"),
        (
            0,
            "schema.sql is out of date: it is the schema at no migration at all (an empty database)",
        ),
        (
            2,
            "schema.sql is out of date: it is the schema at version 2, while the migrations go on to version 3 (0003_m.sql)",
        ),
    ],
)
def test_what_a_schema_sql_that_differs_is_said_to_be(matched, verdict):
    built = {"table t": {"definition": "t"}}
    base = Baseline({}, [])
    lines = baseline_problems(built, base, "schema.sql", matched, [pair(1), pair(2), pair(3)])
    assert lines[0].startswith(verdict) and "`sqlmig dump --from-migrations`" in lines[0]
    assert lines[1:] == ["after all migrations: table t: in migrations, not in schema.sql"]
    assert baseline_problems(built, Baseline(built, []), "schema.sql", 3, [pair(3)]) == []
