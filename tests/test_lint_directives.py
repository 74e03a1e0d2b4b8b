"""`-- sqlmig: allow RULE-ID reason`, the rule settings, and the output formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlmig.config import Settings, load_settings
from sqlmig.discovery import load_migrations
from sqlmig.errors import ConfigError
from sqlmig.lint import findings as formats
from tests.lint_helpers import LITE_BASE, LITE_URL, PG_BASE, lint, rules, where

TWO_INDEXES = "CREATE INDEX t_a ON t (a);\nCREATE INDEX t_b ON t (b);\n"


def test_allow_on_the_statements_line(tmp_path):
    sql = (
        "SELECT 1;\n"
        "CREATE INDEX t_a ON t (a); -- sqlmig: allow index-not-concurrent t has 12 rows\n"
        "CREATE INDEX t_b ON t (b);\n"
    )
    assert where(lint(tmp_path / "sql", [PG_BASE, sql])) == [
        ("up/0002_m2.sql", 3, "index-not-concurrent")  # the next statement is not covered
    ]


def test_allow_on_the_line_before(tmp_path):
    sql = (
        "SELECT 1;\n"
        "-- sqlmig: allow index-not-concurrent t has 12 rows\n"
        "-- (a lookup table, filled once)\n"
        "CREATE INDEX t_a ON t (a);\n"
        "\n"
        "-- sqlmig: allow index-not-concurrent a blank line separates it from the statement\n"
        "\n"
        "CREATE INDEX t_b ON t (b);\n"
    )
    found = lint(tmp_path / "sql", [PG_BASE, sql])
    assert where(found) == [
        ("up/0002_m2.sql", 6, "bad-directive"),
        ("up/0002_m2.sql", 8, "index-not-concurrent"),
    ]
    assert "on no statement's line nor the line before one" in found[0].message


def test_allow_inside_a_statement_spanning_lines(tmp_path):
    sql = (
        "SELECT 1;\n"
        "ALTER TABLE t\n"
        "  ADD CONSTRAINT t_p FOREIGN KEY (pid) REFERENCES p (id), -- sqlmig: allow fk-not-valid p is tiny\n"
        "  ADD CONSTRAINT a_pos CHECK (a > 0);\n"
    )
    assert rules(lint(tmp_path / "sql", [PG_BASE, sql])) == ["check-not-valid"]


def test_allow_in_the_header_covers_the_whole_file(tmp_path):
    sql = "-- Build the lookups.\n-- sqlmig: allow index-not-concurrent t is a 12-row lookup\n\n"
    assert lint(tmp_path / "sql", [PG_BASE, sql + TWO_INDEXES]) == []
    # ...and discovery knows the directive: the set still loads (and applies).
    assert len(load_migrations(tmp_path / "sql")) == 2


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        ("-- sqlmig: allow index-concurrently t is small", "unknown rule"),
        ("-- sqlmig: allow index-not-concurrent", "needs a reason"),
        ("-- sqlmig: allow", "needs a rule id and a reason"),
        ("-- sqlmig: allow needs-no-transaction it works for me", "cannot be silenced"),
    ],
)
def test_a_broken_allow_is_an_error_and_silences_nothing(tmp_path, directive, message):
    found = lint(tmp_path / "sql", [PG_BASE, f"{directive}\n{TWO_INDEXES}"])
    assert rules(found) == ["bad-directive", "index-not-concurrent", "index-not-concurrent"]
    assert message in found[0].message and found[0].severity == "error"
    assert (found[0].line, found[0].col) == (1, 1)


def test_an_allow_that_silences_nothing_is_reported(tmp_path):
    sql = "SELECT 1;\n-- sqlmig: allow drop-table t is unused since 2.4\nALTER TABLE t ADD COLUMN c int;\n"
    found = lint(tmp_path / "sql", [PG_BASE, sql])
    assert where(found) == [("up/0002_m2.sql", 2, "unused-allow")]
    assert found[0].severity == "warning"


def test_an_allow_for_the_other_engines_rule_is_not_unused(tmp_path):
    """A set that runs on both engines allows PostgreSQL rules that SQLite never reports."""
    sql = "-- sqlmig: allow index-not-concurrent small table\nCREATE INDEX t_a2 ON t (a);\n"
    assert lint(tmp_path / "sql", [LITE_BASE, sql], url=LITE_URL) == []


def test_an_allow_cannot_silence_a_refusal(tmp_path):
    sql = "-- sqlmig: allow needs-no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n"
    assert rules(lint(tmp_path / "sql", [PG_BASE, sql])) == [
        "bad-directive",
        "needs-no-transaction",
    ]


def test_a_directive_below_the_header_is_reported(tmp_path):
    """Discovery only reads the header: a no-transaction further down silently does nothing."""
    sql = "/* the index */\n-- sqlmig: no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n"
    found = lint(tmp_path / "sql", [PG_BASE, sql])
    assert rules(found) == ["bad-directive", "needs-no-transaction"]
    assert "has no effect below the header" in found[0].message


def test_a_directive_inside_a_string_is_not_a_directive(tmp_path):
    sql = "SELECT '-- sqlmig: allow index-not-concurrent no', 1;\nCREATE INDEX t_a ON t (a);\n"
    assert rules(lint(tmp_path / "sql", [PG_BASE, sql])) == ["index-not-concurrent"]


def test_rule_settings_turn_rules_off_or_change_their_severity(tmp_path):
    sql = TWO_INDEXES + "ALTER TABLE t DROP COLUMN a;\n"
    found = lint(
        tmp_path / "a",
        [PG_BASE, sql],
        lint_rules={"index-not-concurrent": "off", "drop-column": "error"},
    )
    assert [(f.rule, f.severity) for f in found] == [("drop-column", "error")]
    # An allow for a rule that is off is not reported as unused.
    allowed = "-- sqlmig: allow index-not-concurrent small\n" + sql
    found = lint(tmp_path / "b", [PG_BASE, allowed], lint_rules={"index-not-concurrent": "off"})
    assert rules(found) == ["drop-column"]


@pytest.mark.parametrize(
    ("rules_setting", "message"),
    [
        ({"index-concurrently": "off"}, "unknown rule 'index-concurrently'"),
        ({"drop-column": "fatal"}, "'fatal' is not one of error, warning, off"),
        ({"needs-no-transaction": "off"}, "always an error"),
        ({"transaction-control": "warning"}, "always an error"),
    ],
)
def test_bad_rule_settings_are_configuration_errors(rules_setting, message):
    with pytest.raises(ConfigError, match=message):
        Settings(lint_rules=rules_setting).checked()


def test_lint_settings_from_the_config_file(tmp_path):
    (tmp_path / "sqlmig.toml").write_text(
        'lint_from = 3\npg_version = 14\n[lint_rules]\n"drop-table" = "error"\n'
    )
    settings = load_settings({}, cwd=tmp_path)
    assert (settings.lint_from, settings.pg_version) == (3, 14)
    assert settings.lint_rules == {"drop-table": "error"}
    for bad, message in (("lint_from = -1", "lint_from"), ("pg_version = 9", "pg_version")):
        (tmp_path / "sqlmig.toml").write_text(bad + "\n")
        with pytest.raises(ConfigError, match=message):
            load_settings({}, cwd=tmp_path)
    (tmp_path / "sqlmig.toml").write_text('lint_rules = "all"\n')
    with pytest.raises(ConfigError, match="wrong type"):
        load_settings({}, cwd=tmp_path)


def test_lint_from_leaves_older_versions_alone(tmp_path):
    files = [PG_BASE, "CREATE INDEX t_a ON t (a);", ("CREATE INDEX t_b ON t (b);", "DROP TABLE t;")]
    found = lint(tmp_path / "sql", files, lint_from=2)
    assert where(found) == [
        ("up/0003_m3.sql", 1, "index-not-concurrent"),
        ("down/0003_m3.sql", 1, "drop-table"),
    ]


def _one_finding(tmp_path: Path) -> list[formats.Finding]:
    return lint(tmp_path / "sql", [PG_BASE, "SELECT 1;\n  CREATE INDEX t_a ON t (a);"])


def test_text_format(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = formats.text(_one_finding(tmp_path), 4).splitlines()
    assert out[0] == (
        "sql/up/0002_m2.sql:2:3: index-not-concurrent warning: "
        "CREATE INDEX on existing table t without CONCURRENTLY"
    )
    assert out[1] == "    lock: SHARE on t for the whole build"
    assert out[2].startswith("    why: INSERT, UPDATE and DELETE")
    assert out[3].startswith("    fix: CREATE INDEX CONCURRENTLY") and "no-transaction" in out[3]
    assert out[4] == "lint: 0 error(s) and 1 warning(s) in 1 of 4 file(s)."
    assert formats.text([], 4) == "lint ok: 4 file(s), no findings.\n"


def test_json_format(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = formats.as_json(_one_finding(tmp_path), 4)
    assert data["ok"] is False and data["files"] == 4
    (f,) = data["findings"]
    assert f["file"] == "sql/up/0002_m2.sql" and (f["line"], f["column"]) == (2, 3)
    assert f["rule"] == "index-not-concurrent" and f["severity"] == "warning"
    assert set(f) == {"file", "line", "column", "rule", "severity", "message", "lock", "why", "fix"}


def test_github_annotations_escape_what_the_format_reserves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (f,) = _one_finding(tmp_path)
    f = formats.Finding(
        f.path, f.line, f.col, f.rule, "error", "100% sure: a, b\nnext", lock="", why="w", fix="x"
    )
    (line, summary) = formats.github([f], 1).splitlines()
    assert line == (
        "::error file=sql/up/0002_m2.sql,line=2,col=3,title=sqlmig lint%3A index-not-concurrent"
        "::100%25 sure: a, b%0Anext%0Awhy: w%0Afix: x"
    )
    assert summary.startswith("lint: 1 error(s)")
