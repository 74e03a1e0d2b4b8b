"""A rollback of several migrations is confirmed first (on a terminal, or with --yes),
and a rollback takes a backup first as apply does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sqlmig import Migrator
from sqlmig.errors import StateError
from tests.helpers import versions
from tests.terminal import on_terminal


def three(write_migration) -> Path:
    for v, name in ((1, "a"), (2, "b"), (3, "c")):
        folder = write_migration(v, name, f"CREATE TABLE {name} (x int);", f"DROP TABLE {name};")
    return folder


def piped(*args: str, cwd: Path, answer: str = "") -> subprocess.CompletedProcess[str]:
    """`sqlmig ARGS` as CI runs it: no terminal anywhere, ``answer`` piped into stdin."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "sqlmig", *args],
        cwd=cwd,
        env={**env, "COLUMNS": "200"},
        input=answer,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def migrated(db_url, write_migration) -> tuple[str, Path]:
    cwd = three(write_migration).parent
    done = piped("apply", "--no-backup", "-d", db_url, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return db_url, cwd


def test_without_a_terminal_rolling_back_several_needs_yes(migrated):
    url, cwd = migrated
    for args, answer in ((["2"], ""), (["--to", "0"], "y\n"), (["2", "--json"], "")):
        refused = piped("rollback", *args, "--no-backup", "-d", url, cwd=cwd, answer=answer)
        assert refused.returncode == 2, (args, refused.stderr)
        assert "needs confirmation and there is no terminal to ask on: pass --yes" in (
            refused.stderr
        )
        assert versions(url) == [1, 2, 3]  # a piped "y" is no decision either
    assert "--yes" in json.dumps(json.loads(refused.stdout))  # --json: still one document
    assert piped("rollback", "2", "--dry-run", "-d", url, cwd=cwd).returncode == 0
    done = piped("rollback", "2", "--yes", "--no-backup", "-d", url, cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert versions(url) == [1]


def test_rolling_back_one_never_asks(migrated):
    url, cwd = migrated
    assert piped("rollback", "--no-backup", "-d", url, cwd=cwd).returncode == 0
    assert piped("rollback", "1", "--no-backup", "-d", url, cwd=cwd).returncode == 0
    # --to that reaches one migration: one is not "more than one"
    assert piped("rollback", "--to", "0", "--no-backup", "-d", url, cwd=cwd).returncode == 0
    assert versions(url) == []
    code, shown = on_terminal("rollback", "-d", url, cwd=cwd)
    assert code == 0 and "Nothing to do" in shown and "[y/N]" not in shown


def test_on_a_terminal_the_question_names_what_goes_and_no_keeps_it(migrated):
    url, cwd = migrated
    code, shown = on_terminal("rollback", "2", "--no-backup", "-d", url, cwd=cwd, answer="n")
    assert code == 1, shown
    assert "Roll back 2 migrations on " in shown and ": 3 (c), 2 (b)?" in shown
    assert "rollback cancelled; nothing was changed." in shown
    assert versions(url) == [1, 2, 3]
    code, shown = on_terminal(
        "rollback", "--to", "0", "--no-backup", "-d", url, cwd=cwd, answer="y"
    )
    assert code == 0, shown
    assert "3 (c), 2 (b), 1 (a)?" in shown and "rolled back 3 migration(s)" in shown
    assert versions(url) == []


def test_on_a_terminal_rollback_1_runs_without_a_question(migrated):
    url, cwd = migrated
    code, shown = on_terminal("rollback", "1", "--no-backup", "-d", url, cwd=cwd)
    assert code == 0 and "[y/N]" not in shown and versions(url) == [1, 2]


def test_restore_asks_on_a_terminal_and_needs_yes_elsewhere(sqlite_url, write_migration):
    cwd = three(write_migration).parent
    assert piped("apply", "--to", "1", "-d", sqlite_url, cwd=cwd).returncode == 0
    taken = str(next((cwd / "backups").glob("*.sqlite")))
    assert piped("apply", "-d", sqlite_url, cwd=cwd).returncode == 0
    refused = piped("restore", taken, "-d", sqlite_url, cwd=cwd, answer="y\n")
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    code, shown = on_terminal("restore", taken, "-d", sqlite_url, cwd=cwd, answer="n")
    assert code == 1 and "restore cancelled; nothing was changed." in shown
    assert versions(sqlite_url) == [1, 2, 3]
    code, shown = on_terminal("restore", taken, "-d", sqlite_url, cwd=cwd, answer="y")
    assert code == 0, shown
    assert versions(sqlite_url) == []


def test_a_confirmed_rollback_undoes_only_what_was_confirmed(db_url, write_migration):
    folder = three(write_migration)
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
        # Someone agreed to undo 3 and 2; meanwhile the database moved on (here: 3 was
        # already rolled back by another runner), so rollback 2 would now undo 2 and 1.
        m.rollback(1, backup=False)
        with pytest.raises(StateError, match="would now undo 2, 1, not 3, 2; nothing was"):
            m.rollback(2, backup=False, expected=[3, 2])
    assert versions(db_url) == [1, 2]


def test_rollback_takes_a_backup_on_sqlite_and_says_where(sqlite_url, write_migration):
    cwd = three(write_migration).parent
    assert piped("apply", "--no-backup", "-d", sqlite_url, cwd=cwd).returncode == 0
    done = piped("rollback", "-d", sqlite_url, cwd=cwd)
    assert done.returncode == 0, done.stderr
    taken = list((Path(sqlite_url.removeprefix("sqlite:///")).parent / "backups").glob("*.sqlite"))
    assert len(taken) == 1 and "-v0003-" in taken[0].name  # the database before the rollback
    assert f"backup before rolling back: {taken[0]}" in done.stdout
    manifest = json.loads(Path(f"{taken[0]}.json").read_text())
    assert manifest["taken_by"] == "rollback"
    as_json = piped("rollback", "--json", "-d", sqlite_url, cwd=cwd)
    assert as_json.returncode == 0 and "backup before rolling back:" in as_json.stderr
    assert json.loads(as_json.stdout)["backup"]["path"].endswith(".sqlite")
    assert piped("rollback", "--no-backup", "-d", sqlite_url, cwd=cwd).returncode == 0
    assert len(list(taken[0].parent.glob("*.sqlite"))) == 2 and versions(sqlite_url) == []


def test_a_failed_rollback_names_its_backup(sqlite_url, write_migration):
    folder = three(write_migration)
    (folder / "down" / "0003_c.sql").write_text("DROP TABLE nosuch;\n")
    cwd = folder.parent
    assert piped("apply", "--no-backup", "-d", sqlite_url, cwd=cwd).returncode == 0
    failed = piped("rollback", "-d", sqlite_url, cwd=cwd)
    assert failed.returncode == 5
    assert "backup taken before the first migration: " in failed.stderr
    assert versions(sqlite_url) == [1, 2, 3]


def test_postgres_rolls_back_without_a_backup_unless_asked(pg_url, write_migration, tmp_path):
    folder = three(write_migration)
    with Migrator(pg_url, folder, backup_dir=tmp_path / "b") as m:
        m.apply()
        plain = m.rollback()
        assert plain.backup is None and not (tmp_path / "b").exists()
        asked = m.rollback(backup=True)
        assert asked.backup is not None and asked.backup.path.suffix == ".pgdump"
        assert asked.backup.version == 2 and asked.backup.taken_by == "rollback"
        nothing = m.rollback(to=1, backup=True)  # nothing to undo: no backup either
        assert nothing.backup is None and not nothing.steps
    assert versions(pg_url) == [1]


def test_a_fleet_rollback_of_several_needs_yes_without_a_terminal(tmp_path):
    from tests.test_fleet import sqlite_fleet

    urls = sqlite_fleet(tmp_path, 2)
    assert piped("apply", "--all-targets", "--no-backup", cwd=tmp_path).returncode == 0
    refused = piped("rollback", "--to", "8", "--all-targets", cwd=tmp_path)
    assert refused.returncode == 2 and "on the chosen targets needs confirmation" in refused.stderr
    assert all(versions(u) == list(range(1, 11)) for u in urls)
    assert piped("rollback", "--all-targets", "--no-backup", cwd=tmp_path).returncode == 0
    done = piped("rollback", "2", "--all-targets", "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert all(versions(u) == list(range(1, 8)) for u in urls)
    # SQLite targets: a backup each before rolling back, next to their files.
    assert len(list((tmp_path / "db" / "backups").glob("*-v0009-*.sqlite"))) == 2
