"""`sqlmig lint` as users run it: a real process, a real git repository, real databases."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sqlmig.lint import RULES
from tests.conftest import REPO
from tests.lint_helpers import PG_BASE, write_set
from tests.test_cli import sqlmig

PG = ["-d", "postgresql://lint@nowhere.invalid/app"]  # never connected to without --pending


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_set(tmp_path / "sql", [PG_BASE, "CREATE INDEX t_a ON t (a);"])
    return tmp_path


def test_exit_codes_and_output(project):
    bad = sqlmig("lint", *PG, cwd=project)
    assert bad.returncode == 1, bad.stderr
    assert bad.stdout.startswith("sql/up/0002_m2.sql:1:1: index-not-concurrent warning: ")
    clean = sqlmig("lint", *PG, "sql/up/0001_m1.sql", "sql/down/0002_m2.sql", cwd=project)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout == "lint ok: 2 file(s), no findings.\n"


def test_formats(project):
    data = json.loads(sqlmig("lint", *PG, "--json", cwd=project).stdout)
    assert data["findings"][0]["rule"] == "index-not-concurrent"
    assert data == json.loads(sqlmig("lint", *PG, "--format", "json", cwd=project).stdout)
    github = sqlmig("lint", *PG, "--format", "github", cwd=project)
    assert github.returncode == 1
    assert github.stdout.startswith("::warning file=sql/up/0002_m2.sql,line=1,col=1,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "sarif"], "--format 'sarif': use one of text, json, github"),
        (["sql/up/9999_none.sql"], "no such file"),
        (["README.md"], "is not a migration file of"),
    ],
)
def test_usage_errors_exit_2(project, args, message):
    (project / "README.md").write_text("x")
    done = sqlmig("lint", *PG, *args, cwd=project)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_an_unknown_rule_in_the_settings_exits_2(project):
    (project / "sqlmig.toml").write_text('[lint_rules]\n"no-such-rule" = "off"\n')
    done = sqlmig("lint", *PG, cwd=project)
    assert done.returncode == 2 and "unknown rule 'no-such-rule'" in done.stderr


def test_a_malformed_set_is_refused_as_elsewhere(project):
    (project / "sql" / "down" / "0002_m2.sql").unlink()
    done = sqlmig("lint", *PG, cwd=project)
    assert done.returncode == 1 and "up file has no down file" in done.stderr


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_since_lints_what_changed_since_a_git_ref(project):
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "history")
    # History: not linted. New work: an added (untracked) migration whose index is on a table
    # the same new batch creates (silent), and an edit to an old down file (linted).
    write_set(
        project / "sql",
        [
            PG_BASE,
            "CREATE INDEX t_a ON t (a);",
            "CREATE TABLE q (id int);",
            "CREATE INDEX q_id ON q (id);\nALTER TABLE t DROP COLUMN b;",
        ],
    )
    (project / "sql" / "down" / "0001_m1.sql").write_text("DROP TABLE k;\n")
    done = sqlmig("lint", *PG, "--since", "main", cwd=project)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith(" ")]
    assert lines == [
        "sql/up/0004_m4.sql:2:1: drop-column warning: drops column t.b",
        "lint: 0 error(s) and 1 warning(s) in 1 of 5 file(s).",
    ]  # 0001's down drops what 0001 created: fine
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "new work")
    quiet = sqlmig("lint", *PG, "--since", "HEAD", cwd=project)
    assert quiet.returncode == 0 and "0 file(s)" in quiet.stdout


def test_since_usage_errors(project):
    outside = sqlmig("lint", *PG, "--since", "main", cwd=project)
    assert outside.returncode == 2 and "--since" in outside.stderr
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "one")
    unknown = sqlmig("lint", *PG, "--since", "no-such-branch", cwd=project)
    assert unknown.returncode == 2 and "no such commit, branch or tag" in unknown.stderr


def test_pending_on_a_real_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    write_set(
        tmp_path / "sql",
        [
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);",
            "ALTER TABLE t DROP COLUMN a;",
        ],
    )
    assert sqlmig("apply", "-d", url, "--to", "1", cwd=tmp_path).returncode == 0
    done = sqlmig("lint", "-d", url, "--pending", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[0].startswith("sql/up/0002_m2.sql:1:1: drop-column warning")
    assert "1 of 1 file(s)" in done.stdout  # the applied 0001, and down files, are out of scope
    sqlmig("apply", "-d", url, cwd=tmp_path)
    assert sqlmig("lint", "-d", url, "--pending", cwd=tmp_path).stdout == (
        "lint ok: 0 file(s), no findings.\n"
    )


def test_pending_on_postgresql_uses_the_servers_version(pg_url, tmp_path):
    (tmp_path / "sqlmig.toml").write_text("pg_version = 11\n")  # what lint assumes without a server
    write_set(
        tmp_path / "sql", ["CREATE TYPE mood AS ENUM ('a');", "ALTER TYPE mood ADD VALUE 'b';"]
    )
    offline = sqlmig("lint", "-d", pg_url, cwd=tmp_path)
    assert offline.returncode == 1 and "needs-no-transaction" in offline.stdout
    assert sqlmig("apply", "-d", pg_url, "--to", "1", cwd=tmp_path).returncode == 0
    online = sqlmig("lint", "-d", pg_url, "--pending", cwd=tmp_path)  # the test server is 13+
    assert online.returncode == 0, online.stdout + online.stderr
    assert online.stdout == "lint ok: 1 file(s), no findings.\n"


def test_pending_refuses_what_apply_would_refuse(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    write_set(tmp_path / "sql", ["CREATE TABLE t (id INTEGER);"])
    sqlmig("apply", "-d", url, cwd=tmp_path)
    (tmp_path / "sql" / "up" / "0001_m1.sql").write_text("CREATE TABLE t (id INTEGER, x TEXT);")
    done = sqlmig("lint", "-d", url, "--pending", cwd=tmp_path)
    assert done.returncode == 1 and "edited since applied" in done.stderr


def test_the_demo_set_passes_lint_on_both_engines(tmp_path):
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    for url in ("sqlite:///demo.db", "postgresql://demo@nowhere.invalid/demo"):
        done = sqlmig("lint", "-d", url, cwd=tmp_path)
        assert done.returncode == 0, done.stdout
        assert done.stdout == "lint ok: 10 file(s), no findings.\n"


def test_sqlmig_start_up_does_not_import_pglast():
    code = (
        "import sys, sqlmig.cli, sqlmig.lint, sqlmig.lint.engine, sqlmig.sqlkind; "
        "print('pglast' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_every_rule_is_in_the_readme_with_its_severity():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### `sqlmig lint") :]
    section = section[: section.index("\n## ")]
    listed = dict(re.findall(r"^\| `([a-z-]+)` \| (error|warning) \|", section, re.MULTILINE))
    assert listed == {rule.id: rule.severity for rule in RULES.values()}
    assert "-- sqlmig: allow" in readme[readme.index("### Directives") :]


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_lint_pending_is_what_validate_and_apply_can_call(engine, request, tmp_path):
    from sqlmig import Migrator
    from sqlmig.lint import lint_pending

    url = request.getfixturevalue("sqlite_url" if engine == "sqlite" else "pg_url")
    folder = write_set(
        tmp_path / "sql",
        [
            "CREATE TABLE t (id integer PRIMARY KEY, a text);",
            "CREATE TABLE q (id integer, v text);",
            "CREATE INDEX q_v ON q (v);\nALTER TABLE t RENAME COLUMN a TO b;",
        ],
    )
    with Migrator(url, folder) as migrator:
        migrator.apply(1)
        found = lint_pending(migrator)
        # q is created by the same pending batch: its index is not reported.
        assert [(f.path.name, f.rule) for f in found] == [("0003_m3.sql", "rename-column")]
        migrator.apply()
        assert lint_pending(migrator) == []


def test_validate_shows_lint_warnings_and_apply_lint_refuses_on_them(tmp_path, pg_url):
    from tests.test_cli import sqlmig

    folder = tmp_path / "sql"
    for sub in ("up", "down"):
        (folder / sub).mkdir(parents=True)
    (folder / "up" / "0001_t.sql").write_text("CREATE TABLE t (a int);\n")
    (folder / "down" / "0001_t.sql").write_text("DROP TABLE t;\n")
    assert sqlmig("apply", "-d", pg_url, cwd=tmp_path).returncode == 0
    (folder / "up" / "0002_idx.sql").write_text("CREATE INDEX t_a ON t (a);\n")
    (folder / "down" / "0002_idx.sql").write_text("DROP INDEX t_a;\n")
    checked = sqlmig("validate", "-d", pg_url, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr  # a warning, not a problem
    assert "0002_idx.sql:1:1: index-not-concurrent warning" in checked.stdout
    doc = json.loads(sqlmig("validate", "--json", "-d", pg_url, cwd=tmp_path).stdout)
    assert doc["ok"] is True and [f["rule"] for f in doc["lint"]] == ["index-not-concurrent"]
    refused = sqlmig("apply", "--lint", "-d", pg_url, cwd=tmp_path)
    assert refused.returncode == 1 and "index-not-concurrent" in refused.stderr
    assert "nothing was run" in refused.stderr
    assert sqlmig("status", "--exit-code", "-d", pg_url, cwd=tmp_path).returncode == 1  # pending
    (folder / "up" / "0002_idx.sql").write_text(
        "-- sqlmig: allow index-not-concurrent t is a lookup table of ten rows\n"
        "CREATE INDEX t_a ON t (a);\n"
    )
    assert sqlmig("apply", "--lint", "-d", pg_url, cwd=tmp_path).returncode == 0
