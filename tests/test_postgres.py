"""PostgreSQL specifics: advisory lock, lock_timeout, statement_timeout, bodies with semicolons."""

from __future__ import annotations

import time

import psycopg
import pytest

from sqlmig import ConnectError, LockTimeout, Migrator, StatementError, ValidationError
from sqlmig.engines import open_engine
from tests.helpers import query, versions


def test_advisory_lock_held_by_another_runner(pg_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    with Migrator(pg_url, folder) as holder:
        engine = holder.engine(write=True)
        engine.lock(1)
        start = time.monotonic()
        with (
            Migrator(pg_url, folder, lock_timeout=0.5) as other,
            pytest.raises(LockTimeout) as info,
        ):
            other.apply()
        assert 0.4 < time.monotonic() - start < 5
        assert "another sqlmig run" in str(info.value) and "held by pid" in str(info.value)
        assert info.value.exit_code == 4
        engine.unlock()
    assert versions(pg_url) == []


def test_a_waiting_runner_holds_no_snapshot_between_polls(pg_url, write_migration):
    """What CREATE INDEX CONCURRENTLY waits for is a snapshot (backend_xmin): a runner
    waiting for the run lock must hold one only for the instant of each poll."""
    import threading

    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    with Migrator(pg_url, folder) as holder:
        holder.engine(write=True).lock(1)

        def wait_and_apply() -> None:
            with Migrator(pg_url, folder, lock_timeout=30) as waiting:
                waiting.apply()

        waiter = threading.Thread(target=wait_and_apply)
        waiter.start()
        samples = []
        with psycopg.connect(pg_url, autocommit=True) as watch:
            for _ in range(40):
                samples += watch.execute(
                    "SELECT state, backend_xmin IS NOT NULL FROM pg_stat_activity "
                    "WHERE application_name = 'sqlmig' AND pid <> %s",
                    (holder.engine().conn.info.backend_pid,),  # type: ignore[attr-defined]
                ).fetchall()
                time.sleep(0.05)
        holder.engine().unlock()
        waiter.join()
    assert len(samples) >= 30  # the waiter was there
    assert sum(xmin for _, xmin in samples) <= 3, samples
    assert {state for state, _ in samples} <= {"idle", "active"}
    assert versions(pg_url) == [1]


def test_lock_timeout_fails_fast_behind_a_long_transaction(pg_url, write_migration):
    query(pg_url, "CREATE TABLE busy (a int)")
    folder = write_migration(1, "alter", "ALTER TABLE busy ADD COLUMN b int;")
    with Migrator(pg_url, folder) as m:
        m.baseline(0)  # busy is made by hand, not by a migration: apply would refuse it
    with psycopg.connect(pg_url) as blocker:
        blocker.execute("SELECT * FROM busy")  # holds ACCESS SHARE until the transaction ends
        start = time.monotonic()
        with Migrator(pg_url, folder, lock_timeout=0.5) as m, pytest.raises(StatementError) as info:
            m.apply()
        assert time.monotonic() - start < 5
        blocker.rollback()
    assert info.value.code == "55P03" and info.value.exit_code == 4
    assert isinstance(info.value, LockTimeout)  # a lock not acquired, like the others
    assert (
        "lock timeout" in info.value.db_message and "--lock-timeout 0.5s" in info.value.db_message
    )
    assert versions(pg_url) == []


def test_function_bodies_and_begin_atomic(pg_url, write_migration):
    folder = write_migration(
        1,
        "functions",
        """\
        CREATE TABLE t (a int);
        CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            NEW.a := NEW.a + 1;  -- a semicolon; and a 'quote'
            RETURN NEW;
        END;
        $body$;
        CREATE TRIGGER t_bump BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION bump();
        CREATE FUNCTION sign_of(x int) RETURNS text LANGUAGE sql
        BEGIN ATOMIC
            SELECT CASE WHEN x > 0 THEN 'pos' ELSE 'neg' END;
        END;
        INSERT INTO t VALUES (1);
        """,
    )
    with Migrator(pg_url, folder) as m:
        m.apply()
    assert query(pg_url, "SELECT a, sign_of(a) FROM t") == [(2, "pos")]


def test_session_settings(pg_url, write_migration):
    folder = write_migration(1, "a", "SELECT 1;")
    with Migrator(pg_url, folder, lock_timeout=2, statement_timeout=3) as m:
        engine = m.engine(write=True)
        engine.lock(2)
        assert query_engine(engine, "SHOW lock_timeout") == "2s"
        assert query_engine(engine, "SHOW statement_timeout") == "3s"
        engine.unlock()


def query_engine(engine, sql):
    return engine.conn.execute(sql).fetchone()[0]


def test_open_engine_reports_the_schema(pg_url, write_migration):
    from sqlmig.config import Settings

    engine = open_engine(Settings(database_url=pg_url), write=False)
    try:
        assert engine.schema == "public"  # type: ignore[attr-defined]
    finally:
        engine.close()


def test_start_transaction_is_refused_too(pg_url, write_migration):
    from tests.helpers import OWN_TABLES, tables

    folder = write_migration(
        1, "tx", "CREATE TABLE a (x int);\nSTART TRANSACTION;\nCREATE TABLE b (x int);\n"
    )
    with (
        Migrator(pg_url, folder) as m,
        pytest.raises(ValidationError, match="line 2: START in a file sqlmig runs in one"),
    ):
        m.apply()
    assert tables(pg_url) <= OWN_TABLES


def test_version_table_is_found_after_a_migration_creates_a_schema_on_the_path(
    pg_url, write_migration
):
    """With search_path = app, public and no app yet, sqlmig's tables go to public; once
    a migration creates app, later runs must still find them there, not start over."""
    query(
        pg_url,
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = app, public', "
        "current_database()); END $$",
    )
    folder = write_migration(
        1, "app", "CREATE SCHEMA app; CREATE TABLE widgets (id int);", "DROP SCHEMA app CASCADE;"
    )
    with Migrator(pg_url, folder) as m:
        m.apply(backup=False)
    with Migrator(pg_url, folder) as m:
        assert [e.state.value for e in m.status().entries] == ["applied"]
        assert m.apply(backup=False).steps == []
        assert "schema_version" not in m.dump().text


def test_a_server_older_than_the_floor_is_refused_by_name(pg_url, write_migration, monkeypatch):
    from sqlmig.engines import postgres as engine

    folder = write_migration(1, "a", "CREATE TABLE a (id int);")
    with Migrator(pg_url, folder) as m:  # the suite's own server is a supported one
        m.status()
    monkeypatch.setattr(engine, "MIN_SERVER", 99)
    with (
        Migrator(pg_url, folder) as m,
        pytest.raises(ConnectError, match="supports PostgreSQL 99 and newer"),
    ):
        m.apply()
    assert versions(pg_url) == []


def test_a_statement_refused_inside_a_transaction_says_how_to_run_it(pg_url, write_migration):
    # Hidden from the set check in a DO block: the server's refusal names the fix.
    folder = write_migration(1, "db", "DO $$ BEGIN EXECUTE 'CREATE DATABASE zz'; END $$;")
    with Migrator(pg_url, folder) as m, pytest.raises(StatementError) as info:
        m.apply()
    assert info.value.code == "25001"
    assert "cannot run inside a transaction block" in info.value.db_message
    assert "HINT: put '-- sqlmig: no-transaction' at the top of the file" in info.value.db_message
