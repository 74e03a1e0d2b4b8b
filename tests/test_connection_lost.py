"""The server goes away in the middle of a migration (restart, failover, crash): what
sqlmig says must be what happened, and the next run, once the server is back, starts
from there. A cluster of its own, since these tests stop it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sqlmig import docschema
from sqlmig.models import Direction, Migration, SqlFile
from sqlmig.outcomes import At, lost_outcome
from tests.helpers import query, versions
from tests.pgcluster import Cluster, start_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Commits reach the WAL before they return, so a crash keeps what committed.
    cluster = start_cluster("synchronous_commit=on")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def db(cluster: Cluster) -> str:
    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS lost WITH (FORCE)")
        conn.execute("CREATE DATABASE lost")
    return cluster.url("lost")


def sqlmig(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sqlmig", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


SLEEPING = (
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'sqlmig' "
    "AND state = 'active' AND query LIKE '%SELECT pg_sleep(60)%'"
)


def asleep(db: str, args: list[str]) -> tuple[subprocess.Popen[str], int]:
    """sqlmig started and running its statement `SELECT pg_sleep(60)`; its backend pid."""
    proc = sqlmig(*args)
    deadline = time.monotonic() + 60
    while not (found := query(db, SLEEPING)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the migration never reached its sleep"
        time.sleep(0.05)
    return proc, found[0][0]


def lose_the_server_during(
    cluster: Cluster, db: str, args: list[str], mode: str
) -> tuple[int, str, str]:
    """Run sqlmig until it sleeps, stop the server (``mode``: fast or immediate), start
    it again; sqlmig's exit code and output."""
    proc, _ = asleep(db, args)
    cluster.halt(mode)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        cluster.start()
    return proc.returncode, out, err


def write(folder: Path, version: int, name: str, up: str) -> None:
    for sub in ("up", "down"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "up" / f"{version:04d}_{name}.sql").write_text(up)
    (folder / "down" / f"{version:04d}_{name}.sql").write_text("SELECT 1;\n")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["immediate", "fast"])
def test_a_transactional_migration_is_gone_whole_and_the_next_run_applies_it(
    cluster, db, tmp_path, mode
):
    folder = tmp_path / "sql"
    write(folder, 1, "a", "CREATE TABLE a (x int);\n")
    write(
        folder, 2, "b", "CREATE TABLE b (x int);\nINSERT INTO b VALUES (1);\nSELECT pg_sleep(60);\n"
    )
    args = ["apply", "-d", db, "--dir", str(folder), "--json"]
    code, out, err = lose_the_server_during(cluster, db, args, mode)
    assert code == 3, err
    assert "lost the connection to" in err
    assert "Version 2 (b) ran in one transaction, which the server rolled back" in err
    assert "nothing of it stays" in err and "Run `sqlmig apply` again" in err
    doc = json.loads(out)
    assert docschema.check(doc) == []
    assert doc["error"]["kind"] == "ConnectionLost" and doc["error"]["exit_code"] == 3
    assert [s["version"] for s in doc["applied"]] == [1]
    assert versions(db) == [1]
    assert query(db, "SELECT to_regclass('b')") == [(None,)]
    # Once the server is back the next run starts cleanly: no stale lock, no half state.
    write(folder, 2, "b", "CREATE TABLE b (x int);\nINSERT INTO b VALUES (1);\n")
    again = sqlmig("apply", "-d", db, "--dir", str(folder), "--lock-timeout", "5")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert versions(db) == [1, 2] and query(db, "SELECT x FROM b") == [(1,)]
    applies = query(
        db, "SELECT version FROM schema_version_history WHERE event = 'apply' ORDER BY id"
    )
    assert applies == [(1,), (2,)]


@pytest.mark.slow
def test_a_terminated_session_is_a_lost_connection_and_recorded_in_the_history(db, tmp_path):
    folder = tmp_path / "sql"
    write(folder, 1, "a", "CREATE TABLE a (x int);\nSELECT pg_sleep(60);\n")
    proc, pid = asleep(db, ["apply", "-d", db, "--dir", str(folder)])
    query(db, f"SELECT pg_terminate_backend({pid})")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "terminating connection due to administrator command" in err
    assert "Version 1 (a) ran in one transaction, which the server rolled back" in err
    # The server is still there: a new session records the failure.
    failed = query(db, "SELECT version, error FROM schema_version_history WHERE event = 'fail'")
    assert [v for v, _ in failed] == [1] and failed[0][1].startswith("lost the connection to")
    assert "Version 1 (a) ran in one transaction" in failed[0][1]
    assert versions(db) == [] and query(db, "SELECT to_regclass('a')") == [(None,)]


@pytest.mark.slow
def test_a_no_transaction_migration_is_left_dirty_and_said_so(cluster, db, tmp_path):
    folder = tmp_path / "sql"
    write(folder, 1, "a", "CREATE TABLE a (x int);\n")
    write(
        folder,
        2,
        "b",
        "-- sqlmig: no-transaction\nCREATE TABLE b (x int);\nSELECT pg_sleep(60);\n"
        "CREATE TABLE c (x int);\n",
    )
    code, _, err = lose_the_server_during(
        cluster, db, ["apply", "-d", db, "--dir", str(folder)], "fast"
    )
    assert code == 3, err
    assert "lost the connection to" in err
    assert "Version 2 (b) runs outside a transaction" in err and "marked dirty" in err
    assert "sqlmig resolve 2" in err
    assert query(db, "SELECT version, status FROM schema_version ORDER BY version") == [
        (1, "applied"),
        (2, "dirty"),
    ]
    assert query(db, "SELECT to_regclass('b') IS NOT NULL, to_regclass('c') IS NULL") == [
        (True, True)
    ]
    again = sqlmig("apply", "-d", db, "--dir", str(folder), "--lock-timeout", "5")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 1 and "version 2 (b) is dirty" in err  # said, not stuck


@pytest.mark.slow
def test_a_seed_file_is_gone_whole(cluster, db, tmp_path):
    folder = tmp_path / "sql"
    write(folder, 1, "a", "CREATE TABLE a (x int);\n")
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "plans.sql").write_text(
        "INSERT INTO a VALUES (1);\nSELECT pg_sleep(60);\n"
    )
    args = ["apply", "--seed", "-d", db, "--dir", str(folder)]
    code, _, err = lose_the_server_during(cluster, db, args, "immediate")
    assert code == 3, err
    assert "Seed file plans.sql ran in one transaction, which the server rolled back" in err
    assert versions(db) == [1] and query(db, "SELECT count(*) FROM a") == [(0,)]


def one(no_transaction: bool) -> Migration:
    files = [
        SqlFile(Path(f"sql/{d}/0007_x.sql"), "SELECT 1;", "c", no_transaction)
        for d in ("up", "down")
    ]
    return Migration(7, "x", *files)


# Where the connection can be lost, in each kind of file and direction: what is said.
LOST = [
    (False, Direction.UP, At.CLAIM, ["nothing of it stays", "`sqlmig apply` again"]),
    (False, Direction.DOWN, At.CLAIM, ["nothing of it stays", "version 7 is still applied"]),
    (False, Direction.UP, At.COMMIT, ["committed it whole", "`sqlmig status` shows which"]),
    (True, Direction.UP, At.CLAIM, ["None of version 7 (x) ran", "`sqlmig apply` again"]),
    (True, Direction.UP, At.COMMIT, ["None of version 7 (x) ran", "resolve 7 --rolled-back`"]),
    (True, Direction.DOWN, At.COMMIT, ["None of the down file", "resolve 7 --applied`"]),
    (True, Direction.UP, At.STATEMENTS, ["marked dirty", "resolve 7 --applied` or"]),
    (True, Direction.UP, At.RECORD, ["Every statement", "resolve 7 --applied`"]),
    (
        True,
        Direction.DOWN,
        At.RECORD,
        ["Every statement of the down file", "resolve 7 --rolled-back`"],
    ),
]


@pytest.mark.parametrize(("no_transaction", "direction", "at", "said"), LOST)
def test_what_a_lost_connection_left_is_said_for_every_phase(no_transaction, direction, at, said):
    text = lost_outcome(one(no_transaction), direction, at)
    for part in said:
        assert part in text
