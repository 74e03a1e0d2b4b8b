"""A throwaway PostgreSQL cluster for the test suite (no server needs to be running).

PostgreSQL refuses to run as root, so as root the cluster is created and started as
the `postgres` system user. Set SQLMIG_TEST_PG_URL to use an existing server instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

PASSWORD_USER = "sqlmig_pw"
PASSWORD = "s3cr3t-P@ss"


def _bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if candidates:
        return Path(candidates[-1])
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "PostgreSQL server binaries not found: install postgresql (apt-get install -y postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    port: int
    datadir: Path
    bindir: Path
    as_user: list[str]
    options: str = ""  # the server settings it was started with, to start it again

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args],
            check=True,
            capture_output=True,
        )

    def halt(self, mode: str = "fast") -> None:
        """Stop the server and keep its data: ``fast`` ends sessions with an error,
        ``immediate`` as a crash would."""
        self.pg_ctl("-m", mode, "-w", "stop")

    def start(self) -> None:
        self.pg_ctl("-o", self.options, "-l", str(self.datadir.parent / "log"), "-w", "start")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str, *, user: str = "postgres", password: str | None = None) -> str:
        auth = f"{user}:{quote(password, safe='')}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        subprocess.run(
            [
                *self.as_user,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _memory_dir() -> str | None:
    """tmpfs for the cluster when there is room: a throwaway cluster needs no durability, and
    on a VM disk creating thousands of relation files would dominate every timing."""
    shm = Path("/dev/shm")
    try:
        free = shutil.disk_usage(shm).free
    except OSError:
        return None
    return str(shm) if free > 2 * 1024**3 and os.access(shm, os.W_OK) else None


def _initdb(bindir: Path, datadir: Path, as_user: list[str]) -> None:
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )


def start_cluster(*settings: str) -> Cluster:
    """Start a cluster; ``settings`` are extra ``name=value`` server settings."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="sqlmig-pg-", dir=_memory_dir()))
    datadir = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    try:
        _initdb(bindir, datadir, as_user)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(
            f"initdb failed: {exc.stderr.decode(errors='replace')[-2000:]}"
        ) from None
    with open(datadir / "pg_hba.conf", "w") as hba:  # password auth for one user, to test masking
        hba.write(f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n")
        hba.write("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    port = _free_port()
    opts = (
        f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
    ) + "".join(f" -c {setting}" for setting in settings)
    cluster = Cluster(port, datadir, bindir, as_user, opts)
    cluster.start()
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
                conn.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
            return cluster
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
