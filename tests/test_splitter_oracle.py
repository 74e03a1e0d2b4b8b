"""Property tests: the splitter agrees with each engine's own idea of a statement.

Oracles: SQLite's ``sqlite3_complete()`` (via ``sqlite3.complete_statement``) and
PostgreSQL's real parser (via pglast, a test-only dependency).
"""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st
from pglast import split as pg_split

from sqlmig.splitter import split

QUICK = settings(max_examples=200, deadline=None)

SQLITE_PIECES = [
    "SELECT 1",
    "SELECT 'semi;colon', 'it''s; ok'",
    'SELECT "odd;name" FROM t',
    "SELECT [br;acket], `back;tick` FROM t",
    "SELECT 1 -- a comment; with a semicolon\n + 2",
    "SELECT /* block; comment */ 2",
    "SELECT 'multi\nline;\nstring'",
    "SELECT CASE WHEN 1 THEN 'a;' ELSE 'b' END",
    "CREATE TABLE t (a TEXT DEFAULT 'x;y', b INT CHECK (b > 0))",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'x;'; DELETE FROM u WHERE v = CASE WHEN 1 THEN 2 END + 1; END",
    "CREATE TEMP TRIGGER tr2 BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no;'); END",
    "CREATE TRIGGER tr3 AFTER UPDATE ON t BEGIN UPDATE t SET a = CASE WHEN 1 THEN 2 END; END",
]

PG_PIECES = [
    "SELECT 1",
    "SELECT 'semi;colon', 'it''s; ok'",
    "SELECT E'esc\\';aped'",
    'SELECT "odd;name" FROM t',
    "SELECT 1 -- a comment; with a semicolon\n + 2",
    "SELECT 1 /* outer ; /* nested ; */ still ; */ + 2",
    "SELECT $tag$ body; with $$ inside $tag$",
    "SELECT $$;$$",
    "SELECT a$b FROM t",
    "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$",
    "CREATE FUNCTION g(x int) RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 'p;' END; SELECT 'q'; END",
    "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END",
    "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))",
    "CREATE TABLE t (begin_date date, \"end\" int, note text DEFAULT 'a;b')",
    "BEGIN",
    "COMMIT",
]

separators = st.sampled_from(
    [";", ";\n", " ;\n\n", ";\r\n", "; -- trailing; comment\n", ";/* c; */\n", ";;\n"]
)


@st.composite
def files(draw, pieces: list[str]) -> tuple[str, list[str]]:
    """A migration file of 1-6 statements with assorted separators, and its statements."""
    chosen = draw(st.lists(st.sampled_from(pieces), min_size=1, max_size=6))
    seps = draw(st.lists(separators, min_size=len(chosen), max_size=len(chosen)))
    return "".join(p + s for p, s in zip(chosen, seps, strict=True)), chosen


@QUICK
@given(files(SQLITE_PIECES))
def test_sqlite_agrees_with_sqlite3_complete(file):
    sql, pieces = file
    got = split(sql, "sqlite")
    assert [s.text for s in got] == pieces
    for stmt in got:
        assert sqlite3.complete_statement(stmt.text + ";")
        # No `;` inside a statement is one SQLite itself would stop at.
        for i, char in enumerate(stmt.text):
            if char == ";":
                assert not sqlite3.complete_statement(stmt.text[: i + 1]), stmt.text[: i + 1]


@QUICK
@given(files(PG_PIECES))
def test_postgres_agrees_with_the_postgres_parser(file):
    sql, pieces = file
    assert [s.text for s in split(sql, "postgres")] == list(pg_split(sql)) == pieces


@QUICK
@given(
    st.lists(st.sampled_from(PG_PIECES), min_size=1, max_size=5),
    st.sampled_from(["postgres", "sqlite"]),
)
def test_lines_and_offsets_point_at_the_statement(pieces, dialect):
    sql = "\n\n-- header\n" + ";\n".join(pieces) + ";\n"
    for stmt in split(sql, dialect):  # type: ignore[arg-type]
        assert sql[stmt.offset :].startswith(stmt.text)
        assert sql.count("\n", 0, stmt.offset) + 1 == stmt.line


@QUICK
@given(st.lists(st.sampled_from(SQLITE_PIECES), min_size=1, max_size=5))
def test_splitting_is_stable(pieces):
    once = [s.text for s in split(";\n".join(pieces), "sqlite")]
    assert [s.text for s in split(";\n".join(once), "sqlite")] == once
