"""sqlkind: every entry checked against the real engine, inside a transaction block."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from sqlmig.sqlkind import is_transaction_control, outside_transaction_only, tokens

PG_SETUP = """
CREATE TABLE t (id int PRIMARY KEY, a int, "concurrently" int);
CREATE INDEX t_a ON t (a);
CREATE TABLE p (id int, k int) PARTITION BY RANGE (id);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);
CREATE TYPE mood AS ENUM ('a');
CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x;
CREATE UNIQUE INDEX mv_x ON mv (x);
CREATE PUBLICATION pub FOR TABLE t;
"""

# Each is refused inside a transaction block (SQLSTATE 25001) by PostgreSQL.
PG_REFUSED = [
    "CREATE INDEX CONCURRENTLY t_b ON t (a)",
    "create unique index\n  concurrently t_b ON t (a)",
    "CREATE INDEX /* why */ CONCURRENTLY ON t (a)",
    "DROP INDEX CONCURRENTLY t_a",
    "REINDEX INDEX CONCURRENTLY t_a",
    "REINDEX TABLE CONCURRENTLY t",
    "REINDEX (CONCURRENTLY) TABLE t",
    "REINDEX (verbose, concurrently on) INDEX t_a",
    "REINDEX SCHEMA public",
    "REINDEX DATABASE {db}",
    "REINDEX SYSTEM {db}",
    "VACUUM",
    "vacuum/**/t",
    "VACUUM FULL t",
    "VACUUM (ANALYZE) t",
    "CLUSTER",
    "CLUSTER VERBOSE",
    "CREATE DATABASE zz_never",
    "DROP DATABASE IF EXISTS zz_never",
    "ALTER DATABASE {db} SET TABLESPACE pg_default",
    "CREATE TABLESPACE ts LOCATION '/nonexistent'",
    "DROP TABLESPACE IF EXISTS ts",
    "ALTER SYSTEM SET work_mem = '4MB'",
    "ALTER SYSTEM RESET ALL",
    "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY",
    "DISCARD ALL",
    "COMMIT PREPARED 'x'",
    "ROLLBACK PREPARED 'x'",
    "CREATE SUBSCRIPTION s CONNECTION 'dbname=none' PUBLICATION pub",
    "CREATE SUBSCRIPTION s CONNECTION 'dbname=none' PUBLICATION pub WITH (copy_data = false)",
]

# Each runs inside a transaction block (here: succeeds, then is rolled back).
PG_ACCEPTED = [
    "CREATE INDEX t_b ON t (a)",
    'CREATE INDEX t_c ON t ("concurrently")',
    "SELECT 'CREATE INDEX CONCURRENTLY x ON t (a)'",
    "SELECT $$VACUUM$$",
    "COMMENT ON TABLE t IS 'VACUUM FULL; CREATE DATABASE x'",
    "DROP INDEX t_a",
    "REINDEX INDEX t_a",
    "REINDEX TABLE t",
    "REINDEX (CONCURRENTLY false) TABLE t",
    "REINDEX (VERBOSE) TABLE t",
    "CLUSTER t USING t_pkey",
    "ANALYZE t",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
    "REFRESH MATERIALIZED VIEW mv",
    "ALTER TYPE mood ADD VALUE 'b'",
    "ALTER DATABASE {db} SET work_mem = '1MB'",
    "ALTER TABLE p DETACH PARTITION p1",
    "DISCARD PLANS",
    "CREATE SUBSCRIPTION s CONNECTION 'dbname=none' PUBLICATION pub WITH (connect = false)",
    "CREATE SUBSCRIPTION s CONNECTION 'dbname=none' PUBLICATION pub "
    "WITH (CREATE_SLOT = 'false', connect = off)",
    "CREATE TABLE vacuum_log (concurrently_built boolean)",
    "CHECKPOINT",
]


def _pg_error(url: str, sql: str) -> str | None:
    with psycopg.connect(url) as conn:  # not autocommit: inside a transaction block
        try:
            conn.execute(sql)
            return None
        except psycopg.Error as exc:
            return exc.sqlstate or str(exc)
        finally:
            conn.rollback()


def test_postgres_refusals_match_the_server(pg_url):
    db = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(PG_SETUP)
    wrong = []
    for template in PG_REFUSED:
        sql = template.format(db=db)
        if outside_transaction_only(sql, "postgres") is None:
            wrong.append(f"not classified: {sql}")
        if _pg_error(pg_url, sql) != "25001":
            wrong.append(f"server accepts it in a transaction: {sql}")
    for template in PG_ACCEPTED:
        sql = template.format(db=db)
        if (found := outside_transaction_only(sql, "postgres")) is not None:
            wrong.append(f"wrongly classified ({found.what}): {sql}")
        if (error := _pg_error(pg_url, sql)) is not None:
            wrong.append(f"server refuses it ({error}): {sql}")
    assert not wrong, "\n".join(wrong)


def test_each_refusal_names_the_statement_and_the_fix():
    found = outside_transaction_only("create index concurrently i on t (a)", "postgres")
    assert found is not None and not found.ignored
    assert found.what == "CREATE INDEX CONCURRENTLY"
    assert "inside a transaction block" in found.reason
    assert "-- sqlmig: no-transaction" in found.fix


def test_enum_add_value_is_refused_only_before_postgresql_12():
    sql = "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'b' AFTER 'a'"
    refused = outside_transaction_only(sql, "postgres", server_version=11)
    assert refused is not None and "before PostgreSQL 12" in refused.what
    assert outside_transaction_only(sql, "postgres", server_version=12) is None
    assert outside_transaction_only(sql, "postgres") is None  # default: a current server
    assert (
        outside_transaction_only(
            "ALTER TYPE mood RENAME VALUE 'a' TO 'b'", "postgres", server_version=10
        )
        is None
    )


SQLITE_REFUSED = [
    "VACUUM",
    "vacuum main",
    "VACUUM INTO 'copy.db'",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA main.journal_mode='truncate'",
    "PRAGMA journal_mode(memory)",
    "PRAGMA synchronous = OFF",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    "PRAGMA wal_checkpoint",
    "DETACH DATABASE aux",
    "DETACH aux",
]
SQLITE_ACCEPTED = [
    "PRAGMA journal_mode = WAL",  # already WAL: a no-op
    "PRAGMA journal_mode",
    "PRAGMA synchronous",
    "PRAGMA user_version = 3",
    "PRAGMA defer_foreign_keys = ON",
    "CREATE TABLE vacuum (detach TEXT)",
    "SELECT 'VACUUM'",
    "INSERT INTO t VALUES ('PRAGMA journal_mode = DELETE')",
]


def _sqlite_error(path: Path, sql: str) -> str | None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("ATTACH ':memory:' AS aux")
        conn.execute("BEGIN IMMEDIATE")  # how sqlmig runs a transactional file
        conn.execute(sql).fetchall()
        return None
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()


def test_sqlite_refusals_match_sqlite(tmp_path):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("CREATE TABLE t (a TEXT)")
    conn.close()
    wrong = []
    for sql in SQLITE_REFUSED:
        if outside_transaction_only(sql, "sqlite") is None:
            wrong.append(f"not classified: {sql}")
        if _sqlite_error(path, sql) is None:
            wrong.append(f"SQLite accepts it in a transaction: {sql}")
    for sql in SQLITE_ACCEPTED:
        if (found := outside_transaction_only(sql, "sqlite")) is not None:
            wrong.append(f"wrongly classified ({found.what}): {sql}")
        if (error := _sqlite_error(path, sql)) is not None:
            wrong.append(f"SQLite refuses it ({error}): {sql}")
    assert not wrong, "\n".join(wrong)


def test_sqlite_journal_mode_depends_on_the_mode_in_force(tmp_path):
    assert outside_transaction_only("PRAGMA journal_mode = wal", "sqlite", journal_mode="delete")
    assert (
        outside_transaction_only("PRAGMA journal_mode = truncate", "sqlite", journal_mode="delete")
        is None
    )
    path = tmp_path / "rollback.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = delete")
    conn.execute("CREATE TABLE t (a)")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("PRAGMA journal_mode = truncate")  # between rollback modes: fine
    with pytest.raises(sqlite3.OperationalError, match="wal mode"):
        conn.execute("PRAGMA journal_mode = wal")
    conn.close()


def test_sqlite_foreign_keys_pragma_is_ignored_inside_a_transaction(tmp_path):
    found = outside_transaction_only("PRAGMA foreign_keys = ON", "sqlite")
    assert found is not None and found.ignored
    assert outside_transaction_only("PRAGMA foreign_keys", "sqlite") is None  # a read
    conn = sqlite3.connect(tmp_path / "fk.db", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("PRAGMA foreign_keys = ON")  # accepted...
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (0,)  # ...and ignored
    conn.close()


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("BEGIN", "postgres"),
        ("begin work", "postgres"),
        ("BEGIN IMMEDIATE TRANSACTION", "sqlite"),
        ("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", "postgres"),
        ("COMMIT", "sqlite"),
        ("END TRANSACTION", "sqlite"),
        ("end", "postgres"),
        ("ABORT", "postgres"),
        ("ROLLBACK", "postgres"),
        ("ROLLBACK AND CHAIN", "postgres"),
        ("ROLLBACK TRANSACTION", "sqlite"),
        ("PREPARE TRANSACTION 'x'", "postgres"),
        ("COMMIT /* done */", "postgres"),
    ],
)
def test_transaction_control(sql, dialect):
    assert is_transaction_control(sql, dialect)


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("SAVEPOINT s", "postgres"),
        ("RELEASE SAVEPOINT s", "sqlite"),
        ("ROLLBACK TO s", "sqlite"),
        ("ROLLBACK TRANSACTION TO SAVEPOINT s", "postgres"),
        ("ROLLBACK WORK TO SAVEPOINT s", "postgres"),
        ("ROLLBACK /* undo */ TO s", "postgres"),
        ("COMMIT PREPARED 'x'", "postgres"),
        ("ROLLBACK PREPARED 'x'", "postgres"),
        ("PREPARE q AS SELECT 1", "postgres"),
        ("CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", "sqlite"),
        ("DO $$BEGIN PERFORM 1; END$$", "postgres"),
        ("SELECT 'BEGIN'", "postgres"),
        ('"begin"', "postgres"),
        ("START_TIME", "postgres"),
    ],
)
def test_not_transaction_control(sql, dialect):
    assert not is_transaction_control(sql, dialect)


def test_transaction_control_agrees_with_postgresql(pg_url):
    """What is classified as control really ends or starts a transaction on the server."""
    for sql in ("COMMIT", "END", "ABORT", "ROLLBACK AND CHAIN"):
        with psycopg.connect(pg_url) as conn:
            conn.execute("CREATE TEMP TABLE probe (x int)")
            conn.execute(sql)
            conn.execute("ROLLBACK")
            # The temp table survived only where the statement committed it.
            exists = conn.execute("SELECT to_regclass('pg_temp.probe') IS NOT NULL").fetchone()
            assert exists == ((sql in ("COMMIT", "END")),), sql


def test_tokens_keep_quotes_comments_and_dollar_bodies_whole():
    sql = 'SELECT e\'it\\\'s\', $f$ ; $f$, "a""b" /* x /* y */ z */ -- tail\n, [w]'
    kinds = [(t.kind, t.text) for t in tokens(sql, "postgres", comments=True)]
    assert ("string", "e'it\\'s'") in kinds
    assert ("string", "$f$ ; $f$") in kinds
    assert ("ident", '"a""b"') in kinds
    assert ("comment", "/* x /* y */ z */") in kinds
    assert ("comment", "-- tail") in kinds
    lite = tokens("SELECT `a``b`, [c d] /* x */", "sqlite")
    assert [t.name for t in lite if t.kind == "ident"] == ["a`b", "c d"]
    assert tokens('"A""B"', "postgres")[0].name == 'A"B'
