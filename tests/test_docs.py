"""The README is the manual: every command, option, directive and exit code is in it."""

from __future__ import annotations

from typing import Any

import typer.main

from sqlmig import errors
from sqlmig.cli import app
from sqlmig.discovery import DIRECTIVES
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def commands() -> dict[str, Any]:
    group = typer.main.get_command(app)  # typer vendors its own click: no isinstance checks
    return dict(group.commands)  # type: ignore[attr-defined]


def test_every_command_and_option_is_documented():
    missing = []
    found = commands()
    assert {"status", "apply", "rollback"} <= found.keys()
    for name, cmd in found.items():
        if f"sqlmig {name}" not in README:
            missing.append(f"command {name}")
        for param in cmd.params:
            missing += [
                f"{name} {opt}" for opt in param.opts if opt.startswith("--") and opt not in README
            ]
    assert not missing, f"not in README.md: {missing}"


def test_every_directive_is_documented():
    for directive in DIRECTIVES:
        assert f"-- sqlmig: {directive}" in README


def test_exit_code_table_matches_the_code():
    codes = {
        errors.EXIT_OK,
        errors.EXIT_CHECK_FAILED,
        errors.EXIT_USAGE,
        errors.EXIT_CONNECT,
        errors.EXIT_LOCK,
        errors.EXIT_MIGRATION_FAILED,
        errors.EXIT_BACKUP,
    }
    for code in codes:
        assert f"\n| {code} |" in README, f"exit code {code} missing from the README table"


def test_version_table_definition_matches_bookkeeping():
    from sqlmig.engines.bookkeeping import HISTORY_COLUMNS, ROW_COLUMNS

    for column in ROW_COLUMNS + HISTORY_COLUMNS:
        assert f"\n    {column} " in README, (
            f"column {column} missing from the README's table definition"
        )


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    import re
    import shutil

    (block,) = re.findall(r"```python\n(from sqlmig import .*?)```", README, re.DOTALL)
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out == "applied [1, 2, 3, 4, 5]\nat version 5 ok\n"


def test_supported_versions_in_the_readme_are_the_ones_the_code_checks():
    import tomllib

    from sqlmig.engines.postgres import MIN_SERVER
    from sqlmig.engines.sqlite import MIN_SQLITE

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    python = project["requires-python"].removeprefix(">=")
    table = README[README.index("### Supported versions") :]
    assert f"| Python | {python} and newer |" in table
    assert f"| PostgreSQL server | {MIN_SERVER} and newer" in table
    assert f"| {MIN_SQLITE[0]}.{MIN_SQLITE[1]} and newer" in table


def test_the_ci_recipe_installs_sqlmig_as_the_readme_says():
    ci = (REPO / "docs" / "ci.md").read_text()
    assert "run: pip install sqlmig" in ci
    assert "| CI (GitHub Actions and the like) | `pip install sqlmig`" in README
