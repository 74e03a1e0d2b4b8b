"""Several runners at once, and runners killed with SIGKILL at any moment."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sqlmig import Migrator, State
from tests.helpers import OWN_TABLES, query, tables, versions

# Imports sqlmig first, then waits for a shared start time, so the processes really
# start migrating at the same moment rather than staggered by interpreter start-up.
LAUNCH = (
    "import os, sys, time\n"
    "from sqlmig.cli import main\n"
    "time.sleep(max(0.0, float(os.environ['START_AT']) - time.time()))\n"
    "sys.argv = ['sqlmig', *sys.argv[1:]]\n"
    "main()\n"
)


def slow_sql(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        return "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c;"
    return "SELECT pg_sleep(0.25);"


def write_set(write_migration, db_url: str, count: int) -> Path:
    folder = None
    for v in range(1, count + 1):
        folder = write_migration(
            v,
            f"t{v}",
            f"CREATE TABLE t{v} (a int);\n{slow_sql(db_url)}\nINSERT INTO t{v} VALUES ({v});\n",
            f"DROP TABLE t{v};",
        )
    assert folder is not None
    return folder


def launch(args: list[str], start_at: float) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"START_AT": str(start_at)}
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_many_runners_apply_each_migration_exactly_once(db_url, write_migration):
    folder = write_set(write_migration, db_url, 6)
    start_at = time.time() + 2.0
    procs = [
        launch(["apply", "-d", db_url, "--dir", str(folder), "--lock-timeout", "60"], start_at)
        for _ in range(5)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, f"{out}\n{err}"
    assert versions(db_url) == [1, 2, 3, 4, 5, 6]
    applies = query(
        db_url, "SELECT version FROM schema_version_history WHERE event = 'apply' ORDER BY version"
    )
    assert [r[0] for r in applies] == [1, 2, 3, 4, 5, 6]
    for v in range(1, 7):
        assert query(db_url, f"SELECT a FROM t{v}") == [(v,)]
    ran = sum("applied" in out and "Nothing to do" not in out for out, _ in outputs)
    assert ran >= 1


def consistent(db_url: str, count: int) -> list[int]:
    """The version table agrees with the schema: every applied version, and only those, exists."""
    applied = versions(db_url) if "schema_version" in tables(db_url) else []
    present = sorted(int(t[1:]) for t in tables(db_url) if t[0] == "t" and t[1:].isdigit())
    assert applied == present == list(range(1, len(applied) + 1))
    for v in applied:
        assert query(db_url, f"SELECT a FROM t{v}") == [(v,)]
    assert len(applied) <= count
    return applied


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_before_or_after(db_url, write_migration):
    count = 20
    folder = write_set(write_migration, db_url, count)
    rng = random.Random(20261124)
    args = ["apply", "-d", db_url, "--dir", str(folder), "--lock-timeout", "60"]
    seen = []
    for _ in range(4):
        proc = launch(args, 0)
        time.sleep(rng.uniform(0.6, 1.2))  # start-up takes ~0.3 s, each migration ~0.25 s
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        seen.append(consistent(db_url, count))
    assert seen[-1] != list(range(1, count + 1)), "every kill came too late to test anything"
    final = launch(args, 0)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert consistent(db_url, count) == list(range(1, count + 1))


@pytest.mark.slow
def test_ctrl_c_rolls_back_the_migration_in_progress(db_url, write_migration):
    folder = write_set(write_migration, db_url, 12)
    proc = launch(["apply", "-d", db_url, "--dir", str(folder)], 0)
    deadline = time.monotonic() + 60
    while not (OWN_TABLES & tables(db_url) and versions(db_url)):  # really migrating by now
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    applied = consistent(db_url, 12)
    assert len(applied) < 12
    failed = query(db_url, "SELECT version, error FROM schema_version_history WHERE event = 'fail'")
    # Interrupted in a migration, that one failed; between two (its commit done), none did.
    assert failed in ([(len(applied) + 1, "interrupted")], [])


class _StopAfter:
    """Progress that presses Ctrl-C as soon as the first migration has committed."""

    def started(self, m, direction, n, total) -> None:
        pass

    def done(self, m, direction, result) -> None:
        raise KeyboardInterrupt


def test_ctrl_c_just_after_a_commit_counts_the_migration_done(db_url, write_migration):
    from sqlmig import Migrator
    from sqlmig.errors import Interrupted

    folder = write_set(write_migration, db_url, 3)
    with Migrator(db_url, folder) as m, pytest.raises(Interrupted) as stopped:
        m.apply(backup=False, progress=_StopAfter())
    partial = stopped.value.partial
    assert partial is not None and [s.version for s in partial.applied] == [1]
    assert partial.failed is None  # nothing was in progress
    assert versions(db_url) == [1]
    failed = query(db_url, "SELECT version FROM schema_version_history WHERE event = 'fail'")
    assert failed == []  # version 1 is applied: no history row may say it failed


ROUNDS = int(os.environ.get("SQLMIG_STRESS_ROUNDS", "4"))  # CI's default; raise it to soak


def fast_set(write_migration, count: int) -> Path:
    folder = None
    for v in range(1, count + 1):
        folder = write_migration(
            v,
            f"t{v}",
            f"CREATE TABLE t{v} (a int);\nINSERT INTO t{v} VALUES ({v});\n",
            f"DROP TABLE t{v};",
        )
    assert folder is not None
    return folder


@pytest.mark.slow
def test_apply_and_rollback_runners_together_leave_a_consistent_prefix(db_url, write_migration):
    """4 `apply` and 4 `rollback 3` runners started together on a database at version 30:
    whatever order they run in, the versions applied are 1..k and the schema agrees."""
    count = 30
    folder = fast_set(write_migration, count)
    common = ["-d", db_url, "--dir", str(folder), "--lock-timeout", "120"]
    for _ in range(ROUNDS):
        top_up = launch(["apply", "--no-backup", *common], 0)
        out, err = top_up.communicate(timeout=120)
        assert top_up.returncode == 0, f"{out}\n{err}"
        start_at = time.time() + 2.0
        procs = [launch(["apply", "--no-backup", *common], start_at) for _ in range(4)]
        procs += [
            launch(["rollback", "3", "--yes", "--no-backup", *common], start_at) for _ in range(4)
        ]
        for p in procs:
            out, err = p.communicate(timeout=180)
            assert p.returncode == 0, f"{p.args[3:5]}: {out}\n{err}"
        consistent(db_url, count)  # never a gap, never a table without its version
    undone = query(db_url, "SELECT count(*) FROM schema_version_history WHERE event = 'rollback'")
    assert undone[0][0] >= 3 * ROUNDS  # the rollback runners really ran


# A CREATE INDEX CONCURRENTLY that takes seconds: 150 rows, each key computed by an
# IMMUTABLE function that sleeps 10 ms. The build then waits for every transaction that
# holds a snapshot older than its second scan (PostgreSQL's WaitForOlderSnapshots), so
# a runner that waits for the run lock inside a statement is one of those it waits for.
CIC_SET = {
    1: (
        "items",
        "CREATE TABLE items (id int PRIMARY KEY);\n"
        "INSERT INTO items SELECT generate_series(1, 150);\n"
        "CREATE FUNCTION slow_key(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS\n"
        "$$ BEGIN PERFORM pg_sleep(0.01); RETURN x; END $$;\n",
        "DROP TABLE items; DROP FUNCTION slow_key(int);",
    ),
    2: (
        "items_slow_index",
        "-- sqlmig: no-transaction\nCREATE INDEX CONCURRENTLY items_slow ON items (slow_key(id));\n",
        "-- sqlmig: no-transaction\nDROP INDEX CONCURRENTLY items_slow;\n",
    ),
    3: ("after_a", "CREATE TABLE after_a (a int);\n", "DROP TABLE after_a;"),
    4: ("after_b", "CREATE TABLE after_b (a int);\n", "DROP TABLE after_b;"),
}


def cic_round(pg_url: str, folder: Path, runners: int) -> float:
    """Start ``runners`` appliers together; check all exit 0, the index is valid and every
    version was applied exactly once. Returns the seconds the round took."""
    query(pg_url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    start = time.monotonic()
    start_at = time.time() + 1.0 + 0.15 * runners  # interpreter start-up on 2 busy cores
    args = ["apply", "-d", pg_url, "--dir", str(folder), "--lock-timeout", "120"]
    procs = [launch(args, start_at) for _ in range(runners)]
    outputs = [p.communicate(timeout=180) for p in procs]
    failed = [
        f"exit {p.returncode}: {out}{err}"
        for p, (out, err) in zip(procs, outputs, strict=True)
        if p.returncode != 0
    ]
    assert not failed, "\n".join(failed)
    assert query(
        pg_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_slow'::regclass"
    ) == [(True,)]
    assert versions(pg_url) == [1, 2, 3, 4]
    events = query(pg_url, "SELECT event, version FROM schema_version_history ORDER BY version, id")
    assert events == [("apply", v) for v in (1, 2, 3, 4)]
    return time.monotonic() - start


def write_cic_set(write_migration) -> Path:
    for version, (name, up, down) in CIC_SET.items():
        folder = write_migration(version, name, up, down)
    return folder


@pytest.mark.parametrize("runners", [2, 8])
def test_runners_waiting_for_the_lock_do_not_deadlock_an_index_build(
    pg_url, write_migration, runners
):
    cic_round(pg_url, write_cic_set(write_migration), runners)


@pytest.mark.slow
@pytest.mark.parametrize("runners", [2, 8])
def test_runners_and_index_builds_in_many_rounds(pg_url, write_migration, runners):
    folder = write_cic_set(write_migration)
    for _ in range(int(os.environ.get("SQLMIG_CIC_ROUNDS", "4"))):
        cic_round(pg_url, folder, runners)


def test_status_while_an_index_builds_neither_blocks_it_nor_calls_it_left_over(
    pg_url, write_migration
):
    folder = write_cic_set(write_migration)
    proc = launch(["apply", "-d", pg_url, "--dir", str(folder)], 0)
    deadline = time.monotonic() + 60
    while not query(pg_url, "SELECT 1 FROM pg_stat_progress_create_index"):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the index build never started"
        time.sleep(0.02)
    seen = []
    while proc.poll() is None:  # status readers come and go during the build and its waits
        start = time.monotonic()
        with Migrator(pg_url, folder) as m:
            entry = m.status().entries[1]
        assert time.monotonic() - start < 10  # not held up by the build
        if entry.state is State.DIRTY:
            seen.append(entry.invalid_indexes)
        time.sleep(0.2)
    assert seen and set(seen) == {()}  # dirty while it builds, and no leftover named
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"{out}\n{err}"
    assert versions(pg_url) == [1, 2, 3, 4]
    valid = "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_slow'::regclass"
    assert query(pg_url, valid) == [(True,)]
