"""apply/rollback --single-transaction: every migration in range and its version row in
one transaction, all or nothing."""

from __future__ import annotations

import pytest

from sqlmig import Migrator, StatementError, ValidationError
from tests.helpers import tables, versions


def three(write_migration, third: str = "CREATE TABLE c (x int);"):
    write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    write_migration(2, "b", "CREATE TABLE b (x int);", "DROP TABLE b;")
    return write_migration(3, "c", third, "DROP TABLE c;")


def test_all_of_it_commits_together(db_url, write_migration):
    folder = three(write_migration)
    with Migrator(db_url, folder) as m:
        result = m.apply(backup=False, single_transaction=True)
        assert [s.version for s in result.steps] == [1, 2, 3]
        assert [e.event for e in m.history()][:3] == ["apply"] * 3
        run_ids = {e.run_id for e in m.history()}
        back = m.rollback(to=0, single_transaction=True)
        assert [s.version for s in back.steps] == [3, 2, 1]
    assert versions(db_url) == [] and not {"a", "b", "c"} & tables(db_url)
    assert len(run_ids) == 1


def test_the_version_rows_are_written_together_before_the_commit(
    db_url, write_migration, monkeypatch
):
    # One batch, not one per migration: after each migration's DDL SQLite would compile
    # the bookkeeping statements again, and PostgreSQL would pay a round trip each.
    from sqlmig.engines.store import Store

    batches: list[int] = []
    write = Store.write
    monkeypatch.setattr(
        Store, "write", lambda self, st: (batches.append(len(st)), write(self, st))[1]
    )
    folder = three(write_migration)
    with Migrator(db_url, folder) as m:
        m.apply(backup=False, single_transaction=True)
        assert batches == [6]  # three version rows and three history events
        assert [(e.event, e.version, e.success) for e in m.history()][::-1] == [
            ("apply", 1, True),
            ("apply", 2, True),
            ("apply", 3, True),
        ]
        entries = m.status().entries
        assert [e.state for e in entries] == ["applied"] * 3
        assert all(
            e.row and e.migration and e.row.checksum == e.migration.up.checksum for e in entries
        )


def test_a_failure_anywhere_leaves_nothing_of_the_run(db_url, write_migration, tmp_path):
    folder = three(write_migration, "CREATE TABLE c (x int);\nSELECT * FROM nowhere;")
    with Migrator(db_url, folder, backup_dir=tmp_path / "b") as m:
        with pytest.raises(StatementError) as info:
            m.apply(backup=True, single_transaction=True)
        history = m.history()
    err = info.value
    assert err.path.name == "0003_c.sql" and err.line == 2
    assert "the whole run was rolled back, none of its migrations stays" in str(err)
    assert err.partial is not None and err.partial.applied == []  # nothing committed
    assert err.partial.backup is not None  # but the backup was taken, and is named
    assert versions(db_url) == [] and not {"a", "b", "c"} & tables(db_url)
    assert [(e.event, e.version) for e in history] == [("fail", 3)]  # recorded afterwards


def test_a_no_transaction_file_in_range_is_refused_before_anything_runs(db_url, write_migration):
    three(write_migration)
    folder = write_migration(4, "vac", "-- sqlmig: no-transaction\nSELECT 1;", "SELECT 1;")
    with Migrator(db_url, folder) as m:
        with pytest.raises(ValidationError) as info:
            m.apply(backup=False, single_transaction=True)
        assert "0004_vac.sql" in str(info.value) and "runs outside a transaction" in str(info.value)
        assert versions(db_url) == []
        m.apply(3, backup=False, single_transaction=True)  # stopping before it is fine
    assert versions(db_url) == [1, 2, 3]


def test_sqlite_checks_foreign_keys_once_over_the_whole_run(sqlite_url, write_migration):
    write_migration(1, "p", "CREATE TABLE p (id INTEGER PRIMARY KEY);", "DROP TABLE p;")
    write_migration(
        2,
        "c",
        "CREATE TABLE c (p_id INTEGER REFERENCES p (id)); INSERT INTO c VALUES (7);",
        "DROP TABLE c;",
    )
    folder = write_migration(3, "fill", "INSERT INTO p VALUES (7);", "DELETE FROM p;")
    with Migrator(sqlite_url, folder) as m:  # 2 alone would fail; 2 and 3 together hold
        m.apply(backup=False, single_transaction=True)
    assert versions(sqlite_url) == [1, 2, 3]
    write_migration(4, "orphan", "DELETE FROM p;", "SELECT 1;")
    with (
        Migrator(sqlite_url, folder) as m,
        pytest.raises(StatementError, match="c rowid 1 references p"),
    ):
        m.apply(backup=False, single_transaction=True)
    assert versions(sqlite_url) == [1, 2, 3]


def test_postgres_out_of_locks_says_what_to_raise(write_migration):
    from tests.pgcluster import start_cluster

    cluster = start_cluster("max_locks_per_transaction=10", "max_connections=20")
    try:
        url = cluster.admin_url
        folder = None
        # The lock table holds max_locks_per_transaction x (connections and workers), ~400
        # here; 150 tables of 6 relations each need more.
        for v in range(1, 151):
            folder = write_migration(
                v, f"t{v}", f"CREATE TABLE t{v} (id serial PRIMARY KEY, a text UNIQUE);"
            )
        with Migrator(url, folder) as m, pytest.raises(StatementError) as info:
            m.apply(backup=False, single_transaction=True)
        assert info.value.code == "53200"
        assert "raise max_locks_per_transaction" in str(info.value)
        assert "apply without --single-transaction" in str(info.value)
        with Migrator(url, folder) as m:
            assert versions(url) == []
            m.apply(backup=False)  # one transaction each fits
        assert len(versions(url)) == 150
    finally:
        cluster.stop()


def test_the_dry_run_shows_one_transaction(tmp_path, write_migration):
    from tests.test_cli import sqlmig

    three(write_migration)
    out = sqlmig("apply", "--dry-run", "--single-transaction", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("BEGIN;") == 1 and out.stdout.count("COMMIT;") == 1
    assert out.stdout.index("BEGIN;") < out.stdout.index("0001_a.sql") < out.stdout.index("COMMIT;")
    write_migration(4, "vac", "-- sqlmig: no-transaction\nSELECT 1;")
    refused = sqlmig("apply", "--dry-run", "--single-transaction", cwd=tmp_path)
    assert refused.returncode == 1 and "0004_vac.sql" in refused.stderr
