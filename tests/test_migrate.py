"""Apply, rollback, status and their refusals, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from sqlmig import (
    DirtyError,
    IrreversibleError,
    Migrator,
    State,
    StatementError,
    ValidationError,
    VersionMismatch,
)
from sqlmig.errors import ConfigError, SqlmigError, StateError
from tests.conftest import REPO
from tests.helpers import OWN_TABLES, query, snapshot, tables, versions

DEMO = REPO / "sql"


def demo_copy(tmp_path: Path) -> Path:
    target = tmp_path / "sql"
    shutil.copytree(DEMO, target)
    return target


def test_demo_set_applies_rolls_back_and_reapplies(db_url, tmp_path):
    folder = demo_copy(tmp_path)
    with Migrator(db_url, folder) as m:
        assert [e.state for e in m.status().entries] == [State.PENDING] * 5
        result = m.apply()
        assert [s.version for s in result.steps] == [1, 2, 3, 4, 5]
        assert m.status().ok and m.status().current_version == 5
        assert {"accounts", "profiles", "plans"} <= tables(db_url)

        assert [s.version for s in m.rollback().steps] == [5]
        assert m.status().current_version == 4
        assert [s.version for s in m.rollback(to=0).steps] == [4, 3, 2, 1]
        assert tables(db_url) <= OWN_TABLES
        m.apply(3)
        assert versions(db_url) == [1, 2, 3]
        m.apply()
        assert versions(db_url) == [1, 2, 3, 4, 5]


def test_version_row_records_checksums_and_who(db_url, write_migration):
    folder = write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    with Migrator(db_url, folder) as m:
        m.apply()
        (row,) = m.applied()
        mig = m.migrations()[0]
    assert (row.version, row.name, row.status, row.kind) == (1, "t", "applied", "migration")
    assert row.checksum == mig.up.checksum and row.down_checksum == mig.down.checksum
    assert "@" in row.applied_by and row.execution_ms is not None
    assert row.applied_at.endswith("+00:00")


def test_bad_sql_in_the_middle_names_file_line_and_leaves_db_as_it_was(db_url, write_migration):
    folder = write_migration(1, "good", "CREATE TABLE keep (a int);")
    write_migration(
        2,
        "bad",
        """\
        CREATE TABLE half (a int);
        INSERT INTO half VALUES (1);

        INSERT INTO half
        VALUES (1, 2, 3);
        CREATE TABLE never (a int);
        """,
    )
    with Migrator(db_url, folder) as m:
        m.apply(1)
        before = snapshot(db_url)
        with pytest.raises(StatementError) as info:
            m.apply()
        err = info.value
        assert err.path.name == "0002_bad.sql"
        assert err.line in (4, 5)  # statement start, or the exact line when the server says
        assert "INSERT INTO half" in err.statement
        assert err.rolled_back and err.exit_code == 5
        assert "This migration was rolled back: nothing of it stays, version 2 is not" in str(err)
        hist = m.history()
    assert snapshot(db_url) == before
    assert "half" not in tables(db_url) and versions(db_url) == [1]
    assert hist[0].event == "fail" and hist[0].version == 2 and not hist[0].success
    assert "0002_bad.sql:" in (hist[0].error or "")


def test_postgres_error_position_gives_the_exact_line(pg_url, write_migration):
    folder = write_migration(
        1, "syntax", "SELECT 1;\n\nCREATE TABLE t (\n  a int,\n  b nosuchtype\n);\n"
    )
    with Migrator(pg_url, folder) as m, pytest.raises(StatementError) as info:
        m.apply()
    assert info.value.line == 5
    assert info.value.code == "42704"
    assert 'type "nosuchtype" does not exist' in info.value.db_message


def test_edited_applied_file_blocks_apply_until_accepted(db_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    write_migration(2, "b", "CREATE TABLE b (x int);", "DROP TABLE b;")
    with Migrator(db_url, folder) as m:
        m.apply(1)
        (folder / "up" / "0001_a.sql").write_text("CREATE TABLE a (x int, y int);")
        assert m.status().entries[0].state is State.CHANGED
        with pytest.raises(ValidationError, match="0001_a.sql edited since applied") as info:
            m.apply()
        assert "sqlmig accept" in str(info.value)
        with pytest.raises(ValidationError):
            m.rollback()
        assert versions(db_url) == [1] and "b" not in tables(db_url)
        assert [p.version for p in m.validate()] == [1]
        assert m.accept() == [1]
        assert m.validate() == []
        m.apply()
        assert m.history()[1].event == "accept"
    assert versions(db_url) == [1, 2]


def test_an_edited_down_file_is_down_changed_and_rolls_back_as_it_is(db_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    with Migrator(db_url, folder) as m:
        m.apply()
        (folder / "down" / "0001_a.sql").write_text("DROP TABLE IF EXISTS a;")
        (entry,) = m.status().entries
        assert entry.state is State.DOWN_CHANGED and "down" in entry.detail
        (step,) = m.rollback().steps
        assert "changed since applied: ran it as it is now" in step.note
    assert versions(db_url) == []


def test_out_of_order_pending_is_refused_unless_allowed(db_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    write_migration(3, "c", "CREATE TABLE c (x int);")
    with Migrator(db_url, folder) as m:
        m.apply()
        write_migration(2, "b", "CREATE TABLE b (x int);")
        with pytest.raises(ValidationError, match="out of order"):
            m.apply()
        assert [s.version for s in m.apply(allow_out_of_order=True).steps] == [2]
    assert versions(db_url) == [1, 2, 3]


def test_database_ahead_of_code(db_url, write_migration, tmp_path):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    write_migration(2, "b", "CREATE TABLE b (x int);")
    with Migrator(db_url, folder) as m:
        m.apply()
        for sub in ("up", "down"):
            (folder / sub / "0002_b.sql").unlink()
        assert m.status().entries[1].state is State.MISSING
        with pytest.raises(ValidationError, match="ahead of this code"):
            m.apply()
        with pytest.raises(VersionMismatch, match="ahead of the code") as info:
            m.ensure_current()
        assert info.value.unknown == [2]


def test_ensure_current(db_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    with Migrator(db_url, folder) as m:
        with pytest.raises(VersionMismatch, match="behind the code: 1 pending") as info:
            m.ensure_current()
        assert info.value.pending == [1]
        m.apply()
        m.ensure_current()


def test_target_must_exist(db_url, write_migration):
    folder = write_migration(1, "a", "SELECT 1;")
    with (
        Migrator(db_url, folder) as m,
        pytest.raises(ConfigError, match="no migration with version 7"),
    ):
        m.apply(7)


def test_irreversible_stops_rollback_before_running_anything(db_url, write_migration):
    folder = write_migration(
        1,
        "a",
        "CREATE TABLE a (x int);",
        "-- sqlmig: irreversible drops customer data\nDROP TABLE a;",
    )
    write_migration(2, "b", "CREATE TABLE b (x int);", "DROP TABLE b;")
    with Migrator(db_url, folder) as m:
        m.apply()
        with pytest.raises(IrreversibleError, match="drops customer data"):
            m.rollback(2)
        assert versions(db_url) == [1, 2] and "b" in tables(db_url)
        m.rollback(1)
    assert versions(db_url) == [1]


def test_failed_down_file_rolls_back_and_keeps_the_row(db_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;\nDROP TABLE nosuch;")
    with Migrator(db_url, folder) as m:
        m.apply()
        with pytest.raises(StatementError) as info:
            m.rollback()
        assert info.value.line == 2 and info.value.path.parent.name == "down"
        message = str(info.value)
        assert "The down file's changes were undone: version 1 is still applied" in message
        assert "still applied" in (m.history()[0].error or "")  # the history says the same
    assert versions(db_url) == [1] and "a" in tables(db_url)


def test_no_transaction_failure_marks_dirty_until_resolved(db_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    write_migration(
        2,
        "outside",
        "-- sqlmig: no-transaction\nCREATE TABLE half (x int);\nSELECT * FROM nosuch;\n",
        "DROP TABLE half;",
    )
    with Migrator(db_url, folder) as m:
        with pytest.raises(StatementError) as info:
            m.apply()
        assert not info.value.rolled_back and "marked dirty" in str(info.value)
        assert "half" in tables(db_url)  # ran outside a transaction: the first statement stays
        entry = m.status().entries[1]
        assert entry.state is State.DIRTY and "sqlmig resolve 2" in entry.detail
        for action in (m.apply, m.rollback):
            with pytest.raises(DirtyError, match="sqlmig resolve 2 --applied"):
                action()
        with pytest.raises(StateError, match="not dirty"):
            m.resolve(1, applied=True)
        m.resolve(2, applied=False)
        assert versions(db_url) == [1]
        assert m.history()[0].event == "resolve"


def test_no_transaction_statements_run_outside_a_transaction(db_url, write_migration):
    if db_url.startswith("sqlite"):
        up = "-- sqlmig: no-transaction\nCREATE TABLE t (a int);\nVACUUM;\n"
    else:
        up = "-- sqlmig: no-transaction\nCREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n"
    folder = write_migration(1, "vacuum", up, "-- sqlmig: no-transaction\nDROP TABLE t;")
    with Migrator(db_url, folder) as m:
        m.apply()
        (row,) = m.applied()
        assert row.status == "applied"
        m.rollback()
    assert versions(db_url) == []


def test_baseline_adopts_an_existing_database(db_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    write_migration(2, "b", "CREATE TABLE b (x int);")
    write_migration(3, "c", "CREATE TABLE c (x int);")
    query(db_url, "CREATE TABLE a (x int)")
    query(db_url, "CREATE TABLE b (x int)")
    with Migrator(db_url, folder) as m:
        assert [x.version for x in m.baseline(2)] == [1, 2]
        assert [r.kind for r in m.applied()] == ["baseline", "baseline"]
        with pytest.raises(ValidationError, match="already has 2 row"):
            m.baseline(2)
        assert [s.version for s in m.apply().steps] == [3]
        assert m.history()[1].event == "baseline"


def test_status_and_dry_run_on_a_missing_sqlite_file_create_nothing(tmp_path, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    db = tmp_path / "never.db"
    with Migrator(f"sqlite:///{db}", folder) as m:
        assert m.status().count(State.PENDING) == 1
        assert [x.version for x in m.plan_apply()] == [1]
    assert not db.exists()


def test_custom_table_name_and_postgres_schema(pg_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);")
    with Migrator(pg_url, folder, table="migrations", schema="ops") as m:
        m.apply()
    assert query(pg_url, "SELECT version FROM ops.migrations") == [(1,)]
    assert query(pg_url, "SELECT count(*) FROM ops.migrations_history") == [(1,)]


def test_table_names_are_identifiers_not_sql(sqlite_url, write_migration):
    folder = write_migration(1, "a", "SELECT 1;")
    with pytest.raises(ConfigError, match="not a plain identifier"):
        Migrator(sqlite_url, folder, table='x"; DROP TABLE y; --')


def test_quoted_strings_with_percent_and_semicolons(db_url, write_migration):
    folder = write_migration(
        1,
        "text",
        """\
        CREATE TABLE notes (body text);
        INSERT INTO notes VALUES ('50%; off -- not a comment /* nor this */');
        INSERT INTO notes VALUES ('it''s; fine');
        """,
    )
    with Migrator(db_url, folder) as m:
        m.apply()
    assert sorted(query(db_url, "SELECT body FROM notes")) == [
        ("50%; off -- not a comment /* nor this */",),
        ("it's; fine",),
    ]


@pytest.mark.parametrize("control", ["COMMIT", "BEGIN", "END", "rollback", "BEGIN TRANSACTION"])
def test_transaction_control_in_a_transactional_file_is_refused_before_anything_runs(
    db_url, write_migration, control
):
    write_migration(1, "first", "CREATE TABLE first (x int);")
    folder = write_migration(
        2, "tx", f"CREATE TABLE a (x int);\n{control};\nCREATE TABLE b (x int);\n"
    )
    with Migrator(db_url, folder) as m:
        for refused in (m.apply, m.plan_apply, m.validate, m.status):
            with pytest.raises(ValidationError) as info:
                refused()
            (problem,) = info.value.problems
            assert problem.path is not None and problem.path.name == "0002_tx.sql"
            assert problem.message.startswith(f"line 2: {control.split()[0].upper()} in a file")
            assert "'-- sqlmig: no-transaction'" in problem.message
            assert info.value.exit_code == 1
    assert tables(db_url) <= OWN_TABLES and versions(db_url) == []  # not even version 1


NO_TRANSACTION_ONLY = {
    "postgres": [
        "CREATE INDEX CONCURRENTLY a_x ON a (x)",
        "create unique index concurrently a_x on a (x)",
        "DROP INDEX CONCURRENTLY IF EXISTS a_x",
        "REINDEX TABLE CONCURRENTLY a",
        "VACUUM a",
        "VACUUM (ANALYZE) a",
        "CREATE DATABASE other",
        "ALTER SYSTEM SET work_mem = '8MB'",
    ],
    "sqlite": ["VACUUM", "PRAGMA journal_mode = delete"],
}


def test_statements_that_cannot_run_in_a_transaction_are_refused_before_anything_runs(
    db_url, write_migration
):
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgres"
    write_migration(1, "a", "CREATE TABLE a (x int);")
    for v, statement in enumerate(NO_TRANSACTION_ONLY[dialect], start=2):
        folder = write_migration(v, f"s{v}", f"SELECT 1;\n{statement};\n")
    with Migrator(db_url, folder) as m, pytest.raises(ValidationError) as info:
        m.apply()
    assert [p.path.name for p in info.value.problems if p.path] == [
        f"{v:04d}_s{v}.sql" for v in range(2, len(NO_TRANSACTION_ONLY[dialect]) + 2)
    ]
    assert all(p.message.startswith("line 2: ") for p in info.value.problems)
    assert all("-- sqlmig: no-transaction" in p.message for p in info.value.problems)
    assert versions(db_url) == []
    # In a no-transaction file they run (one of them, on a table that exists by then).
    for v in range(2, len(NO_TRANSACTION_ONLY[dialect]) + 2):
        for sub in ("up", "down"):
            (folder / sub / f"{v:04d}_s{v}.sql").unlink()
    statement = NO_TRANSACTION_ONLY[dialect][0]
    write_migration(2, "outside", f"-- sqlmig: no-transaction\n{statement};\n")
    with Migrator(db_url, folder) as m:
        assert [s.version for s in m.apply(backup=False).steps] == [1, 2]


def test_savepoints_are_allowed(db_url, write_migration):
    folder = write_migration(
        1,
        "sp",
        """\
        CREATE TABLE a (x int);
        SAVEPOINT before_insert;
        INSERT INTO a VALUES (1);
        ROLLBACK TO SAVEPOINT before_insert;
        RELEASE SAVEPOINT before_insert;
        """,
    )
    with Migrator(db_url, folder) as m:
        m.apply()
    assert query(db_url, "SELECT count(*) FROM a") == [(0,)]


def test_renamed_file_is_noted_but_still_applied(db_url, write_migration):
    folder = write_migration(1, "old_name", "CREATE TABLE a (x int);")
    with Migrator(db_url, str(folder)) as m:
        m.apply()
        for sub in ("up", "down"):
            (folder / sub / "0001_old_name.sql").rename(folder / sub / "0001_new_name.sql")
        (entry,) = m.status().entries
    assert entry.state is State.APPLIED and entry.detail == "applied as old_name"


def test_failed_bookkeeping_write_rolls_the_migration_back(db_url, write_migration):
    """The version row and its history event are written together (pipelined on
    PostgreSQL); if either fails, so does the migration, and nothing of it stays."""
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
    if db_url.startswith("sqlite"):
        query(
            db_url,
            "CREATE TRIGGER reject BEFORE INSERT ON schema_version_history "
            "WHEN NEW.event = 'apply' BEGIN SELECT RAISE(ABORT, 'history is closed'); END",
        )
    else:
        query(
            db_url,
            "ALTER TABLE schema_version_history ADD CONSTRAINT reject CHECK (event <> 'apply') "
            "NOT VALID",
        )
    write_migration(2, "b", "CREATE TABLE b (x int);", "DROP TABLE b;")
    with Migrator(db_url, folder) as m, pytest.raises(SqlmigError) as info:
        m.apply(backup=False)
    assert "sqlmig's own tables" in str(info.value)
    assert "history is closed" in str(info.value) or "reject" in str(info.value)
    assert versions(db_url) == [1]
    assert "b" not in tables(db_url)


SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000) SELECT count(*) FROM c;",
    "postgres": "SELECT pg_sleep(5);",
}


def test_a_statement_past_the_statement_timeout_fails_on_its_line(db_url, write_migration):
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgres"
    folder = write_migration(1, "slow", f"CREATE TABLE t (a int);\n{SLOW[dialect]}\n")
    start = time.monotonic()
    with (
        Migrator(db_url, folder, statement_timeout=0.3) as m,
        pytest.raises(StatementError) as info,
    ):
        m.apply(backup=False)
    assert time.monotonic() - start < 5
    assert info.value.line == 2 and info.value.rolled_back
    assert "timeout" in info.value.db_message and info.value.exit_code == 5
    assert versions(db_url) == [] and "t" not in tables(db_url)


def test_a_failed_run_says_what_it_had_already_done(db_url, write_migration, tmp_path):
    write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    write_migration(2, "b", "CREATE TABLE b (x int);", "DROP TABLE b;")
    folder = write_migration(
        3, "bad", "CREATE TABLE c (x int);\nSELECT * FROM nowhere;", "SELECT 1;"
    )
    with Migrator(db_url, folder, backup_dir=tmp_path / "backups") as m:
        with pytest.raises(StatementError) as info:
            m.apply(backup=True)
        partial = info.value.partial
        assert partial is not None
        assert [(s.version, s.direction) for s in partial.applied] == [(1, "up"), (2, "up")]
        assert partial.backup is not None and partial.backup.path.is_file()
        assert partial.failed is not None and partial.failed.version == 3
        assert partial.failed.path.name == "0003_bad.sql" and partial.failed.direction == "up"
        assert info.value.__cause__ is not None  # the driver's own error, chained
        # Refused before anything ran: nothing to report as done.
        (folder / "up" / "0003_bad.sql").unlink()
        (folder / "down" / "0003_bad.sql").unlink()
        write_migration(1, "a", "CREATE TABLE a (x int); -- edited", "DROP TABLE a;")
        with pytest.raises(ValidationError) as refused:
            m.apply()
        assert refused.value.partial is None
    assert versions(db_url) == [1, 2]


def test_a_failed_rollback_says_what_it_had_already_undone(db_url, write_migration):
    write_migration(1, "a", "CREATE TABLE a (x int);", "SELECT * FROM nowhere;")
    write_migration(2, "b", "CREATE TABLE b (x int);", "DROP TABLE b;")
    folder = write_migration(3, "c", "CREATE TABLE c (x int);", "DROP TABLE c;")
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
        with pytest.raises(StatementError) as info:
            m.rollback(3)
    partial = info.value.partial
    assert partial is not None
    # SQLite's rollback took a backup first, as apply does; PostgreSQL's takes one on request.
    assert (partial.backup is None) == db_url.startswith("postgres")
    assert [(s.version, s.direction) for s in partial.applied] == [(3, "down"), (2, "down")]
    assert partial.failed is not None and partial.failed.path.name == "0001_a.sql"
    assert partial.failed.direction == "down"
    assert versions(db_url) == [1]
