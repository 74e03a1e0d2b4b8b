"""PostgreSQL's client programs (pg_dump, pg_restore, psql), found and run safely.

The password never appears on a command line (where `ps` shows it) or in a message:
it goes to the child through PGPASSWORD.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
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


class Restorer:
    """pg_restore and psql together: an archive's listing, the SQL of some of its
    entries, or those entries between sqlmig's own SQL streamed into psql as one
    transaction (the archive's data never has to fit in memory)."""

    def __init__(self, url: DatabaseUrl) -> None:
        self.pg_restore, self.psql = find_program("pg_restore"), find_program("psql")
        self.env, self.dsn = child_env_and_dsn(url)
        self.env["PGAPPNAME"] = "sqlmig restore"  # what pg_stat_activity shows for psql

    def listing(self, src: Path) -> str:
        """``pg_restore -l``: the archive's header and entries; raise if it is not one."""
        done = subprocess.run(
            [str(self.pg_restore), "--list", str(src)],
            capture_output=True,
            text=True,
            check=False,
            env=self.env,
        )
        if done.returncode != 0:
            raise BackupError(f"{src} could not be read by pg_restore: {done.stderr.strip()}")
        return done.stdout

    def script(self, src: Path, lines: list[str]) -> str:
        """The SQL of the archive entries ``pg_restore -l`` listed as ``lines`` (small
        ones: it is read into memory)."""
        with self._listed(lines) as listing:
            done = subprocess.run(
                [str(self.pg_restore), "-L", str(listing), "--file", "-", str(src)],
                capture_output=True,
                text=True,
                check=False,
                env=self.env,
            )
        if done.returncode != 0:
            raise BackupError(f"{src} could not be read by pg_restore: {done.stderr.strip()}")
        return done.stdout

    @contextlib.contextmanager
    def _listed(self, lines: list[str]) -> Iterator[Path]:
        folder = Path(tempfile.mkdtemp(prefix="sqlmig-restore-"))
        try:
            listing = folder / "entries.list"
            listing.write_text("".join(line + "\n" for line in lines))
            yield listing
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def run(
        self, src: Path, lines: list[str], parts: tuple[str, str], edit: Edit
    ) -> tuple[bool, str]:
        """Run ``parts[0]``, the script of the entries listed as ``lines`` (each of its
        lines through ``edit``), then ``parts[1]``, in one transaction; whether it
        committed, and what psql said (errors, warnings). If pg_restore fails, psql is
        killed before it can commit."""
        with (
            self._listed(lines) as listing,
            tempfile.TemporaryFile("w+") as errors,
            tempfile.TemporaryFile("w+") as dump_errors,
        ):
            psql = subprocess.Popen(
                [
                    str(self.psql), "--no-psqlrc", "--quiet", "--single-transaction",
                    "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
                    "--dbname", self.dsn, "--file", "-",
                ],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors,
                env=self.env, text=True,
            )  # fmt: skip
            dump = subprocess.Popen(
                [str(self.pg_restore), "-L", str(listing), "--file", "-", str(src)],
                stdout=subprocess.PIPE, stderr=dump_errors, env=self.env, text=True,
            )  # fmt: skip
            try:
                if not _feed(psql, dump, parts, edit):
                    psql.kill()
                    dump_errors.seek(0)
                    why = dump_errors.read().strip() or f"exit code {dump.returncode}"
                    raise BackupError(f"pg_restore could not read {src}: {why}")
                code = psql.wait()
            finally:
                for child in (dump, psql):  # killed before its input closes: no COMMIT
                    if child.poll() is None:
                        child.kill()
                    child.wait()
                with contextlib.suppress(OSError):
                    psql.stdin.close()  # type: ignore[union-attr]
            errors.seek(0)
            return code == 0, errors.read()


Edit = Callable[[str], str]


def _feed(
    psql: subprocess.Popen[str], dump: subprocess.Popen[str], parts: tuple[str, str], edit: Edit
) -> bool:
    """Write the script into psql; False if pg_restore failed, and then nothing after
    its output is written and psql's input stays open: nothing can commit."""
    assert psql.stdin is not None and dump.stdout is not None
    try:
        psql.stdin.write(parts[0])
        for line in dump.stdout:
            psql.stdin.write(edit(line))
        if dump.wait() != 0:
            return False
        psql.stdin.write("\n" + parts[1])
        psql.stdin.close()
    except BrokenPipeError:
        pass  # psql stopped at an error: its own message says which
    return True


def psql_error(stderr: str) -> tuple[str | None, str]:
    """The SQLSTATE and message of psql's first error, with its DETAIL and HINT and the
    statement a PL/pgSQL block was running (psql -v VERBOSITY=verbose)."""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        match = re.search(r"ERROR:\s+([0-9A-Z]{5}): (.*)$", line)
        if not match:
            continue
        parts = [match[2]]
        for more in (m.strip() for m in lines[i + 1 : i + 6]):
            if more.startswith(("DETAIL:", "HINT:")):
                parts.append(more)
            elif running := re.match(r'CONTEXT:\s+SQL statement "(.*)"$', more):
                parts.append(f"(running: {running[1]})")
        return match[1], " ".join(parts)
    return None, stderr.strip()[-2000:]
