"""How things are measured: each in its own process, rounds alternating between sides.

A *side* is the floor, or a tree of sqlmig (the working tree, and in compare mode the
base ref's worktree too). Every measured thing is a child process started through
bench/launch.py, which reads its peak RSS from ``os.wait4``; its time is either the
launcher's clock around the whole process or, for library calls, the clock the child
reports around the call alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
REPORT_PREFIX = "BENCH "  # the line a child prints last: REPORT_PREFIX + JSON


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_kb: int


@dataclass(frozen=True)
class Side:
    name: str  # "floor", or a tree's label
    tree: Path | None = None  # the folder holding that tree's sqlmig package

    @property
    def is_floor(self) -> bool:
        return self.tree is None


FLOOR = Side("floor")


class ChildFailed(RuntimeError):
    """A measured process failed: the figure would be meaningless, so the bench stops."""


@dataclass
class Secrets:
    """Passwords that must never reach the output (a SQLMIG_BENCH_PG_URL may carry one)."""

    words: set[str] = field(default_factory=set)

    def add_url(self, url: str) -> None:
        password = urlsplit(url).password
        if password:
            self.words |= {password, unquote(password)}

    def redact(self, text: str) -> str:
        for word in self.words:
            text = text.replace(word, "***")
        return text


SECRETS = Secrets()


def child_env(*paths: Path | None, **extra: str) -> dict[str, str]:
    """The environment of a measured process, as an installed sqlmig would run, with only
    ``paths`` (a tree, so that it is the ``sqlmig`` imported; bench/) on PYTHONPATH."""
    drop = {
        "PYTHONPATH",
        "DATABASE_URL",  # every command gets -d; a user's own setting must not leak in
        "PYTHONDONTWRITEBYTECODE",  # pip installs bytecode caches; this machine disables them
        "PYTHONUNBUFFERED",  # a write per line would slow a 1,000-line status table
    }
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths if p)
    env.update(extra)
    return env


def spawn(argv: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[Sample, str]:
    """Run ``argv`` to completion through bench/launch.py: its wall time, its own peak RSS
    and its standard output.

    Output goes to files, not pipes: stdout is not a terminal (as in CI), and nothing
    the child writes can block it while the parent waits.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".launch") as report,
    ):
        launcher = [sys.executable, "-S", "-I", str(BENCH_DIR / "launch.py"), report.name]
        subprocess.run(
            [*launcher, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            check=False,
        )
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        fields = report.read().split()
        code = int(fields[2]) if len(fields) == 3 else None
        if code != 0:
            tail = (stdout + err.read().decode(errors="replace"))[-3000:]
            raise ChildFailed(SECRETS.redact(f"{' '.join(argv)}\nexited {code} in {cwd}:\n{tail}"))
    return Sample(float(fields[0]), int(fields[1])), stdout


def run_whole(argv: Sequence[str], env: dict[str, str], cwd: Path) -> Sample:
    """A whole process, start-up included, timed from outside."""
    return spawn(argv, env, cwd)[0]


def run_inner(side: Side, argv: Sequence[str], env: dict[str, str], cwd: Path) -> Sample:
    """A child that times its own measured part and reports it (bench/probe.py, floors.py)."""
    whole, stdout = spawn(argv, env, cwd)
    lines = [line for line in stdout.splitlines() if line.startswith(REPORT_PREFIX)]
    if not lines:
        raise ChildFailed(SECRETS.redact(f"{' '.join(argv)} printed no report:\n{stdout[-2000:]}"))
    report = json.loads(lines[-1].removeprefix(REPORT_PREFIX))
    imported = report.get("sqlmig")
    if side.tree and not (imported and Path(imported).is_relative_to(side.tree)):
        raise ChildFailed(f"{side.name} imported sqlmig from {imported}, not from {side.tree}")
    return Sample(float(report["seconds"]), whole.rss_kb)


def python(*args: str | Path) -> list[str]:
    return [sys.executable, *map(str, args)]


# -- rounds --------------------------------------------------------------------------

Trial = Callable[[Side, int], dict[str, Sample]]  # (side, round) -> samples by key


@dataclass
class Results:
    """Samples by side, key and round: a figure pairs each round's sample with its
    reference's from the same round, taken seconds apart."""

    samples: dict[str, dict[str, dict[int, Sample]]] = field(default_factory=dict)

    def add(self, side: Side, key: str, round_: int, sample: Sample) -> None:
        self.samples.setdefault(side.name, {}).setdefault(key, {})[round_] = sample

    def of(self, side: Side, key: str) -> dict[int, Sample]:
        return self.samples.get(side.name, {}).get(key, {})


ROUNDS_CAP = 25


def measure(sides: Sequence[Side], rounds: int, trial: Trial, spread: float = 0.0) -> Results:
    """At least ``rounds`` rounds, and more (up to ROUNDS_CAP) until they took ``spread``
    seconds; each round runs every side once, starting one side further along each time,
    so that drift on a shared machine falls on all sides alike. Spread over seconds, a
    cheap row's median survives a burst of someone else's load."""
    results = Results()
    start = time.monotonic()
    r = 0
    while r < rounds or (r < ROUNDS_CAP and time.monotonic() - start < spread):
        k = r % len(sides)
        for side in [*sides[k:], *sides[:k]]:
            for key, sample in trial(side, r).items():
                results.add(side, key, r, sample)
        r += 1
    return results


# -- databases -----------------------------------------------------------------------


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


class Databases:
    """Fresh, throwaway databases for the measured processes, removed after use, and
    whatever is left at close(): on a server of the user's own, nothing must remain."""

    def __init__(self, work: Path, pg_admin_url: str | None) -> None:
        self.work = work
        self.pg_admin_url = pg_admin_url
        self.created: list[str] = []

    def new(self, engine: str, label: str = "db") -> str:
        name = f"bench_{label}_{uuid.uuid4().hex[:10]}"
        if engine == "sqlite":
            url = f"sqlite:///{self.work / (name + '.db')}"
        else:
            import psycopg

            assert self.pg_admin_url, "PostgreSQL database asked for without a server"
            with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = urlunsplit(urlsplit(self.pg_admin_url)._replace(path="/" + name))
        self.created.append(url)
        return url

    def close(self) -> None:
        for url in list(self.created):
            self.drop(url)

    def drop(self, url: str) -> None:
        if url in self.created:
            self.created.remove(url)
        if url.startswith("sqlite:"):
            path = sqlite_path(url)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        import psycopg

        assert self.pg_admin_url
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def copy_sqlite(self, source: Path, label: str) -> str:
        """A copy of ``source`` that is on disk (not dirty in the page cache) before the
        clock starts, so write-back of the copy does not land in the measured run."""
        url = self.new("sqlite", label)
        dest = sqlite_path(url)
        shutil.copyfile(source, dest)
        with dest.open("rb+") as f:
            os.fsync(f.fileno())
        return url
