"""What a run shows while it runs: the database it changes first, "n of m" and the time
of each migration, a live counter on a terminal (a pty here) and a line per event
through a pipe, what it waits for (a lock's holder, a busy SQLite file), the server's
own progress with an index build, and errors on a line of their own.

Each test waits for what sqlmig says, never for a time: a lock is let go once sqlmig
has said it waits for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from sqlmig.config import parse_url
from tests.conftest import MigrationWriter
from tests.helpers import versions
from tests.pgcluster import PASSWORD, PASSWORD_USER, Cluster

LONG = 60.0  # seconds before a test gives up waiting for output: a hang, not a timing


class Run:
    """A `sqlmig` process whose stdout and stderr go together to a pipe, or to a pty
    (``tty``), read as it writes."""

    def __init__(self, *args: str, cwd: Path, tty: bool = False) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update({"COLUMNS": "200", "TERM": "xterm"})
        if tty:
            self.fd, child = pty.openpty()
        else:
            self.fd, child = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sqlmig", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=child,
            stderr=child,
        )
        os.close(child)
        self.text = ""

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + LONG
        while (found := re.search(pattern, self.text)) is None:
            if not self._read(deadline - time.monotonic()):
                raise AssertionError(f"{pattern!r} never came; sqlmig said:\n{self.text}")
        return found

    def finish(self) -> int:
        while self._read(LONG):
            pass
        os.close(self.fd)
        return self.proc.wait(timeout=LONG)

    def _read(self, timeout: float) -> bool:
        if timeout <= 0 or not select.select([self.fd], [], [], timeout)[0]:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # a pty whose child is gone
            return False
        self.text += chunk.decode()
        return bool(chunk)


def _run(*args: str, cwd: Path, tty: bool = False) -> tuple[int, str]:
    run = Run(*args, cwd=cwd, tty=tty)
    return run.finish(), run.text


def _header(command: str, url: str) -> str:
    table = "public.schema_version" if url.startswith("postgres") else "schema_version"
    return f"sqlmig {command}: {parse_url(url).masked} (table {table})"


def test_every_command_that_changes_a_database_names_it_first(
    db_url: str, write_migration: MigrationWriter, tmp_path: Path
) -> None:
    write_migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;")
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a.sql").write_text("INSERT INTO a VALUES (1);\n")
    commands = [
        ("baseline", "0"),
        ("apply", "--no-backup"),
        ("redo", "--no-backup"),
        ("goto", "0", "--no-backup"),
        ("goto", "1", "--no-backup"),
        ("seed",),
        ("accept",),
        ("rollback",),
        ("resolve", "1", "--applied"),  # refused, not dirty: the database is named first
    ]
    for command, *rest in commands:
        code, out = _run(command, *rest, "-d", db_url, cwd=tmp_path)
        assert out.splitlines()[0] == _header(command, db_url), (command, out)
        assert code == (1 if command == "resolve" else 0), (command, out)
    code, out = _run("backup", "-d", db_url, cwd=tmp_path)
    taken = re.search(r"backup written: (.*) \(", out)
    assert code == 0 and taken is not None, out
    code, out = _run("restore", "--yes", taken.group(1), "-d", db_url, cwd=tmp_path)
    assert code == 0 and out.splitlines()[0] == _header("restore", db_url), out


def test_the_first_line_masks_the_password(
    pg_url: str, pg_cluster: Cluster | str, write_migration: MigrationWriter, tmp_path: Path
) -> None:
    if isinstance(pg_cluster, str):
        pytest.skip("needs the fixture's cluster with a password user")
    url = pg_cluster.url(pg_url.rsplit("/", 1)[1], user=PASSWORD_USER, password=PASSWORD)
    write_migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;")
    code, out = _run("apply", "-d", url, cwd=tmp_path)
    first = out.splitlines()[0]
    assert code == 0 and PASSWORD not in out
    assert first.startswith(f"sqlmig apply: postgresql://{PASSWORD_USER}:***@"), first


def test_json_keeps_stdout_to_the_document(
    sqlite_url: str, write_migration: MigrationWriter, tmp_path: Path
) -> None:
    write_migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;")
    out = subprocess.run(
        [sys.executable, "-m", "sqlmig", "apply", "--json", "--no-backup", "-d", sqlite_url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert isinstance(json.loads(out.stdout), dict)  # the one document, whatever its shape
    said = out.stderr.splitlines()
    assert (
        said[0] == _header("apply", sqlite_url) and said[1] == "  applying 0001_a.sql (1 of 1) ..."
    )


def test_a_folder_and_another_projects_database_ask_wrong_database(
    db_url: str, write_migration: MigrationWriter, tmp_path: Path
) -> None:
    for v, name in enumerate(("users", "orders", "invoices"), start=1):
        write_migration(v, name, f"CREATE TABLE {name} (id int);", f"DROP TABLE {name};")
    assert _run("apply", "--no-backup", "-d", db_url, cwd=tmp_path)[0] == 0
    other = tmp_path / "other"
    for v, name in enumerate(("widgets", "gadgets"), start=1):
        for sub, sql in (("up", f"CREATE TABLE {name} (id int);"), ("down", "SELECT 1;")):
            (other / "sql" / sub).mkdir(parents=True, exist_ok=True)
            (other / "sql" / sub / f"{v:04d}_{name}.sql").write_text(sql)
    masked = parse_url(db_url).masked
    for command in ("apply", "rollback", "validate"):
        code, out = _run(command, "-d", db_url, cwd=other)
        assert code == 1, out
        assert (
            f"the migrations in {other / 'sql'} and the database {masked} do not seem to "
            "belong together (wrong database?): 2 of the 2 version(s) both have were applied "
            "under other names (version 1: 'users' in the database, 0001_widgets.sql in the "
            "folder)"
        ) in out, out
    code, out = _run("status", "-d", db_url, cwd=other)
    assert "warning: the migrations in" in out and "(wrong database?)" in out, out
    code, out = _run("status", "--json", "-d", db_url, cwd=other)
    assert "(wrong database?)" in json.loads(out)["wrong_database"]
    assert versions(db_url) == [1, 2, 3]


def test_piped_output_is_a_line_per_event_and_the_error_one_of_its_own(
    sqlite_url: str, write_migration: MigrationWriter, tmp_path: Path
) -> None:
    write_migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;")
    write_migration(2, "bad", "INSERT INTO nope VALUES (1);")
    code, out = _run("apply", "--no-backup", "-d", sqlite_url, cwd=tmp_path)
    assert code == 5 and "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert lines[:2] == [_header("apply", sqlite_url), "  applying 0001_a.sql (1 of 2) ..."]
    assert re.fullmatch(r"  0001_a\.sql \(1 of 2\) done in \d+ ms \(1 statement\(s\)\)", lines[2])
    assert lines[3] == "  applying 0002_bad.sql (2 of 2) ..."
    assert re.fullmatch(r"  0002_bad\.sql \(2 of 2\) failed after \d+ ms", lines[4])
    assert lines[5].startswith("error: ") and "no such table: nope" in lines[5]


def test_on_a_terminal_a_long_statement_shows_a_live_counter(
    pg_url: str, write_migration: MigrationWriter, tmp_path: Path
) -> None:
    write_migration(1, "slow", "SELECT pg_sleep(2.5);")
    write_migration(2, "bad", "INSERT INTO nope VALUES (1);")
    code, out = _run("apply", "-d", pg_url, cwd=tmp_path, tty=True)
    assert code == 5, out
    assert out.startswith(_header("apply", pg_url) + "\r\n")
    # Redrawn in place: back to the line's start, erased, the step and its elapsed time.
    assert re.search(r"\r\x1b\[2K  applying 0001_slow\.sql \(1 of 2\) \.\.\. \d+\.\ds", out), out
    assert re.search(
        r"\r\x1b\[2K  applying 0001_slow\.sql \(1 of 2\) \.\.\. done in \d+\.\d s "
        r"\(1 statement\(s\)\)\r\n",
        out,
    ), out
    failed = re.search(r"applying 0002_bad\.sql \(2 of 2\) \.\.\. failed after \d+ ms\r\n(.*)", out)
    assert failed is not None and "error" in failed.group(1), out


def _advisory_key(name: str) -> int:
    """The run lock's key, as the engine derives it (a change there must show here)."""
    digest = hashlib.sha256(f"sqlmig:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def test_waiting_for_the_migration_lock_names_its_holder(
    pg_url: str, write_migration: MigrationWriter, tmp_path: Path
) -> None:
    write_migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;")
    with psycopg.connect(pg_url, autocommit=True, application_name="the-holder") as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (_advisory_key("public.schema_version"),))
        run = Run("apply", "--lock-timeout", "60", "-d", pg_url, cwd=tmp_path)
        said = run.wait_for(
            r"  waiting for the migration lock on public\.schema_version, held by "
            r"pid (\d+) \(the-holder, [^)]*\): another sqlmig run is migrating it; "
            r"waiting up to 60s \(--lock-timeout\)\n"
        )
        assert int(said.group(1)) == holder.info.backend_pid
    assert run.finish() == 0, run.text
    assert "\r" not in run.text and versions(pg_url) == [1]


def test_waiting_for_a_table_lock_names_its_holder(
    pg_url: str, write_migration: MigrationWriter, tmp_path: Path
) -> None:
    write_migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;")
    assert _run("apply", "-d", pg_url, cwd=tmp_path)[0] == 0
    write_migration(2, "fill", "INSERT INTO a VALUES (1);", "DELETE FROM a;")
    with psycopg.connect(pg_url, application_name="the-blocker") as blocker:
        blocker.execute("LOCK TABLE a IN ACCESS EXCLUSIVE MODE")
        run = Run("apply", "-d", pg_url, cwd=tmp_path)
        said = run.wait_for(
            r"  waiting for RowExclusiveLock on a, held by pid (\d+) "
            r"\(the-blocker, idle in transaction, in a transaction since [^)]+\); "
            r"waiting up to 30s \(--lock-timeout\)\n"
        )
        assert int(said.group(1)) == blocker.info.backend_pid
        blocker.commit()
    assert run.finish() == 0, run.text
    assert re.search(r"  0002_fill\.sql \(1 of 1\) done in \d+\.\d s", run.text), run.text


@pytest.mark.parametrize("tty", [False, True], ids=["piped", "terminal"])
def test_a_long_index_build_shows_the_servers_progress(
    pg_url: str, write_migration: MigrationWriter, tmp_path: Path, tty: bool
) -> None:
    """Concurrently, too: the watching connection holds no snapshot such a build waits
    for, or this run would never end. Piped, a line per phase; on a terminal, on the
    live line."""
    write_migration(
        1,
        "slow_key",
        """
        CREATE FUNCTION slow_key(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE
        AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN i; END $$;
        CREATE TABLE t (id int);
        INSERT INTO t SELECT generate_series(1, 10);
        """,
    )
    write_migration(
        2,
        "index",
        "-- sqlmig: no-transaction\nCREATE INDEX CONCURRENTLY t_slow ON t (slow_key(id));",
        "-- sqlmig: no-transaction\nDROP INDEX CONCURRENTLY t_slow;",
    )
    code, out = _run("apply", "-d", pg_url, cwd=tmp_path, tty=tty)
    assert code == 0, out
    if tty:
        live = r"\r\x1b\[2K  applying 0002_index\.sql \(2 of 2\) \.\.\. \d+\.\ds · "
        assert re.search(live + r"server: CREATE INDEX CONCURRENTLY on t: ", out), out
        return
    shown = re.findall(r"^  server: CREATE INDEX CONCURRENTLY on t: (.*)$", out, re.M)
    assert shown, out
    assert any(s.startswith(("building index", "index validation")) for s in shown), shown
    assert len(shown) == len(set(shown)), "a line per phase, not one per look"


@pytest.mark.parametrize("tty", [False, True], ids=["piped", "terminal"])
def test_a_busy_sqlite_file_is_named_while_sqlmig_waits(
    sqlite_url: str, write_migration: MigrationWriter, tmp_path: Path, tty: bool
) -> None:
    write_migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;")
    assert _run("apply", "--no-backup", "-d", sqlite_url, cwd=tmp_path)[0] == 0
    write_migration(2, "fill", "INSERT INTO a VALUES (1);", "DELETE FROM a;")
    path = sqlite_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        args = ("apply", "--no-backup", "--lock-timeout", "60", "-d", sqlite_url)
        run = Run(*args, cwd=tmp_path, tty=tty)
        run.wait_for(  # a line of its own, after the header or an erased live line
            rf"(\n|\x1b\[2K)  waiting for {re.escape(path)}: another connection is writing "
            r"to it \(SQLite: database is busy\); waiting up to 60s \(--lock-timeout\)\r?\n"
        )
        if tty:  # and then the live counter of the wait
            run.wait_for(r"\r\x1b\[2K  waiting \.\.\. \d+\.\ds")
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert run.finish() == 0, run.text
    assert versions(sqlite_url) == [1, 2]
    # The step that waited starts a line of its own, the live "waiting" line erased.
    assert re.search(r"(\n|\x1b\[2K)  applying 0002_fill\.sql \(1 of 1\) \.\.\.", run.text)
    assert not re.search(r"\ds  applying", run.text), run.text
