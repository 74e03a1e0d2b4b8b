"""SQLite drift check and dump on the schemas real projects have: comments, any case,
`sqlite3 .dump` output, virtual tables, names that only look reserved."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sqlmig import Migrator
from tests.test_dump import assert_reproducible


def make_db(path: Path, script: str) -> str:
    conn = sqlite3.connect(path)
    try:
        conn.executescript(script)
    finally:
        conn.close()
    return f"sqlite:///{path}"


def drift(url: str, folder: Path, baseline: str) -> list[str]:
    (folder / "schema.sql").write_text(baseline)
    with Migrator(url, folder) as m:
        return m.diff(folder / "schema.sql")


def test_only_the_sqlite_underscore_prefix_is_reserved(tmp_path):
    url = make_db(
        tmp_path / "live.db",
        "CREATE TABLE t (a); CREATE TABLE sqlite3_meta (a); CREATE TABLE SQLiteData (b);"
        "CREATE INDEX sqlitex_idx ON t (a); CREATE TABLE k (id INTEGER PRIMARY KEY AUTOINCREMENT);",
    )
    with Migrator(url, tmp_path) as m:
        text = m.dump().text
    for name in ("sqlite3_meta", "SQLiteData", "sqlitex_idx"):
        assert f" {name} " in text
    assert "sqlite_sequence" not in text
    assert drift(url, tmp_path, "CREATE TABLE t (a); CREATE INDEX sqlitex_idx ON t (a);") == [
        "column k.id: in database, not in schema.sql",
        "column sqlite3_meta.a: in database, not in schema.sql",
        "column sqlitedata.b: in database, not in schema.sql",
        "table k: in database, not in schema.sql",
        "table sqlite3_meta: in database, not in schema.sql",
        "table sqlitedata: in database, not in schema.sql",
    ]


def test_dump_of_statements_that_end_in_a_comment_loads(tmp_path):
    url = make_db(
        tmp_path / "live.db",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, active INT) STRICT -- strict!\n;"
        "CREATE INDEX users_active ON users (active) -- for the dashboard\n;"
        "CREATE VIEW active_users AS SELECT * FROM users WHERE active -- only these\n;",
    )
    text = assert_reproducible(url, f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    assert "-- only these\n;\n" in text


def test_trigger_with_case_end_applies_dumps_and_matches(tmp_path, write_migration):
    folder = write_migration(
        1,
        "audit",
        """
        CREATE TABLE t (a INT, b TEXT);
        CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN
          UPDATE t SET b = CASE WHEN new.a > 0 THEN 'pos' ELSE 'neg' END;
        END;
        """,
        "DROP TABLE t;",
    )
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with Migrator(url, folder) as m:
        m.apply(backup=False)
        m.dump(folder / "schema.sql")
        assert m.diff() == []
        assert m.test_roundtrip().problems == []


# What `sqlite3 live.db .dump` (the 3.40 shell) writes for the script below: BEGIN/COMMIT,
# and the virtual table through writable_schema. Written out rather than made with
# Python's iterdump, which is not the shell's: Python 3.11.2's writes the virtual table's
# shadow tables as plain CREATE TABLEs, a script that sqlite3 itself cannot load.
SHELL_DUMP = """PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
INSERT INTO posts VALUES(1,'hello');
PRAGMA writable_schema=ON;
INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','posts_fts','posts_fts',0,'CREATE VIRTUAL TABLE posts_fts USING fts5(body)');
CREATE TABLE IF NOT EXISTS 'posts_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
INSERT INTO posts_fts_data VALUES(1,X'');
INSERT INTO posts_fts_data VALUES(10,X'00000000000000');
CREATE TABLE IF NOT EXISTS 'posts_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS 'posts_fts_content'(id INTEGER PRIMARY KEY, c0);
CREATE TABLE IF NOT EXISTS 'posts_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE IF NOT EXISTS 'posts_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO posts_fts_config VALUES('version',4);
PRAGMA writable_schema=OFF;
COMMIT;
"""


def test_a_sqlite3_dump_file_works_as_the_baseline(tmp_path):
    script = (
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"
        "CREATE VIRTUAL TABLE posts_fts USING fts5(body);"
        "INSERT INTO posts VALUES (1, 'hello');"
    )
    url = make_db(tmp_path / "live.db", script)
    assert drift(url, tmp_path, SHELL_DUMP) == []


def test_virtual_table_without_its_module_is_compared_by_its_text(tmp_path):
    url = make_db(
        tmp_path / "live.db",
        "CREATE TABLE t (a);"
        # As a database made with sqlite-vec looks to a Python without that extension.
        "PRAGMA writable_schema = ON;"
        "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) "
        "VALUES ('table', 'vec', 'vec', 0, 'CREATE VIRTUAL TABLE vec USING vec0(x float[4])');",
    )
    assert drift(url, tmp_path, "CREATE TABLE t (a);") == [
        "table vec: in database, not in schema.sql"
    ]


def test_formatting_comments_case_and_implied_keys_are_not_drift(tmp_path):
    url = make_db(
        tmp_path / "live.db",
        """
        CREATE TABLE Parent (ID INTEGER PRIMARY KEY, Price DECIMAL(10,2));
        CREATE TABLE child (
            id INTEGER PRIMARY KEY, -- the key
            parent_id INT REFERENCES Parent /* its primary key */
        );
        CREATE TRIGGER child_ai AFTER INSERT ON child BEGIN
            SELECT 1; -- nothing yet
        END;
        """,
    )
    baseline = """
        create table parent (id integer primary key, price decimal( 10, 2 ));
        create table CHILD (id integer primary key, parent_id int references PARENT);
        create trigger child_ai after insert on child begin select 1; end;
    """
    assert drift(url, tmp_path, baseline) == []


def test_a_foreign_key_to_the_implied_primary_key_names_its_columns(tmp_path):
    url = make_db(
        tmp_path / "live.db",
        "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (pid INT REFERENCES p);",
    )
    found = drift(
        url, tmp_path, "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (pid INT);"
    )
    assert "foreign key c.(pid): in database, not in schema.sql" in found
    with Migrator(url, tmp_path) as m:
        assert m.engine().introspect()["foreign key c.(pid)"]["references"] == "p(id)"


def test_case_sqlite_does_not_fold_is_drift(tmp_path):
    # SQLite folds ASCII letters only: Ä and ä are two columns.
    url = make_db(
        tmp_path / "live.db", "CREATE TABLE t (Ä int, ä int); CREATE VIEW v AS SELECT Ä FROM t;"
    )
    found = drift(url, tmp_path, "CREATE TABLE t (Ä int, ä int); CREATE VIEW v AS SELECT ä FROM t;")
    assert found == [
        "view v: definition create view v as select Ä from t in database, "
        "create view v as select ä from t in schema.sql"
    ]


@pytest.mark.parametrize(
    ("live", "expected"),
    [
        (
            "CREATE TABLE t (a INT, b INT CHECK (b > 0))",
            ["column t.a: type INT in database, TEXT in schema.sql", "table t: definition"],
        ),
    ],
)
def test_a_check_change_is_reported_next_to_a_column_change(tmp_path, live, expected):
    url = make_db(tmp_path / "live.db", live)
    found = drift(url, tmp_path, "CREATE TABLE t (a TEXT, b INT CHECK (b > 100))")
    assert [line if line.startswith("column") else line[:19] for line in found] == expected
    assert "check(b>0)" in found[1] and "check(b>100)" in found[1]


def test_a_sqlite3_schema_file_with_internal_tables_works_as_the_baseline(tmp_path):
    script = (
        "CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT, x TEXT);"
        "CREATE INDEX ax ON a (x);"
        "INSERT INTO a (x) VALUES ('one');"
        "ANALYZE;"
    )
    url = make_db(tmp_path / "live.db", script)
    # What `sqlite3 live.db .schema` prints for it (the 3.40 shell):
    schema = (
        "CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT, x TEXT);\n"
        "CREATE TABLE sqlite_sequence(name,seq);\n"
        "CREATE INDEX ax ON a (x);\n"
        "CREATE TABLE sqlite_stat1(tbl,idx,stat);\n"
    )
    assert drift(url, tmp_path, schema) == []
    assert drift(url, tmp_path, schema.replace("x TEXT", "x BLOB"))  # still compared
