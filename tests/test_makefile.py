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

    check = make("ci-check", db_url, tmp_path)  # nothing applied yet
    if db_url.startswith("sqlite"):  # not even a file: a mistyped path must not pass as drift
        assert check.returncode != 0 and "no database at" in check.stderr
    else:
        assert check.returncode != 0 and "schema drift" in check.stdout

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
