"""A real PgBouncer in front of the test cluster: a transaction-mode pooler is refused for
anything that takes the run lock, a session-mode one works (Debian: apt-get install
pgbouncer; the tests skip, saying so, where it is not installed)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from sqlmig import ConfigError, Migrator
from tests.helpers import query, two_migrations, versions
from tests.pgcluster import Cluster
from tests.test_cli import sqlmig

PGBOUNCER = shutil.which("pgbouncer") or next(
    (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
)
pytestmark = pytest.mark.skipif(
    PGBOUNCER is None, reason="pgbouncer is not installed (apt-get install pgbouncer)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Bouncer = Callable[..., str]  # (pool mode, *settings) -> the test's database through it


@pytest.fixture
def bouncer(pg_cluster: Cluster | str, pg_url: str) -> Iterator[Bouncer]:
    """Start PgBouncers in front of the test cluster; each call gives the test's database
    through a new one in the given pool mode. Stopped afterwards."""
    if not isinstance(pg_cluster, Cluster):
        pytest.skip(
            "SQLMIG_TEST_PG_URL is set: PgBouncer is only put in front of the suite's own cluster"
        )
    started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(mode: str, *settings: str) -> str:
        root = Path(tempfile.mkdtemp(prefix="sqlmig-pgbouncer-"))
        port = _free_port()
        (root / "users.txt").write_text('"postgres" ""\n')
        (root / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={pg_cluster.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {root / 'users.txt'}\n"
            f"pool_mode = {mode}\ndefault_pool_size = 4\n"
            f"logfile = {root / 'pgbouncer.log'}\n" + "".join(f"{line}\n" for line in settings)
        )
        as_user: list[str] = []
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            shutil.chown(root, "postgres")
            for f in root.iterdir():
                shutil.chown(f, "postgres")
            as_user = ["-u", "postgres"]
        proc = subprocess.Popen(
            [str(PGBOUNCER), *as_user, str(root / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append((proc, root))
        url = pg_url.replace(f":{pg_cluster.port}/", f":{port}/")
        deadline = time.monotonic() + 15
        while True:
            try:
                with psycopg.connect(url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return url
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = root / "pgbouncer.log"
                    pytest.fail(
                        f"pgbouncer did not start: {log.read_text() if log.exists() else ''}"
                    )
                time.sleep(0.1)

    yield start
    for proc, root in started:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def advisory_locks(pg_url: str) -> list[tuple[int]]:
    return query(pg_url, "SELECT pid FROM pg_locks WHERE locktype = 'advisory'")


# PgBouncer's default gives a client the idle server used last; round robin spreads
# clients over servers, here over a pool kept warm.
@pytest.mark.parametrize(
    "settings",
    [(), ("server_round_robin = 1",), ("server_round_robin = 1", "min_pool_size = 3")],
    ids=["lifo", "round-robin", "round-robin-warm"],
)
def test_transaction_mode_is_refused_before_anything_runs(
    bouncer, pg_url, write_migration, settings
):
    url = bouncer("transaction", *settings)
    folder = two_migrations(write_migration)
    with Migrator(url, folder) as m:
        assert [e.state.value for e in m.status().entries] == ["pending", "pending"]  # reads work
        with pytest.raises(ConfigError) as info:
            m.apply()
    message = str(info.value)
    assert "pooler in transaction mode" in message and "session" in message
    assert info.value.exit_code == 2
    assert versions(pg_url) == []
    assert advisory_locks(pg_url) == []  # refused before the lock: none left in the pool


def test_transaction_mode_refusal_from_the_cli(bouncer, pg_url, write_migration, tmp_path):
    url = bouncer("transaction")
    folder = two_migrations(write_migration)
    for args in (["apply"], ["rollback"], ["baseline", "1"]):
        done = sqlmig(*args, "-d", url, "--dir", str(folder), cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "pooler in transaction mode" in done.stderr
        assert "Connect sqlmig to the server directly" in done.stderr
    assert versions(pg_url) == []


def test_session_mode_and_direct_connections_migrate(bouncer, pg_url, write_migration):
    folder = two_migrations(write_migration)
    with Migrator(bouncer("session"), folder) as m:
        assert [s.version for s in m.apply().steps] == [1, 2]
        assert m.rollback().steps[0].version == 2
    with Migrator(pg_url, folder) as m:
        assert [s.version for s in m.apply().steps] == [2]
    assert versions(pg_url) == [1, 2]
    assert advisory_locks(pg_url) == []
