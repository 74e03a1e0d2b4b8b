"""The contract every engine keeps (engines/base.py Driver and Engine), one suite for both.

Like golang-migrate's driver test suite: the same test code runs on SQLite and on
PostgreSQL; what only one engine does is tested in test_sqlite.py / test_postgres.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sqlmig.config import Settings
from sqlmig.engines import open_engine
from sqlmig.engines.base import DbFailure, Engine
from sqlmig.engines.bookkeeping import qualify
from sqlmig.engines.store import Store
from sqlmig.errors import LockTimeout
from sqlmig.models import EventKind, Migration, RowStatus, SqlFile, StoredSql
from sqlmig.records import RunContext
from sqlmig.splitter import split
from tests.helpers import OWN_TABLES

EngineFactory = Callable[..., Engine]


@pytest.fixture
def make_engine(db_url: str) -> Iterator[EngineFactory]:
    """Open engines on the test's database (closed afterwards); ``settings`` override."""
    opened: list[Engine] = []

    def make(*, write: bool = True, **settings: object) -> Engine:
        engine = open_engine(replace(Settings(database_url=db_url), **settings), write=write)
        opened.append(engine)
        return engine

    yield make
    for engine in opened:
        engine.close()


@pytest.fixture
def engine(make_engine: EngineFactory) -> Engine:
    return make_engine()


def user_tables(engine: Engine) -> set[str]:
    return {key.split()[1] for key in engine.introspect() if key.startswith("table ")}


def migration() -> Migration:
    up = SqlFile(Path("sql/up/0001_t.sql"), "CREATE TABLE t (a int);", "c-up")
    return Migration(1, "t", up, SqlFile(Path("sql/down/0001_t.sql"), "DROP TABLE t;", "c-down"))


def test_a_transaction_that_raises_leaves_nothing(engine):
    with pytest.raises(RuntimeError), engine.transaction():
        engine.execute("CREATE TABLE t (a int)")
        raise RuntimeError("the migration failed after its first statement")
    assert "t" not in user_tables(engine)
    with pytest.raises(DbFailure) as info, engine.transaction():
        engine.execute("CREATE TABLE t (a int)")
        engine.execute("INSERT INTO no_such_table VALUES (1)")
    assert "no_such_table" in info.value.message and "t" not in user_tables(engine)
    with engine.transaction():  # and the connection is usable again
        engine.execute("CREATE TABLE t (a int)")
    assert "t" in user_tables(engine)


def test_the_version_row_commits_with_the_migration_or_not_at_all(engine):
    store = Store(engine, Settings(database_url=engine.url.raw))
    store.ensure_tables()
    ctx = RunContext(engine.db_user())
    m = migration()
    row = ctx.row(m, RowStatus.APPLIED, ms=1)
    event = ctx.event(EventKind.APPLY, m, duration_ms=1)
    with pytest.raises(RuntimeError), engine.transaction():
        engine.execute(m.up.text)
        store.write(store.record_statements("insert", row, event, StoredSql("up", "down")))
        raise RuntimeError("interrupted before commit")
    assert store.applied() == [] and store.history(None) == [] and "t" not in user_tables(engine)
    with engine.transaction():
        engine.execute(m.up.text)
        store.write(store.record_statements("insert", row, event, StoredSql("up", "down")))
    (applied,) = store.applied()
    assert (applied.version, applied.status, applied.checksum) == (1, RowStatus.APPLIED, "c-up")
    assert [e.event for e in store.history(None)] == [EventKind.APPLY]
    assert store.stored_sql([1]) == {1: StoredSql("up", "down")}


def test_a_write_batch_keeps_its_order_across_runs_of_one_statement(engine):
    # Runs of one statement go to the driver together (executemany); what comes between
    # them must still land between them.
    mark = "?" if engine.dialect == "sqlite" else "%s"
    insert, delete = f"INSERT INTO w VALUES ({mark})", f"DELETE FROM w WHERE x = {mark}"
    with engine.transaction():
        engine.execute("CREATE TABLE w (x int PRIMARY KEY)")
        engine.write_batch([(insert, (1,)), (insert, (2,)), (delete, (1,)), (insert, (1,))])
        engine.write_batch([(insert, (3,))])
    assert sorted(engine.query("SELECT x FROM w")) == [(1,), (2,), (3,)]


def test_reading_sqlmig_tables_that_do_not_exist_creates_nothing(make_engine):
    make_engine().close()  # the database exists (a SQLite file), sqlmig's tables do not
    engine = make_engine(write=False)
    store = Store(engine, Settings(database_url=engine.url.raw))
    assert store.applied() == [] and store.history(10) == [] and store.seeds() == {}
    assert store.event_counts() == {} and store.last_run() is None
    assert not (user_tables(engine) | _own(engine))


def _own(engine: Engine) -> set[str]:
    probe = Store(engine, Settings(database_url=engine.url.raw))
    own = Settings(database_url=engine.url.raw).own_tables
    return {name for i, name in enumerate(own) if probe._exists(i)}


def test_ensure_tables_is_idempotent_and_introspection_leaves_them_out(engine):
    store = Store(engine, Settings(database_url=engine.url.raw))
    store.ensure_tables()
    store.ensure_tables()  # a second runner doing the same
    assert _own(engine) == OWN_TABLES
    with engine.transaction():
        engine.execute("CREATE TABLE accounts (id int PRIMARY KEY)")
    assert user_tables(engine) == {"accounts"}
    assert "schema_version" not in engine.dump_schema()


def test_the_run_excludes_another_runner_until_it_ends_and_a_wait_times_out(make_engine):
    holder = make_engine()
    holder.lock(5)
    with holder.transaction():  # what a runner holds while it runs a step
        holder.execute("CREATE TABLE t (a int)")
        other = make_engine(lock_timeout=0.5)
        start = time.monotonic()
        with pytest.raises(LockTimeout) as info:
            other.lock(0.5)
            with other.transaction():
                other.execute("CREATE TABLE u (a int)")
        assert 0.4 < time.monotonic() - start < 5 and info.value.exit_code == 4
    holder.unlock()
    other.lock(0.5)  # free again
    with other.transaction():
        other.execute("CREATE TABLE u (a int)")
    other.unlock()
    assert user_tables(other) == {"t", "u"}


def test_the_change_token_holds_still_while_nobody_else_writes(engine):
    first = engine.change_token()
    with engine.transaction():
        engine.execute("CREATE TABLE t (a int)")  # our own commit is not someone else's
    assert engine.change_token() == first


def test_a_statement_past_the_statement_timeout_is_cancelled(make_engine):
    engine = make_engine(statement_timeout=0.3)
    engine.lock(1)  # PostgreSQL sets statement_timeout once the lock is taken
    slow = {
        "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        "WHERE x < 100000000) SELECT count(*) FROM c",
        "postgres": "SELECT pg_sleep(5)",
    }[engine.dialect]
    start = time.monotonic()
    with pytest.raises(DbFailure) as info, engine.transaction():
        engine.execute(slow)
    assert time.monotonic() - start < 4
    message = info.value.message.lower()
    assert "statement" in message and "timeout" in message
    engine.unlock()


BODIES = {
    "sqlite": (
        "CREATE TABLE t (a int, b text);\n"
        "CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN\n"
        "  UPDATE t SET b = CASE WHEN new.a > 0 THEN 'pos' ELSE 'neg' END WHERE rowid = new.rowid;\n"
        "  SELECT 1;\n"
        "END;\n"
        "INSERT INTO t (a) VALUES (1), (-1);\n"
    ),
    "postgres": (
        "CREATE TABLE t (a int, b text);\n"
        "CREATE FUNCTION sign_it() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN NEW.b := CASE WHEN NEW.a > 0 THEN 'pos' ELSE 'neg' END; RETURN NEW; END; $$;\n"
        "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION sign_it();\n"
        "INSERT INTO t (a) VALUES (1), (-1);\n"
    ),
}


def test_a_script_runs_routine_and_trigger_bodies_whole(engine):
    with engine.transaction():
        engine.execute_many([st.text for st in split(BODIES[engine.dialect], engine.dialect)])
    assert any(key.startswith("trigger ") for key in engine.introspect())
    assert sorted(engine.query("SELECT a, b FROM t")) == [(-1, "neg"), (1, "pos")]


def test_backup_then_restore_puts_the_database_back(engine, tmp_path):
    with engine.transaction():
        engine.execute("CREATE TABLE t (a int)")
        engine.execute("INSERT INTO t VALUES (1), (2)")
    backup = tmp_path / ("b.sqlite" if engine.dialect == "sqlite" else "b.pgdump")
    Store(engine, Settings(database_url=engine.url.raw)).ensure_tables()  # restore wants them
    source = engine.backup_to(backup)
    assert source == replace(engine.source(), schemas=source.schemas, left_out=source.left_out)
    with engine.transaction():
        engine.execute("DROP TABLE t")
        engine.execute("CREATE TABLE after_backup (a int)")
    finish = [(f"CREATE TABLE {qualify(engine.home, 'marker')} (a int)", ())]  # in its transaction
    engine.restore_from(backup, source, lambda: finish)
    assert user_tables(engine) == {"t", "marker"}
    assert sorted(engine.query("SELECT a FROM t")) == [(1,), (2,)]


def test_identity_and_existence(engine):
    assert engine.exists() and engine.label
    assert engine.db_user() == ("" if engine.dialect == "sqlite" else "postgres")
    engine.ping()


def test_a_statement_that_fails_among_many_is_named_when_the_engine_can_tell(engine):
    with engine.transaction():
        engine.execute("CREATE TABLE u (a int UNIQUE)")
    batch = ["INSERT INTO u VALUES (1)", "SELECT * FROM no_such_table", "INSERT INTO u VALUES (2)"]
    with pytest.raises(DbFailure) as info, engine.transaction():
        engine.execute_many(batch)
    assert info.value.index == 1 and "no_such_table" in info.value.message  # it says where
    assert engine.query("SELECT count(*) FROM u") == [(0,)]
    # A failure with no position: SQLite still knows which, PostgreSQL may not say.
    with pytest.raises(DbFailure) as info, engine.transaction():
        engine.execute_many(["INSERT INTO u VALUES (1)", "INSERT INTO u VALUES (1)"])
    assert info.value.index in (1, None) and (engine.dialect == "postgres" or info.value.index == 1)
