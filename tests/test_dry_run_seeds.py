"""`seed --dry-run`, and the seeds in `apply --dry-run --seed`: the SQL that would run,
in order, and nothing changed."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import query, snapshot, tables
from tests.test_cli import sqlmig
from tests.test_fleet import sqlite_fleet


def project(write_migration, tmp_path: Path) -> Path:
    write_migration(1, "plans", "CREATE TABLE plans (code text PRIMARY KEY, name text);")
    write_migration(2, "notes", "CREATE TABLE notes (body text);")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "01_plans.sql").write_text(
        "-- reference plans\nINSERT INTO plans VALUES ('free', :'free_name')\n"
        "ON CONFLICT (code) DO UPDATE SET name = excluded.name;\n"
    )
    (seeds / "02_notes.sql").write_text("INSERT INTO notes VALUES ('hello');\n")
    (tmp_path / "sqlmig.toml").write_text('[vars]\nfree_name = "Free"\n')
    return tmp_path


def test_seed_dry_run_shows_the_new_and_changed_seeds_and_changes_nothing(
    db_url, write_migration, tmp_path
):
    cwd = project(write_migration, tmp_path)
    assert sqlmig("apply", "--no-backup", "-d", db_url, cwd=cwd).returncode == 0
    first = sqlmig("seed", "--dry-run", "-d", db_url, cwd=cwd)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert f"-- {cwd / 'seeds' / '01_plans.sql'} (seed, pending, one transaction)" in out
    assert "-- 01_plans.sql:2\nINSERT INTO plans VALUES ('free', 'Free')" in out  # vars bound
    assert out.index("01_plans.sql") < out.index("02_notes.sql")
    assert "-- sqlmig: record 02_notes.sql in schema_version_seeds" in out
    assert out.count("BEGIN;") == 2 == out.count("COMMIT;")
    assert query(db_url, "SELECT count(*) FROM schema_version_seeds") == [(0,)]
    assert query(db_url, "SELECT count(*) FROM plans") == [(0,)]

    assert sqlmig("seed", "-d", db_url, cwd=cwd).returncode == 0
    (cwd / "seeds" / "02_notes.sql").write_text("INSERT INTO notes VALUES ('again');\n")
    before = snapshot(db_url)
    second = sqlmig("seed", "--dry-run", "-d", db_url, cwd=cwd)
    assert "02_notes.sql (seed, changed, one transaction)" in second.stdout
    assert "01_plans.sql" not in second.stdout  # applied and unchanged: it would not run
    assert snapshot(db_url) == before
    (cwd / "seeds" / "02_notes.sql").write_text("INSERT INTO notes VALUES ('hello');\n")
    again = sqlmig("seed", "--dry-run", "-d", db_url, cwd=cwd)
    assert again.stdout == "-- seeds: nothing to do\n"


def test_apply_dry_run_with_seed_shows_the_seeds_after_the_migrations(
    db_url, write_migration, tmp_path
):
    cwd = project(write_migration, tmp_path)
    done = sqlmig("apply", "--dry-run", "--seed", "-d", db_url, cwd=cwd)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    order = ["0001_plans.sql", "0002_notes.sql", "01_plans.sql", "02_notes.sql"]
    assert [out.index(f"-- {name}:") for name in order] == sorted(
        out.index(f"-- {name}:") for name in order
    )
    assert "COMMIT;\n\n-- " + str(cwd / "seeds" / "01_plans.sql") in out
    assert not {"plans", "notes", "schema_version"} & tables(db_url)
    without = sqlmig("apply", "--dry-run", "-d", db_url, cwd=cwd).stdout
    assert "(seed," not in without and out.startswith(without)

    assert sqlmig("apply", "--seed", "--no-backup", "-d", db_url, cwd=cwd).returncode == 0
    (cwd / "seeds" / "02_notes.sql").write_text("INSERT INTO notes VALUES ('again');\n")
    seeds_only = sqlmig("apply", "--dry-run", "--seed", "-d", db_url, cwd=cwd).stdout
    assert seeds_only.startswith("-- migrations: nothing to do\n\n-- ")
    assert "02_notes.sql (seed, changed" in seeds_only and "01_plans.sql" not in seeds_only


def test_a_seed_dry_run_refuses_an_unreadable_seed_before_connecting(sqlite_url, tmp_path):
    (tmp_path / "sql" / "up").mkdir(parents=True)
    (tmp_path / "sql" / "down").mkdir()
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "bad.sql").write_bytes(b"INSERT INTO t VALUES ('\xff');\n")
    done = sqlmig("seed", "--dry-run", "-d", sqlite_url, cwd=tmp_path)
    assert done.returncode != 0 and "bad.sql" in done.stderr
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_a_fleet_dry_run_with_seed_shows_each_target_its_seeds(tmp_path):
    sqlite_fleet(tmp_path, 2)
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "flags.sql").write_text("INSERT INTO t1 (id) VALUES (100);\n")
    done = sqlmig("apply", "--dry-run", "--seed", "--all-targets", "--to", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("flags.sql (seed, pending, one transaction)") == 2
    assert done.stdout.index("-- target files/f02") < done.stdout.rindex("flags.sql (seed")
    assert not (tmp_path / "db" / "f01.db").exists()
