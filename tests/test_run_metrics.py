"""Monitoring that adds up: one run id per invocation, and metrics that describe the
newest run whole (its success, its duration from first file to last) and dirty versions."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers import query
from tests.test_cli import sqlmig
from tests.test_monitoring import parse_prometheus


def slow(url: str) -> str:
    """A statement that takes a few hundred milliseconds on either engine."""
    if url.startswith("postgres"):
        return "SELECT pg_sleep(0.3);"
    return (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000) "
        "SELECT count(*) FROM c;"
    )


def history(url: str) -> list[tuple[str, str, str, bool, int, datetime]]:
    rows = query(
        url,
        "SELECT event, name, run_id, success, duration_ms, at FROM schema_version_history "
        "ORDER BY id",
    )
    out = []
    for event, name, run, ok, ms, at in rows:
        stamp = at if isinstance(at, datetime) else datetime.fromisoformat(at)
        out.append((event, name, run, bool(ok), int(ms), stamp))
    return out


def metrics(url: str, cwd: Path) -> dict[str, float]:
    done = sqlmig("metrics", "-d", url, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return parse_prometheus(done.stdout)


def span(rows: list[tuple[str, str, str, bool, int, datetime]]) -> float:
    """First file's start to last file's end, from the history as written."""
    starts = [at - timedelta(milliseconds=ms) for *_, ms, at in rows]
    return (max(at for *_, at in rows) - min(starts)).total_seconds()


def test_apply_seed_is_one_run_and_its_metrics_cover_all_of_it(db_url, write_migration, tmp_path):
    folder = write_migration(1, "a", f"CREATE TABLE a (x int);\n{slow(db_url)}\n", "DROP TABLE a;")
    write_migration(2, "b", "CREATE TABLE b (x int);", "DROP TABLE b;")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.sql").write_text(f"INSERT INTO a VALUES (1);\n{slow(db_url)}\n")
    cwd = folder.parent
    first = metrics(db_url, cwd)
    assert "sqlmig_last_run_success" not in first and first["sqlmig_dirty_migrations"] == 0

    done = sqlmig("apply", "--seed", "--no-backup", "-d", db_url, cwd=cwd)
    assert done.returncode == 0, done.stderr
    rows = history(db_url)
    assert [(e, n) for e, n, *_ in rows] == [("apply", "a"), ("apply", "b"), ("seed", "a.sql")]
    assert len({run for _, _, run, *_ in rows}) == 1  # migrations and seeds: one run id
    found = metrics(db_url, cwd)
    assert found["sqlmig_last_run_success"] == 1
    took = found["sqlmig_last_run_duration_seconds"]
    # The whole run: the slow migration and the slow seed, and what lies between them,
    # not the seeds alone nor the sum of the events' own durations.
    assert took == pytest.approx(span(rows), abs=0.002)
    assert took >= sum(ms for *_, ms, _ in rows) / 1000 - 0.002 and took >= 0.5
    assert found["sqlmig_last_run_timestamp_seconds"] == pytest.approx(
        rows[-1][-1].timestamp(), abs=0.002
    )


def test_a_failed_run_and_a_dirty_version_show_until_a_good_run(db_url, write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    write_migration(
        2, "half", "-- sqlmig: no-transaction\nCREATE TABLE half (x int);\nSELECT * FROM nosuch;\n"
    )
    cwd = folder.parent
    failed = sqlmig("apply", "--no-backup", "-d", db_url, cwd=cwd)
    assert failed.returncode == 5, failed.stderr
    rows = history(db_url)
    assert [(e, ok) for e, _, _, ok, *_ in rows] == [("apply", True), ("fail", False)]
    assert len({run for _, _, run, *_ in rows}) == 1
    found = metrics(db_url, cwd)
    assert found["sqlmig_last_run_success"] == 0
    assert found["sqlmig_dirty_migrations"] == 1 and found["sqlmig_current_version"] == 1
    assert found["sqlmig_last_run_duration_seconds"] == pytest.approx(span(rows), abs=0.002)

    # Clearing the dirty row by hand is bookkeeping, not a run: the failed run stays the
    # newest one until a run succeeds.
    query(db_url, "DROP TABLE half")
    assert sqlmig("resolve", "2", "--rolled-back", "-d", db_url, cwd=cwd).returncode == 0
    found = metrics(db_url, cwd)
    assert found["sqlmig_dirty_migrations"] == 0 and found["sqlmig_last_run_success"] == 0

    (folder / "up" / "0002_half.sql").write_text("CREATE TABLE half (x int);\n")
    assert sqlmig("apply", "--no-backup", "-d", db_url, cwd=cwd).returncode == 0
    found = metrics(db_url, cwd)
    assert found["sqlmig_last_run_success"] == 1 and found["sqlmig_current_version"] == 2
    newest = [r for r in history(db_url) if r[0] == "apply"][-1:]
    assert found["sqlmig_last_run_duration_seconds"] == pytest.approx(span(newest), abs=0.002)


def test_a_failed_seed_fails_the_run_the_migrations_began(db_url, write_migration, tmp_path):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "bad.sql").write_text("INSERT INTO nowhere VALUES (1);\n")
    failed = sqlmig("apply", "--seed", "--no-backup", "-d", db_url, cwd=folder.parent)
    assert failed.returncode == 5, failed.stderr
    rows = history(db_url)
    assert [(e, n, ok) for e, n, _, ok, *_ in rows] == [
        ("apply", "a", True),
        ("fail", "bad.sql", False),
    ]
    assert len({run for _, _, run, *_ in rows}) == 1
    found = metrics(db_url, folder.parent)
    assert found["sqlmig_last_run_success"] == 0 and found["sqlmig_seeds_failed_total"] == 1


def test_bookkeeping_and_restore_of_one_migrator_share_its_run_id(sqlite_url, write_migration):
    from sqlmig import Migrator

    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    with Migrator(sqlite_url, folder, run_id="fixedrun") as m:
        m.baseline(1)
        taken = m.backup()
        m.restore(taken.path)
    runs = {r[0] for r in query(sqlite_url, "SELECT run_id FROM schema_version_history")}
    assert runs == {"fixedrun"}
