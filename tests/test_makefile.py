"""The Makefile's CI targets, run the way a pipeline runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.helpers import versions


def make(target: str, db_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHON": sys.executable}
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(REPO / "Makefile"), target],
        check=False,  # the failing runs are part of the test
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ci_targets_migrate_verify_and_catch_an_edited_file(db_url, tmp_path):
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")

    # Nothing applied yet: the pull-request check needs no database at any version.
    check = make("ci-check", db_url, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "the result matches schema.sql" in check.stdout
    if db_url.startswith("sqlite"):  # not even made: every check ran in a scratch database
        assert not (tmp_path / "app.db").exists()
    else:
        assert versions(db_url) == []

    deploy = make("ci-migrate", db_url, tmp_path)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "schema matches schema.sql" in deploy.stdout
    assert versions(db_url) == [1, 2, 3, 4, 5]
    assert list((tmp_path / "backups").iterdir())

    check = make("ci-check", db_url, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "round trip ok" in check.stdout

    with (tmp_path / "sql" / "up" / "0002_add_accounts_email_normalized.sql").open("a") as f:
        f.write("\n-- edited after it was applied\n")
    check = make("ci-check", db_url, tmp_path)
    output = check.stdout + check.stderr
    assert check.returncode != 0 and "0002" in output and "ci-check] Error 1" in output
    assert "edited since applied" in output


NOTES = (
    "CREATE TABLE notes (\n    id INTEGER PRIMARY KEY,\n"
    "    account_id INTEGER NOT NULL REFERENCES accounts (id),\n    body TEXT NOT NULL\n);\n"
)


def test_a_pull_request_that_adds_a_migration_passes_ci_check(db_url, tmp_path):
    """The flow of a pull request: the shared database is at version 5 with a matching
    schema.sql; the branch adds 0006 and regenerates schema.sql from the migrations."""
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    assert make("ci-migrate", db_url, tmp_path).returncode == 0
    assert make("schema", db_url, tmp_path).returncode == 0  # the project's own dump at 5
    assert make("ci-check", db_url, tmp_path).returncode == 0

    # The branch: a new migration, schema.sql left as it was.
    (tmp_path / "sql" / "up" / "0006_add_notes.sql").write_text(NOTES)
    (tmp_path / "sql" / "down" / "0006_add_notes.sql").write_text("DROP TABLE notes;\n")
    stale = make("ci-check", db_url, tmp_path)
    assert stale.returncode != 0, stale.stdout
    assert (
        "schema.sql is out of date: it is the schema at version 5, while the migrations go on "
        "to version 6 (0006_add_notes.sql): regenerate it from the migrations with `sqlmig "
        "dump --from-migrations` (`make schema`) and commit it"
    ) in stale.stdout
    assert "table notes: in migrations, not in schema.sql" in stale.stdout

    # The fix the message names, made without a migrated database.
    regenerated = make("schema", db_url, tmp_path)
    assert regenerated.returncode == 0, regenerated.stderr
    assert "CREATE TABLE notes" in (tmp_path / "sql" / "schema.sql").read_text()
    check = make("ci-check", db_url, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "6 migration(s) up, down and up again; the result matches schema.sql" in check.stdout
    assert versions(db_url) == [1, 2, 3, 4, 5]  # the shared database is still at 5

    # The deploy-side check on the shared database, before and after the deploy.
    env = {**os.environ, "DATABASE_URL": db_url}
    drift = subprocess.run(
        [sys.executable, "-m", "sqlmig", "diff"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert drift.returncode == 0, drift.stdout + drift.stderr
    assert "schema matches what the migrations build up to version 5" in drift.stdout
    assert "1 migration(s) pending (6)" in drift.stdout
    deploy = make("ci-migrate", db_url, tmp_path)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "schema matches schema.sql" in deploy.stdout and versions(db_url)[-1] == 6


def _fake_python(tmp_path: Path, *, old: bool = False) -> Path:
    """A python3 like Debian's before `apt-get install python3-venv` (or one too old)."""
    fake = tmp_path / "fake-python3"
    fake.write_text(
        "#!/bin/sh\n"
        + ("exit 1\n" if old else "")
        + 'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then\n'
        '  mkdir -p "$3/bin"  # what Debian\'s does: a half-made folder, then the error\n'
        "  echo 'The virtual environment was not created successfully because ensurepip is not available.' >&2\n"
        "  exit 1\nfi\n"
        f'exec {sys.executable} "$@"\n'
    )
    fake.chmod(0o755)
    return fake


def test_install_without_a_venv_module_says_what_to_install(tmp_path):
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    env = {**os.environ, "SYSTEM_PYTHON": str(_fake_python(tmp_path))}
    done = subprocess.run(
        ["make", "--no-print-directory", "install"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "sudo apt-get install python3-venv" in done.stderr
    assert not (tmp_path / ".venv").exists()  # no half-made environment to trip the next run
    env["SYSTEM_PYTHON"] = str(_fake_python(tmp_path, old=True))
    done = subprocess.run(
        ["make", "--no-print-directory", "install"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "needs Python 3.11 or newer" in done.stderr
