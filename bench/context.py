"""What every section shares: the settings, the sides, and what each side runs.

A floor side runs bench/floors.py, a tree runs its own sqlmig: the library through
bench/probe.py, or the whole `sqlmig` command. Databases are made fresh per trial and
dropped after it, except the applied ones that status and backup read.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import workloads
from report import Report
from runner import (
    BENCH_DIR,
    FLOOR,
    Databases,
    Results,
    Sample,
    Side,
    Trial,
    child_env,
    measure,
    python,
    run_inner,
    run_whole,
)
from workloads import Workload

ENGINE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass(frozen=True)
class Config:
    mode: str  # "full" or "quick"
    count: int  # N of the main rows
    rounds: int
    flat: tuple[int, ...]  # the N of the flatness table
    big_rows: int  # rows in each of the two tables of the big SQLite file
    seed_mb: tuple[int, ...]  # sizes of the one-migration memory rows
    diff_tables: int
    fleet_targets: int  # SQLite files and tenant schemas of the fleet rows
    spread: float  # seconds each row's rounds go on for at least (see runner.measure)


@dataclass
class Bench:
    cfg: Config
    trees: Sequence[Side]
    engines: Sequence[str]
    work: Path
    dbs: Databases
    report: Report
    pg_dump: str
    _workloads: dict[tuple[str, int], Workload] = field(default_factory=dict)
    _applied: dict[tuple[str, str], str] = field(default_factory=dict)
    _realistic: dict[tuple[str, int], Results] = field(default_factory=dict)
    reported: set[tuple[str, int]] = field(default_factory=set)  # realistic rows printed

    @property
    def sides(self) -> list[Side]:
        return [FLOOR, *self.trees]

    def folder(self, label: str) -> Path:
        """A new empty folder: a clean cwd (no sqlmig.toml) or a place for outputs."""
        path = self.work / f"{label}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def workload(self, kind: str, n: int) -> Workload:
        if (kind, n) not in self._workloads:
            make: Callable[[Path, int], Workload] = getattr(workloads, kind)
            wl = make(self.work / f"{kind}-{n}", n)
            workloads.warm(wl.folder)
            self._workloads[kind, n] = wl
        return self._workloads[kind, n]

    # -- what each side runs ----------------------------------------------------------

    def library(self, side: Side, op: str, url: str, wl: Workload) -> Sample:
        """A migration run timed inside its process: floors.py, or probe.py for a tree."""
        cwd = self.work
        if side.is_floor:
            return run_inner(side, python("-m", "floors", op, url, wl.plan), floor_env(), cwd)
        argv = python("-m", "probe", op, url, wl.folder, str(wl.count))
        return run_inner(side, argv, child_env(side.tree, BENCH_DIR), cwd)

    def cli(self, side: Side, cwd: Path, *args: str | Path, **env: str) -> Sample:
        """A whole `sqlmig` process, start-up included."""
        return run_whole(python("-m", "sqlmig", *args), child_env(side.tree, **env), cwd)

    def backup(self, side: Side, url: str) -> Sample:
        out = self.folder("backups")
        try:
            if side.is_floor:
                argv = python("-m", "floors", "backup", url, out / "copy", self.pg_dump)
                return run_inner(side, argv, floor_env(), self.work)
            argv = python("-m", "probe", "backup", url, self.work, out)
            return run_inner(side, argv, child_env(side.tree, BENCH_DIR), self.work)
        finally:
            shutil.rmtree(out)

    def migrate_trial(self, engine: str, wl: Workload, rollback: bool) -> Trial:
        """Apply ``wl`` to a new database, then (``rollback``) undo all of it."""

        def trial(side: Side, _: int) -> dict[str, Sample]:
            url = self.dbs.new(engine, side.name)
            try:
                samples = {"apply": self.library(side, "apply", url, wl)}
                if rollback:
                    samples["rollback"] = self.library(side, "rollback", url, wl)
                return samples
            finally:
                self.dbs.drop(url)

        return trial

    def applied(self, side: Side, engine: str) -> str:
        """A database with the realistic N applied by ``side`` (kept for the whole run)."""
        if (side.name, engine) not in self._applied:
            url = self.dbs.new(engine, f"applied_{side.name}")
            self.library(side, "apply", url, self.workload("realistic", self.cfg.count))
            self._applied[side.name, engine] = url
        return self._applied[side.name, engine]

    def measure(self, trial: Trial, rounds: int | None = None, *, spread: bool = True) -> Results:
        return measure(
            self.sides, rounds or self.cfg.rounds, trial, self.cfg.spread if spread else 0.0
        )

    def realistic_results(self, engine: str, n: int) -> Results:
        if (engine, n) not in self._realistic:
            rounds = self.cfg.rounds if n <= 1000 else min(self.cfg.rounds, 3)
            trial = self.migrate_trial(engine, self.workload("realistic", n), rollback=True)
            self._realistic[engine, n] = self.measure(trial, rounds)
        return self._realistic[engine, n]


def floor_env() -> dict[str, str]:
    return child_env(BENCH_DIR)
