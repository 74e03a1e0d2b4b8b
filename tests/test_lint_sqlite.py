"""SQLite lint rules: tokens for what a statement says, a replay for what SQLite does."""

from __future__ import annotations

import sqlite3

import pytest

from tests.lint_helpers import LITE_BASE, LITE_URL, lint, rules, where

NO_TX = "-- sqlmig: no-transaction\n"

FIRES = [
    (["sqlite-foreign-keys"], "PRAGMA foreign_keys = OFF;"),
    (["sqlite-foreign-keys"], "PRAGMA main.foreign_keys = ON;"),
    (["sqlite-foreign-keys"], NO_TX + "PRAGMA foreign_keys = ON;"),
    (["needs-no-transaction"], "VACUUM;"),
    (["needs-no-transaction"], "PRAGMA journal_mode = DELETE;"),
    (["needs-no-transaction"], NO_TX + "BEGIN;\nVACUUM;\nCOMMIT;"),
    (["transaction-control"] * 2, "BEGIN IMMEDIATE;\nCREATE TABLE q (id);\nEND;"),
    (["drop-column", "sqlite-drop-column"], "ALTER TABLE t DROP COLUMN a;"),  # indexed
    (
        ["sqlite-drop-column"],  # in a table-level foreign key (a new table: no drop-column)
        "CREATE TABLE c (x INTEGER, FOREIGN KEY (x) REFERENCES p (id));\nALTER TABLE c DROP COLUMN x;",
    ),
    (["drop-column"], "ALTER TABLE t DROP COLUMN pid;"),  # its REFERENCES goes with it
    (["drop-column", "sqlite-drop-column"], "ALTER TABLE t DROP COLUMN id;"),  # PRIMARY KEY
    (
        ["drop-column", "sqlite-drop-column"],
        "CREATE VIEW tv AS SELECT b FROM t;\nALTER TABLE t DROP COLUMN b;",
    ),
    (["sqlite-refused"], "ALTER TABLE t ADD COLUMN code TEXT UNIQUE;"),
    (["sqlite-refused"], "ALTER TABLE t ADD COLUMN at TEXT DEFAULT CURRENT_TIMESTAMP;"),
    (["sqlite-refused"], "ALTER TABLE t ADD COLUMN at TEXT DEFAULT (datetime('now'));"),
    (["sqlite-refused"], "CREATE TABLE q (id INTEGER PRIMARY KEY,);"),
    (["sqlite-refused"], "INSERT INTO nowhere VALUES (1);"),
    (["add-column-not-null"], "ALTER TABLE t ADD COLUMN c TEXT NOT NULL;"),
    (["rename-table"], "ALTER TABLE t RENAME TO things;"),
    (["rename-column"], "ALTER TABLE t RENAME COLUMN b TO label;"),
    (["drop-table"], "DROP TABLE p;"),
    (["drop-column"], "ALTER TABLE t DROP COLUMN b;"),
]


@pytest.mark.parametrize(("expected", "sql"), FIRES, ids=[s[:50] for _, s in FIRES])
def test_sqlite_rule_fires(tmp_path, expected, sql):
    found = lint(tmp_path / "sql", [LITE_BASE, sql], url=LITE_URL)
    assert rules(found) == expected, [f.message for f in found]


CLEAN = [
    NO_TX + "PRAGMA foreign_keys = OFF;",
    "PRAGMA foreign_keys;",
    NO_TX + "VACUUM;",
    "PRAGMA journal_mode = WAL;",
    "SAVEPOINT s;\nCREATE TABLE q (id);\nRELEASE s;",
    "ALTER TABLE t ADD COLUMN c TEXT NOT NULL DEFAULT '';",
    "ALTER TABLE t ADD COLUMN c TEXT;",
    "CREATE TABLE q (id INTEGER);\nALTER TABLE q ADD COLUMN c TEXT NOT NULL;",
    "CREATE TABLE q (id INTEGER, v TEXT);\nALTER TABLE q DROP COLUMN v;\nDROP TABLE q;",
    "CREATE TABLE q (id INTEGER);\nALTER TABLE q RENAME TO q2;\nALTER TABLE q2 RENAME id TO ident;",
    "SELECT 'VACUUM; PRAGMA foreign_keys = ON';",
    # The 12-step rebuild, indexes and triggers recreated (one under a new name).
    """
    CREATE TABLE t_new (id INTEGER PRIMARY KEY, a TEXT NOT NULL DEFAULT '', b TEXT,
                        pid INTEGER REFERENCES p (id));
    INSERT INTO t_new SELECT id, coalesce(a, ''), b, pid FROM t;
    DROP TABLE t;
    ALTER TABLE t_new RENAME TO t;
    CREATE INDEX t_a_again ON t (a);
    CREATE TRIGGER t_touch AFTER UPDATE ON t BEGIN SELECT 1; END;
    """,
    # Recreated under its own name, the way the demo's 0005 does it.
    """
    CREATE TABLE t_copy AS SELECT * FROM t;
    DROP TABLE t;
    CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT NOT NULL DEFAULT '', pid INTEGER);
    INSERT INTO t SELECT id, a, coalesce(b, ''), pid FROM t_copy;
    DROP TABLE t_copy;
    CREATE INDEX t_a ON t (a);
    CREATE TRIGGER t_touch AFTER UPDATE ON t BEGIN SELECT 1; END;
    """,
    # An index dropped on purpose before the rebuild is not lost.
    """
    DROP INDEX t_a;
    DROP TRIGGER t_touch;
    CREATE TABLE t_new (id INTEGER PRIMARY KEY, a TEXT, b TEXT, pid INTEGER);
    INSERT INTO t_new SELECT * FROM t;
    DROP TABLE t;
    ALTER TABLE t_new RENAME TO t;
    """,
]


@pytest.mark.parametrize("sql", CLEAN, ids=[s.strip()[:50] for s in CLEAN])
def test_sqlite_rule_stays_silent(tmp_path, sql):
    found = lint(tmp_path / "sql", [LITE_BASE, sql], url=LITE_URL)
    assert found == [], [(f.rule, f.message) for f in found]


def test_a_rebuild_that_forgets_an_index_and_a_trigger(tmp_path):
    sql = """
    CREATE TABLE t_new (id INTEGER PRIMARY KEY, a TEXT, b TEXT, pid INTEGER);
    INSERT INTO t_new SELECT * FROM t;
    DROP TABLE t;
    ALTER TABLE t_new RENAME TO t;
    """
    found = lint(tmp_path / "sql", [LITE_BASE, sql], url=LITE_URL)
    assert where(found) == [("up/0002_m2.sql", 3, "sqlite-rebuild")] * 2
    assert {f.message.split(" of ")[0] for f in found} == {
        "drops index t_a",
        "drops trigger t_touch",
    }


def test_the_replay_uses_sqlites_own_verdict(tmp_path):
    """What the replay reports is exactly what SQLite says when sqlmig applies the file."""
    sql = "ALTER TABLE t DROP COLUMN a;"
    (_, refused) = lint(tmp_path / "sql", [LITE_BASE, sql], url=LITE_URL)
    db = sqlite3.connect(":memory:")
    db.executescript(LITE_BASE)
    with pytest.raises(sqlite3.OperationalError) as exc:
        db.execute(sql)
    assert refused.message == f"SQLite refuses this statement: {exc.value}"


def test_after_a_refusal_the_file_is_not_judged_further(tmp_path):
    """apply stops at the first failing statement; what follows it would only echo it."""
    sql = "INSERT INTO nowhere VALUES (1);\nINSERT INTO nowhere VALUES (2);"
    assert rules(lint(tmp_path / "a", [LITE_BASE, sql], url=LITE_URL)) == ["sqlite-refused"]
    later = lint(tmp_path / "b", [LITE_BASE, sql, "INSERT INTO t_gone VALUES (1);"], url=LITE_URL)
    assert "the replay already failed at 0002_m2.sql:1" in later[-1].message


def test_down_files_replay_against_what_their_up_file_left(tmp_path):
    files = [
        (LITE_BASE, "DROP TABLE t;\nDROP TABLE p;"),
        ("CREATE TABLE q (id INTEGER, v TEXT);\nCREATE INDEX q_v ON q (v);", "DROP TABLE q;"),
        ("ALTER TABLE q ADD COLUMN w TEXT;", "ALTER TABLE q DROP COLUMN v;"),  # indexed: refused
    ]
    found = lint(tmp_path / "sql", files, url=LITE_URL)
    assert where(found) == [
        ("down/0003_m3.sql", 1, "drop-column"),
        ("down/0003_m3.sql", 1, "sqlite-drop-column"),
    ]


def test_a_rebuild_that_breaks_a_view_is_refused(tmp_path):
    """Renaming the new table over the old name re-checks every view: one that names the
    dropped table makes SQLite refuse the rename (3.26+, legacy_alter_table off)."""
    sql = """
    CREATE VIEW tb AS SELECT b FROM t;
    CREATE TABLE t_new (id INTEGER PRIMARY KEY, a TEXT, b TEXT, pid INTEGER);
    DROP TABLE t;
    ALTER TABLE t_new RENAME TO t;
    """
    found = lint(tmp_path / "sql", [LITE_BASE, sql], url=LITE_URL)
    assert where(found) == [("up/0002_m2.sql", 4, "sqlite-refused")]
    assert "error in view tb" in found[0].message


def test_the_replay_never_writes_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sql = NO_TX + "ATTACH DATABASE 'other.db' AS other;\nVACUUM INTO 'copy.db';"
    assert lint(tmp_path / "sql", [LITE_BASE, sql], url=LITE_URL) == []
    assert not (tmp_path / "other.db").exists() and not (tmp_path / "copy.db").exists()


def test_a_statement_that_runs_too_long_in_the_replay_is_cut_short(tmp_path, monkeypatch):
    from sqlmig.lint import sqlite_rules

    monkeypatch.setattr(sqlite_rules, "STATEMENT_BUDGET_S", 0.05)
    forever = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n;"
    )
    assert lint(tmp_path / "sql", [LITE_BASE, forever], url=LITE_URL) == []
