"""The pytest plugin as a project's QA uses it: run by pytest's own pytester, in a project
of its own (the demo set), on both engines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import sqlmig
from tests.conftest import REPO, _admin
from tests.helpers import query, tables

pytest_plugins = ["pytester"]

# Options of every inner run: in this process sqlmig was imported long before the inner
# pytest loads the plugin, so that pytest warns it cannot rewrite its asserts.
QUIET = ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning")

# What QA writes: rows put in at version 2, read back after 0003 backfilled them.
DATA_TEST = """
def test_the_backfill_keeps_what_was_there(sqlmig_db):
    assert sqlmig_db.version == 0
    sqlmig_db.to(2)
    sqlmig_db.execute("INSERT INTO plans (code, name, price_cents) VALUES ('free', 'Free', 0)")
    sqlmig_db.execute("INSERT INTO accounts (id, email) VALUES (1, ' Ada@Example.COM ')")
    sqlmig_db.apply()
    assert sqlmig_db.version == 5
    assert sqlmig_db.query("SELECT email, email_normalized FROM accounts") == [
        (" Ada@Example.COM ", "ada@example.com")
    ]
    sqlmig_db.to(3)  # back down: the index of 0004 and the rebuild of 0005 undone
    assert sqlmig_db.version == 3
    assert sqlmig_db.query("SELECT email_normalized FROM accounts") == [("ada@example.com",)]


def test_migrated_is_at_the_newest_version(migrated, sqlmig_engine):
    assert migrated.version == 5 and migrated.dialect == sqlmig_engine
    assert migrated.migrator.status().ok
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(REPO / "sql", pytester.path / "sql")
    return pytester


@pytest.fixture
def server(pg_cluster) -> str:
    return _admin(pg_cluster)


def leftovers(server: str) -> list[str]:
    return [
        r[0]
        for r in query(
            server,
            "SELECT datname FROM pg_database WHERE datname LIKE 'sqlmig\\_test\\_%' "
            "OR datname LIKE 'sqlmig\\_scratch\\_%'",
        )
    ]


def test_the_installed_distribution_registers_the_plugin(pytester):
    (found,) = [e for e in entry_points(group="pytest11") if e.name == "sqlmig"]
    assert found.value == "sqlmig.pytest_plugin" and found.dist is not None
    assert found.dist.name == "sqlmig"
    # A pytest of its own loads it from there: the module sqlmig installed, by its version.
    shown = pytester.runpytest_subprocess("-VV")
    plugin = Path(found.load().__file__)
    assert f"sqlmig-{sqlmig.__version__} at {plugin}" in shown.stdout.str() + shown.stderr.str()
    assert plugin == Path(sqlmig.__file__).parent / "pytest_plugin.py"


def test_import_sqlmig_loads_neither_pytest_nor_the_plugin():
    probe = "import sys, sqlmig; print(sorted(m for m in sys.modules if 'pytest' in m))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_fixtures_stop_at_a_version_and_go_on(project, engine, request):
    project.makepyfile(test_data=DATA_TEST)
    args = ["--sqlmig-engine", engine, *QUIET]
    if engine == "postgres":
        server = request.getfixturevalue("server")
        args += ["--sqlmig-pg-url", server]
    result = project.runpytest(*args)
    result.assert_outcomes(passed=2)
    if engine == "postgres":
        assert leftovers(server) == []  # each test's database dropped after it
    else:  # SQLite: a file in each test's tmp_path, not in the project
        assert not list(project.path.glob("*.db"))


def test_both_engines_from_the_ini_file_run_each_test_on_each(project, server, monkeypatch):
    project.makepyfile(test_data=DATA_TEST)
    project.makeini("[pytest]\nsqlmig_engines = sqlite postgres\n")
    monkeypatch.setenv("SQLMIG_PG_URL", server)
    result = project.runpytest("-v", *QUIET)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*test_the_backfill_keeps_what_was_there?sqlite? PASSED*",
            "*test_the_backfill_keeps_what_was_there?postgres? PASSED*",
        ]
    )
    assert leftovers(server) == []


def test_the_project_database_is_never_touched(project, pg_url, server):
    """sqlmig.toml names the application's database: the fixtures make their own."""
    project.makefile(".toml", sqlmig=f'database_url = "{pg_url}"\n')
    project.makepyfile(test_data=DATA_TEST)
    result = project.runpytest("--sqlmig-pg-url", server, *QUIET)
    result.assert_outcomes(passed=2)  # the engine came from the project's URL
    assert tables(pg_url) == set()


def test_postgres_without_a_server_says_how_to_name_one(project, monkeypatch):
    monkeypatch.delenv("SQLMIG_PG_URL", raising=False)
    project.makepyfile(test_data=DATA_TEST)
    project.makeini("[pytest]\nsqlmig_checks = roundtrip\n")
    result = project.runpytest("--sqlmig-engine", "postgres", *QUIET)
    result.assert_outcomes(errors=2, failed=1)
    result.stdout.fnmatch_lines(["*PostgreSQL tests need a server*--sqlmig-pg-url*SQLMIG_PG_URL*"])


def test_checks_switched_on_pass_on_a_good_set(project):
    project.makeini("[pytest]\nsqlmig_checks = roundtrip schema\n")
    project.makepyfile(test_other="def test_other():\n    pass\n")
    result = project.runpytest("-v", *QUIET)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*collected 3 items", "*sql::roundtrip?sqlite? PASSED*"])
    # Left out by marker, and when single tests are named.
    project.runpytest("-m", "not sqlmig", *QUIET).assert_outcomes(passed=1)
    named = project.runpytest("test_other.py::test_other", *QUIET)
    named.assert_outcomes(passed=1)
    project.makeini("[pytest]\n")  # switched off: no checks
    project.runpytest(*QUIET).assert_outcomes(passed=1)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_checks_name_what_is_wrong(project, engine, request):
    (project.path / "sql" / "down" / "0004_index_accounts_email_normalized.sql").write_text(
        "SELECT 1;\n"
    )
    (project.path / "sql" / "up" / "0006_notes.sql").write_text("CREATE TABLE notes (id int);\n")
    (project.path / "sql" / "down" / "0006_notes.sql").write_text("DROP TABLE notes;\n")
    args = ["--sqlmig-check", "roundtrip", "--sqlmig-check", "schema", "--sqlmig-engine", engine]
    if engine == "postgres":
        server = request.getfixturevalue("server")
        args += ["--sqlmig-pg-url", server]
    result = project.runpytest(*args, *QUIET)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            f"sqlmig roundtrip check failed on {engine}:",
            "  - 0004_index_accounts_email_normalized.sql: the down file does not undo the up "
            "file: index *accounts_email_normalized_key: in after down, not in before up",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"sqlmig schema check failed on {engine}:",
            "  - schema.sql is out of date: it is the schema at version 5, while the migrations "
            "go on to version 6 (0006_notes.sql): regenerate it*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    if engine == "postgres":
        assert leftovers(server) == []


def test_a_down_file_that_does_nothing_is_a_warning(project):
    (project.path / "sql" / "up" / "0006_fill.sql").write_text(
        "UPDATE plans SET price_cents = 0 WHERE code = 'free';\n"
    )
    (project.path / "sql" / "down" / "0006_fill.sql").write_text("-- nothing to undo\n")
    result = project.runpytest("--sqlmig-check", "roundtrip", *QUIET)
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*SqlmigWarning: 0006_fill.sql: its down file has no statements*"])


def test_unknown_settings_are_usage_errors(project):
    project.makeini("[pytest]\nsqlmig_checks = roundtrip lint\n")
    result = project.runpytest(*QUIET)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*sqlmig_checks: unknown lint; known: roundtrip, schema*"])


def test_the_readme_example_runs(project):
    import re

    readme = (REPO / "README.md").read_text()
    (example,) = re.findall(r"```python\n(# tests/test_migrations\.py\n.*?)```", readme, re.DOTALL)
    project.makepyfile(test_migrations=example)
    project.makeini("[pytest]\nsqlmig_checks = roundtrip schema\n")
    project.runpytest(*QUIET).assert_outcomes(passed=4)  # 2 tests, 2 checks


def test_every_option_ini_setting_and_fixture_is_in_the_readme(pytester):
    import re

    readme = (REPO / "README.md").read_text()
    helped = pytester.runpytest("--help", *QUIET).stdout.str()
    options = set(re.findall(r"(--sqlmig-[a-z-]+)", helped))
    settings = set(re.findall(r"^  (sqlmig_[a-z_]+) ", helped, re.MULTILINE))
    assert options == {"--sqlmig-engine", "--sqlmig-pg-url", "--sqlmig-dir", "--sqlmig-check"}
    assert settings == {"sqlmig_engines", "sqlmig_pg_url", "sqlmig_dir", "sqlmig_checks"}
    fixtures = pytester.runpytest("--fixtures", *QUIET).stdout.str()
    names = set(re.findall(r"^(sqlmig_\w+|migrated)\b", fixtures, re.MULTILINE))
    assert names == {"sqlmig_db", "migrated", "sqlmig_url", "sqlmig_engine"}
    missing = [n for n in options | settings | names if f"`{n}" not in readme]
    assert not missing, f"not in README.md: {missing}"
