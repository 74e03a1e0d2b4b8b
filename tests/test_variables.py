"""psql's :'name' and :"name" in migration and seed files: found by the splitter's lexer,
always quoted, recorded in the history; the checksum and lint see the file as written."""

from __future__ import annotations

import json

import pytest

from sqlmig import Migrator
from sqlmig.config import Settings
from sqlmig.discovery import checksum
from sqlmig.engines import store
from sqlmig.errors import ConfigError, StatementError
from sqlmig.lint import lint_set
from sqlmig.splitter import variables
from sqlmig.variables import Bindings, parse_assignments, placeholders, quote, substitute
from tests.helpers import query, tables, versions


def names(sql: str, dialect: str = "postgres") -> list[tuple[str, bool]]:
    return [(v.name, v.identifier) for v in variables(sql, dialect)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("SELECT :'a', :\"b\"", [("a", False), ("b", True)]),
        ("SELECT ':''a'' :\"b\"'", []),  # inside a string
        ("SELECT 1 -- :'a'\n, 2 /* :'b' /* :\"c\" */ */", []),  # comments, nested on PostgreSQL
        ("SELECT $$ :'a' $$, $f$ :\"b\" $f$, :'c'", [("c", False)]),  # dollar-quoted bodies
        ("SELECT '1'::\"int4\", x::'text'", []),  # casts, never variables
        ("SELECT E'\\' :''a''', :'b'", [("b", False)]),  # an escape string ends where it ends
        ("SELECT \":'a'\", :'b'", [("b", False)]),  # a quoted identifier
        ("SELECT :'a b', :'1a', :name, :'ok_1'", [("ok_1", False)]),  # not psql's names
        ("SELECT :'tenänt'", [("tenänt", False)]),
    ],
)
def test_references_are_found_only_where_psql_substitutes_them(sql, found):
    assert names(sql) == found


def test_sqlite_quoting_rules_apply_on_sqlite():
    assert names("SELECT `:'a'`, [:\"b\"], :'c'", "sqlite") == [("c", False)]
    assert names("SELECT 1 /* :'a' /* */ :'b'", "sqlite") == [("b", False)]  # not nested


@pytest.mark.parametrize(
    ("value", "identifier", "dialect", "quoted"),
    [
        ("acme", False, "postgres", "'acme'"),
        ("o'brien", False, "postgres", "'o''brien'"),
        ("a\\b", False, "postgres", " E'a\\\\b'"),
        ("a\\b", False, "sqlite", "'a\\b'"),
        ('we"ird', True, "postgres", '"we""ird"'),
        ("x; DROP TABLE t; --", True, "sqlite", '"x; DROP TABLE t; --"'),
    ],
)
def test_values_are_always_quoted_never_pasted(value, identifier, dialect, quoted):
    assert quote(value, identifier, dialect) == quoted


def test_substitution_keeps_the_rest_of_the_text_as_it_is():
    sql = "INSERT INTO :\"s\".t VALUES (:'v', ':''v''', 1::int) -- :'v'"
    assert substitute(sql, "postgres", {"s": "a b", "v": "it's"}) == (
        "INSERT INTO \"a b\".t VALUES ('it''s', ':''v''', 1::int) -- :'v'"
    )
    with pytest.raises(ConfigError, match="variable x is not declared"):
        substitute("SELECT :'x'", "postgres", {})


def test_placeholders_keep_every_offset():
    sql = "CREATE SCHEMA :\"tenant\"; SET search_path = :'tenant'"
    replaced = placeholders(sql, "postgres")
    assert len(replaced) == len(sql) and ":" not in replaced
    assert replaced == "CREATE SCHEMA  \"tenant\"; SET search_path =  'tenant'"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["novalue"], "write --var name=value"),
        (["1x=a"], "is not a variable name"),
        (["tenant=a"], "is set per target"),
        (["a=b\0c"], "NUL"),
    ],
)
def test_bad_var_options_are_refused(given, message):
    with pytest.raises(ConfigError, match=message):
        parse_assignments(given)


def test_the_vars_setting_is_checked_like_var(tmp_path):
    (tmp_path / "sqlmig.toml").write_text('[vars]\nschema = "x"\n')
    from sqlmig.config import load_settings

    with pytest.raises(ConfigError, match="schema is set per target"):
        load_settings({}, tmp_path)
    (tmp_path / "sqlmig.toml").write_text('[vars]\nregion = "eu"\n')
    assert load_settings({"vars": {"plan": "pro"}}, tmp_path).vars == {
        "region": "eu",
        "plan": "pro",
    }


UP = """CREATE TABLE :"notes" (id int, region text DEFAULT :'region');
-- a comment keeps :'nothing'
INSERT INTO eu_notes VALUES (1, :'region'), (2, ':''region''');
"""


def test_apply_substitutes_and_records_the_values_while_the_checksum_is_the_file_as_written(
    db_url, write_migration
):
    folder = write_migration(1, "notes", UP, 'DROP TABLE :"notes";')
    values = {"region": "eu", "notes": "eu_notes"}
    with Migrator(db_url, folder, vars=values) as m:
        m.apply(backup=False)
        event = m.history()[0]
        assert json.loads(event.variables) == values
        assert m.applied()[0].checksum == checksum(UP)
    rows = query(db_url, "SELECT id, region FROM eu_notes ORDER BY id")
    assert rows == [(1, "eu"), (2, ":'region'")]
    with Migrator(db_url, folder, vars=values) as m:
        m.rollback()
        assert json.loads(m.history()[0].variables) == {"notes": "eu_notes"}
    assert "eu_notes" not in tables(db_url)


def test_a_failing_statement_is_shown_as_written(db_url, write_migration):
    folder = write_migration(1, "bad", "SELECT 1;\nINSERT INTO missing VALUES (:'v');\n")
    with Migrator(db_url, folder, vars={"v": "x"}) as m, pytest.raises(StatementError) as info:
        m.apply(backup=False)
    assert info.value.line == 2 and info.value.statement == "INSERT INTO missing VALUES (:'v')"
    failed = query(db_url, "SELECT error, variables FROM schema_version_history")
    assert ":'v'" in failed[0][0] and json.loads(failed[0][1]) == {"v": "x"}


def test_an_unknown_variable_is_an_error_before_connecting(write_migration, tmp_path):
    folder = write_migration(1, "a", "SELECT 1;", "SELECT :'gone';")
    url = f"sqlite:///{tmp_path / 'never.db'}"
    with Migrator(url, folder) as m, pytest.raises(ConfigError) as info:
        m.apply(backup=False)
    assert info.value.exit_code == 2
    assert "0001_a.sql: line 1: variable gone is not declared: give --var gone=VALUE" in str(
        info.value
    )
    assert not (tmp_path / "never.db").exists()
    # Unreachable: had it connected first, this would be a ConnectError.
    with Migrator("postgresql://nobody@127.0.0.1:1/x", folder) as m, pytest.raises(ConfigError):
        m.plan_rollback()


def test_validate_names_unknown_variables_and_the_built_ins(db_url, write_migration):
    folder = write_migration(1, "a", "SELECT :'tenant', :'known';")
    with Migrator(db_url, folder, vars={"known": "k"}) as m:
        found = [str(p) for p in m.validate()]
    assert len(found) == 1 and "variable tenant is set per target: run with --target" in found[0]


def test_seeds_use_variables_too(db_url, write_migration, tmp_path):
    folder = write_migration(1, "t", "CREATE TABLE plans (code text);")
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "plans.sql").write_text("INSERT INTO plans VALUES (:'plan');\n")
    with Migrator(db_url, folder, seeds_dir=tmp_path / "seeds") as m:
        with pytest.raises(ConfigError, match="variable plan is not declared"):
            m.apply(backup=False, seed=True)
        assert "plans" not in tables(db_url)  # refused before migrating
    with Migrator(db_url, folder, seeds_dir=tmp_path / "seeds", vars={"plan": "pro"}) as m:
        m.apply(backup=False, seed=True)
        assert json.loads(m.history()[0].variables) == {"plan": "pro"}
    assert query(db_url, "SELECT code FROM plans") == [("pro",)]


def test_the_dry_run_shows_the_sql_that_would_run(sqlite_url, write_migration, capsys):
    from sqlmig import render_plan
    from sqlmig.models import Direction

    folder = write_migration(1, "a", "SELECT :'v';")
    with Migrator(sqlite_url, folder, vars={"v": "o'k"}) as m:
        render_plan.print_plan(m.plan_apply(), Direction.UP, m.settings, m.bindings())
    assert "SELECT 'o''k';" in capsys.readouterr().out


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_lint_reads_variables_as_placeholders_not_parse_errors(dialect, write_migration):
    from sqlmig.discovery import load_migrations

    folder = write_migration(
        1,
        "tenant",
        'CREATE TABLE :"tenant" (id int DEFAULT 1, name text);\n'
        "INSERT INTO tenant VALUES (1, :'tenant');\n"
        "ALTER TABLE tenant RENAME COLUMN id TO key;\n",
    )
    url = "postgresql://x/y" if dialect == "postgres" else "sqlite:///x.db"
    found = lint_set(load_migrations(folder, dialect), Settings(database_url=url))
    assert [f.rule for f in found] == []  # new table: no rename warning, nothing refused


def test_bindings_record_only_what_a_file_uses():
    bound = Bindings({"a": "1", "b": "2"}, "postgres")
    assert bound.used("SELECT :'b' -- :'a'") == '{"b": "2"}'
    assert bound.used("SELECT 1") is None


def format_two(db_url: str, write_migration) -> None:
    """A database as the sqlmig before the variables column left it (format 2)."""
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
    query(db_url, "ALTER TABLE schema_version_history DROP COLUMN variables")
    query(db_url, "UPDATE schema_version_meta SET value = '2'")


def test_format_two_is_upgraded_in_place_keeping_its_history(db_url, write_migration):
    format_two(db_url, write_migration)
    folder = write_migration(2, "b", "SELECT :'v';")
    with Migrator(db_url, folder, vars={"v": "x"}) as m:
        assert [e.event for e in m.history()] == ["apply"]  # reads format 2 as it is
        m.apply(backup=False)
        events = m.history()
    assert [(e.version, e.variables) for e in events] == [(2, '{"v": "x"}'), (1, None)]
    assert query(db_url, "SELECT value FROM schema_version_meta") == [(str(store.FORMAT),)]
    assert store.FORMAT >= 3  # 3 added the variables; a later format keeps them


def test_a_backup_from_before_format_3_restores_keeping_the_history_since(
    db_url, write_migration, tmp_path
):
    from sqlmig import release

    format_two(db_url, write_migration)
    folder = write_migration(2, "b", "CREATE TABLE b (x text DEFAULT :'v');", "DROP TABLE b;")
    with Migrator(db_url, folder, backup_dir=tmp_path / "b") as m:
        # Taken as an older sqlmig would have: its tables still in format 2.
        backup = release.take_backup(m.settings, m.engine(write=True), m.applied())
    with Migrator(db_url, folder, vars={"v": "x"}) as m:
        m.apply(backup=False)  # upgrades to format 3 and records the values
    with Migrator(db_url, folder) as m:
        m.restore(backup.path)
        events = m.history()
    assert [(e.event, e.version, e.variables) for e in events] == [
        ("restore", 1, None),
        ("apply", 2, '{"v": "x"}'),  # kept whole, its values with it
        ("apply", 1, None),
    ]
    assert versions(db_url) == [1]
    assert query(db_url, "SELECT value FROM schema_version_meta") == [(str(store.FORMAT),)]
