"""`make bench`: sqlmig's performance as ratios to honest floors measured in the same run.

Absolute times on a shared 2-core VM say little; the ratio of sqlmig to the least work
that gets the same result through the same driver, measured in alternating rounds of
the same run, does. Every measured thing runs in its own process, so each row also
shows its peak RSS. bench/README.md describes every row and its floor.

    python bench/bench.py                   # every row, SQLite and a throwaway PostgreSQL
    python bench/bench.py --quick           # small N, 1 round: does the bench itself work?
    python bench/bench.py --base main       # every row for main and for this tree, alternating
    python bench/bench.py --only status,diff --engines sqlite

Environment: SQLMIG_BENCH_QUICK=1 (as --quick), SQLMIG_BENCH_PG_URL (a superuser URL of
an existing server instead of the throwaway cluster), SQLMIG_BENCH_COUNT (N, default
1000), SQLMIG_BENCH_ROUNDS (default 5), SQLMIG_BENCH_10000=1 (flatness at N=10,000 too),
SQLMIG_BENCH_500MB=1 (a 500 MB migration in the memory rows too), SQLMIG_BENCH_FLEET
(targets of the fleet rows, default 200), TMPDIR (where the
SQLite files go; the machine's disk by default, as a user's would be).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sections
from context import ENGINE_NAMES, Bench, Config
from report import Report
from runner import BENCH_DIR, REPO, ROUNDS_CAP, SECRETS, ChildFailed, Databases, Side, child_env


def config(quick: bool) -> Config:
    env = os.environ
    count = int(env.get("SQLMIG_BENCH_COUNT", 20 if quick else 1000))
    flat = (10,) if quick else (100,)
    if env.get("SQLMIG_BENCH_10000") == "1" and not quick:
        flat += (10_000,)
    seed_mb = (1,) if quick else (100,)
    if env.get("SQLMIG_BENCH_500MB") == "1" and not quick:
        seed_mb += (500,)
    return Config(
        mode="quick" if quick else "full",
        count=count,
        rounds=int(env.get("SQLMIG_BENCH_ROUNDS", 1 if quick else 5)),
        flat=flat,
        big_rows=20_000 if quick else 2_000_000,
        seed_mb=seed_mb,
        diff_tables=20 if quick else 1000,
        fleet_targets=int(env.get("SQLMIG_BENCH_FLEET", 10 if quick else 200)),
        spread=0.0 if quick else 10.0,
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/bench.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small N, 1 round")
    parser.add_argument(
        "--base", metavar="REF", help="also measure REF (a temporary git worktree) and compare"
    )
    parser.add_argument(
        "--only",
        metavar="SECTIONS",
        help=f"comma-separated, of: {','.join(sections.SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--engines", default="sqlite,postgres", help="comma-separated (default: sqlite,postgres)"
    )
    args = parser.parse_args(argv)
    args.only = args.only.split(",") if args.only else list(sections.SECTIONS)
    args.engines = args.engines.split(",")
    for kind, given, known in (
        ("section", args.only, sections.SECTIONS),
        ("engine", args.engines, ENGINE_NAMES),
    ):
        unknown = sorted(set(given) - set(known))
        if unknown:
            parser.error(f"unknown {kind}(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return args


def git(*args: str, tree: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(tree), *args], capture_output=True, text=True, check=False
    )


def open_trees(base: str | None, work: Path) -> list[Side]:
    head = Side("head" if base else "sqlmig", REPO)
    if not base:
        return [head]
    found = git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    if found.returncode != 0:
        raise SystemExit(f"bench: --base {base}: no such commit in {REPO} (try a branch or tag)")
    path = work / "base-tree"
    added = git("worktree", "add", "--detach", "--quiet", str(path), found.stdout.strip())
    if added.returncode != 0:
        raise SystemExit(f"bench: cannot make a worktree of {base}: {added.stderr.strip()}")
    return [Side("base", path), head]


def close_trees(trees: list[Side]) -> None:
    """Remove the temporary worktrees; a failure here must not hide why the bench ended."""
    for tree in trees:
        if tree.tree != REPO:
            done = git("worktree", "remove", "--force", str(tree.tree))
            if done.returncode != 0:
                print(
                    f"bench: cannot remove the worktree {tree.tree}: {done.stderr}", file=sys.stderr
                )


def prepare_tree(tree: Side) -> None:
    """Bytecode caches for the whole tree (lazy imports included, as pip would write
    them), and proof that a child given this tree imports its sqlmig."""
    assert tree.tree
    env = child_env(tree.tree)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(tree.tree / "sqlmig"), str(BENCH_DIR)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    found = subprocess.run(
        [sys.executable, "-c", "import sqlmig; print(sqlmig.__file__)"],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).is_relative_to(tree.tree):
        raise SystemExit(f"bench: with PYTHONPATH={tree.tree}, sqlmig comes from {found}")


def find_pg_dump() -> str:
    found = shutil.which("pg_dump") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), reverse=True)), None
    )
    if not found:
        raise SystemExit("bench: pg_dump not found: apt-get install postgresql-client")
    return found


def start_postgres() -> tuple[str, Any, str, str]:
    """(admin URL, the throwaway cluster or None, pg_dump, a description)."""
    url = os.environ.get("SQLMIG_BENCH_PG_URL")
    if url:
        SECRETS.add_url(url)
        return url, None, find_pg_dump(), f"the server at {SECRETS.redact(url)}"
    sys.path.insert(0, str(REPO))
    from tests.pgcluster import start_cluster

    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        raise SystemExit(
            f"bench: {exc}; or set SQLMIG_BENCH_PG_URL to a server, or use --engines sqlite"
        ) from None
    description = f"a throwaway cluster in {cluster.datadir.parent} (fsync=off)"
    return cluster.admin_url, cluster, str(cluster.bindir / "pg_dump"), description


def server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def describe_tree(tree: Side, base: str | None) -> str:
    assert tree.tree
    commit = (
        git("rev-parse", "--short", "HEAD", tree=tree.tree).stdout.strip() or "not a git checkout"
    )
    if tree.tree != REPO:
        return f"{tree.name} = {base} ({commit}) in a temporary worktree"
    dirty = git("status", "--porcelain", "--", "sqlmig").stdout.strip()
    return f"{tree.name} = {REPO} ({commit}{' with uncommitted changes' if dirty else ''})"


def filesystem(path: Path) -> str:
    done = subprocess.run(
        ["findmnt", "-n", "-o", "FSTYPE", "-T", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return (done.stdout.split() or ["?"])[0]  # a folder mounted twice is listed twice


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_header(cfg: Config, work: Path, trees: list[Side], base: str | None, pg: str) -> None:
    print(f"sqlmig bench, {cfg.mode} mode, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {os.cpu_count()} CPUs, load average {load()} at the start")
    print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}{pg}")
    print(f"files and SQLite databases in {work} ({filesystem(work)})")
    for tree in trees:
        print(describe_tree(tree, base))
    rounds = f"{cfg.rounds}" + (
        f", or more until a row has taken {cfg.spread:g} s (at most {ROUNDS_CAP})"
        if cfg.spread
        else ""
    )
    print(f"figures: the median of each row's rounds ({rounds}), the sides alternating")
    print("peak RSS: of sqlmig's process / of the reference's, in MB")


def run_sections(bench: Bench, chosen: list[str], started: float) -> None:
    for number, (name, run) in enumerate(sections.SECTIONS.items(), 1):
        if name in chosen:
            bench.report.number = number  # numbered as in bench/README.md, whatever is chosen
            run(bench)
    bench.report.summary()
    minutes = (time.monotonic() - started) / 60
    print(f"\ndone in {minutes:.1f} min; load average {load()} at the end")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    quick = args.quick or os.environ.get("SQLMIG_BENCH_QUICK") == "1"
    chosen = [
        s for s in args.only if not (s in sections.SQLITE_ONLY and "sqlite" not in args.engines)
    ]
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="sqlmig-bench-"))
    trees: list[Side] = []
    cluster = None
    dbs: Databases | None = None
    try:
        trees = open_trees(args.base, work)
        for tree in trees:
            prepare_tree(tree)
        pg_url, pg_dump, pg_text = None, "", ""
        if "postgres" in args.engines and set(chosen) - sections.SQLITE_ONLY:
            pg_url, cluster, pg_dump, where = start_postgres()
            pg_text = f"; PostgreSQL {server_version(pg_url)}, {where}"
        cfg = config(quick)
        print_header(cfg, work, trees, args.base, pg_text)
        dbs = Databases(work, pg_url)
        bench = Bench(cfg, trees, args.engines, work, dbs, Report(trees), pg_dump)
        run_sections(bench, chosen, started)
    except ChildFailed as exc:
        print(f"\nbench: a measured process failed, so no figure for it:\n{exc}", file=sys.stderr)
        return 1
    finally:
        if dbs is not None:
            dbs.close()
        if cluster is not None:
            cluster.stop()
        close_trees(trees)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
