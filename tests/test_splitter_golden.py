"""Golden cases for the statement splitter: real migration SQL and the exact split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from sqlmig.splitter import split

PG = [
    ("SELECT 1; SELECT 2", ["SELECT 1", "SELECT 2"]),
    ("SELECT 'a;b' ; SELECT 'it''s;'", ["SELECT 'a;b'", "SELECT 'it''s;'"]),
    ("SELECT E'it\\'s; fine'; SELECT 2", ["SELECT E'it\\'s; fine'", "SELECT 2"]),
    ("SELECT date'x\\'; SELECT 2", ["SELECT date'x\\'", "SELECT 2"]),  # not an E-string
    ('SELECT "semi;colon" FROM t; SELECT 2', ['SELECT "semi;colon" FROM t', "SELECT 2"]),
    ("/* a /* nested ; */ still ; */ SELECT 1; SELECT 2", ["SELECT 1", "SELECT 2"]),
    ("SELECT 1 -- trailing; comment\n; SELECT 2", ["SELECT 1 -- trailing; comment", "SELECT 2"]),
    (
        "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN; RETURN 1; $$ ; END $body$ LANGUAGE plpgsql; SELECT 2",
        [
            "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN; RETURN 1; $$ ; END $body$ LANGUAGE plpgsql",
            "SELECT 2",
        ],
    ),
    ("SELECT $1, a$b$c FROM t; SELECT 2", ["SELECT $1, a$b$c FROM t", "SELECT 2"]),
    (
        "CREATE OR REPLACE FUNCTION s(x int) RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 'p' END; SELECT 'q'; END; SELECT 3",
        [
            "CREATE OR REPLACE FUNCTION s(x int) RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 'p' END; SELECT 'q'; END",
            "SELECT 3",
        ],
    ),
    (
        "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END; CALL p()",
        [
            "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END",
            "CALL p()",
        ],
    ),
    (
        "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 1",
        [
            "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))",
            "SELECT 1",
        ],
    ),
    (
        "BEGIN; SELECT 1; COMMIT;",
        ["BEGIN", "SELECT 1", "COMMIT"],
    ),  # transaction control is not a body
    (
        "CREATE TABLE t (begin_date date, backend text); SELECT 1",
        ["CREATE TABLE t (begin_date date, backend text)", "SELECT 1"],
    ),
    (";;  ; -- only comments\n/* and this */", []),
    ("SELECT 'unterminated; SELECT 2", ["SELECT 'unterminated; SELECT 2"]),
]

SQLITE = [
    ("SELECT 1; SELECT 2", ["SELECT 1", "SELECT 2"]),
    (
        'SELECT [a;b], `c;d`, "e;f" FROM t; SELECT 2',
        ['SELECT [a;b], `c;d`, "e;f" FROM t', "SELECT 2"],
    ),
    ("/* not /* nested */ SELECT 1; SELECT 2", ["SELECT 1", "SELECT 2"]),
    ("SELECT 'a\\'; SELECT 2", ["SELECT 'a\\'", "SELECT 2"]),  # no backslash escapes
    (
        "CREATE TRIGGER t AFTER INSERT ON x BEGIN UPDATE x SET a = CASE WHEN 1 THEN 2 END = 1; SELECT 1; END; SELECT 3",
        [
            "CREATE TRIGGER t AFTER INSERT ON x BEGIN UPDATE x SET a = CASE WHEN 1 THEN 2 END = 1; SELECT 1; END",
            "SELECT 3",
        ],
    ),
    (
        "CREATE TEMP TRIGGER t AFTER DELETE ON x BEGIN DELETE FROM y; END /* c */ ; SELECT 3",
        ["CREATE TEMP TRIGGER t AFTER DELETE ON x BEGIN DELETE FROM y; END /* c */", "SELECT 3"],
    ),
    ("BEGIN; SELECT 1; END;", ["BEGIN", "SELECT 1", "END"]),
    (  # only an END right after a `;` ends a trigger, as in sqlite3_complete()
        "CREATE TRIGGER t AFTER INSERT ON x BEGIN UPDATE x SET b = CASE WHEN 1 THEN 2 END; "
        "SELECT new.end; END; SELECT 3",
        [
            "CREATE TRIGGER t AFTER INSERT ON x BEGIN UPDATE x SET b = CASE WHEN 1 THEN 2 END; "
            "SELECT new.end; END",
            "SELECT 3",
        ],
    ),
]


@pytest.mark.parametrize(("sql", "expected"), PG)
def test_postgres(sql, expected):
    assert [s.text for s in split(sql, "postgres")] == expected


@pytest.mark.parametrize(("sql", "expected"), SQLITE)
def test_sqlite(sql, expected):
    assert [s.text for s in split(sql, "sqlite")] == expected


def test_lines_and_offsets():
    sql = "-- header\n\nCREATE TABLE a (\n  x text DEFAULT 'multi\nline'\n);\n/* c\n */ SELECT 1;\r\nSELECT 2;\rSELECT 3"
    got = split(sql, "postgres")
    assert [(s.line, s.text.split()[0]) for s in got] == [
        (3, "CREATE"),
        (8, "SELECT"),
        (9, "SELECT"),
        (10, "SELECT"),
    ]
    for st in got:
        assert sql[st.offset :].startswith(st.text)


# The fast path outside bodies must cut exactly where the token scanner does, whatever
# the text: unterminated quotes, nested comments, E-strings after words, dollar tags.
FRAGMENTS = [
    "a",
    "e",
    "E",
    " ",
    "\n",
    ";",
    "(",
    ")",
    "'",
    "''",
    '"',
    "`",
    "[",
    "]",
    "-",
    "--",
    "/",
    "/*",
    "*/",
    "*",
    "$",
    "$$",
    "$t$",
    "t",
    "\\",
    "E'",
    "e'x\\'y'",
    "1",
    "date'",
    "$1",
    "é",
]


@settings(max_examples=3000, deadline=None)
@given(parts=hs.lists(hs.sampled_from(FRAGMENTS), max_size=25), pg=hs.booleans())
def test_the_fast_path_cuts_where_the_token_scanner_does(parts, pg):
    from sqlmig.splitter import _plain_end, _token_end

    sql = "".join(parts)
    for pos in range(len(sql) + 1):
        assert _plain_end(sql, pos, pg) == _token_end(sql, pos, pg, False), (sql, pos)
