"""PostgreSQL's client programs (pg_dump, pg_restore, psql), found and run safely.

The password never appears on a command line (where `ps` shows it) or in a message:
it goes to the child through PGPASSWORD.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sqlmig.config import DatabaseUrl
from sqlmig.errors import BackupError


def find_program(name: str) -> Path:
    """The newest `name` on PATH or in Debian's versioned folders."""
    found = [Path(p) for p in glob.glob(f"/usr/lib/postgresql/*/bin/{name}")]
    found.sort(key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    on_path = shutil.which(name)
    candidates = ([Path(on_path)] if on_path else []) + found[::-1]
    if not candidates:
        raise BackupError(
            f"{name} was not found on PATH: install the PostgreSQL client programs "
            "(apt-get install postgresql-client) or pass --no-backup to migrate without a backup"
        )
    # Debian's /usr/bin wrapper picks the newest installed version itself.
    return max(candidates, key=program_major)


def program_major(path: Path) -> int:
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"\(PostgreSQL\) (\d+)", out.stdout)
    return int(match.group(1)) if match else 0


def check_version(path: Path, server_major: int) -> None:
    major = program_major(path)
    if major < server_major:
        raise BackupError(
            f"{path} is version {major}, older than the server ({server_major}): it cannot dump "
            f"this server. Install postgresql-client-{server_major} or put a newer {path.name} "
            "first on PATH."
        )


def child_env_and_dsn(url: DatabaseUrl) -> tuple[dict[str, str], str]:
    """Connection string without the password, and an environment that carries it."""
    params = conninfo_to_dict(url.conninfo)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return env, make_conninfo("", **params)


def run(args: list[str], url: DatabaseUrl, what: str, **kwargs: object) -> None:
    env, _ = child_env_and_dsn(url)
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise BackupError(
            url.redact(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")
        )
