"""The rows of `make bench`, section by section, and what each side runs for them.

Each section generates its inputs first, then measures in alternating rounds
(runner.measure) and prints its rows as soon as they are known.
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import workloads
from context import ENGINE_NAMES, Bench, floor_env
from report import Row, change, change_text, seconds
from runner import (
    FLOOR,
    ChildFailed,
    Sample,
    Side,
    Trial,
    child_env,
    python,
    run_inner,
    run_whole,
    sqlite_path,
)
from workloads import Workload

# -- the sections -----------------------------------------------------------------------


def today(b: Bench) -> None:
    n = b.cfg.count
    wl = b.workload("simple", n)
    b.report.section(
        f"Apply {n:,} generated migrations ({wl.description}) vs the driver floor; library call"
    )
    b.report.header()
    for engine in b.engines:
        results = b.measure(b.migrate_trial(engine, wl, rollback=False))
        row = Row(f"{ENGINE_NAMES[engine]}, apply", "apply", "apply", target="1.2x")
        b.report.rows([row], results, FLOOR)


def realistic(b: Bench) -> None:
    n = b.cfg.count
    wl = b.workload("realistic", n)
    b.report.section(
        f"{n:,} realistic migrations ({wl.description}): apply --no-backup, then roll "
        "all back, vs the driver floor"
    )
    b.report.header()
    for engine in b.engines:
        results = b.realistic_results(engine, n)
        name = ENGINE_NAMES[engine]
        rows = [
            # Issue 11's targets: the PostgreSQL floor is round trips, sqlmig's own no more.
            Row(f"{name}, apply", "apply", "apply", target=APPLY_TARGETS[engine]),
            Row(f"{name}, rollback --to 0", "rollback", "rollback"),
        ]
        b.report.rows(rows, results, FLOOR)
        b.reported.add((engine, n))


def backup(b: Bench) -> None:
    n = b.cfg.count
    b.report.section(
        f"The backup alone: `Migrator.backup()` of the database holding the {n:,} realistic "
        "migrations vs a plain copy (SQLite's backup API; pg_dump -Fc)"
    )
    for engine in b.engines:  # set up outside the header: its rows follow at once
        for side in b.sides:
            b.applied(side, engine)
    b.report.header()
    for engine in b.engines:
        results = b.measure(_backup_trial(b, engine))
        b.report.rows([Row(f"{ENGINE_NAMES[engine]}, backup", "backup", "backup")], results, FLOOR)


def _backup_trial(b: Bench, engine: str) -> Trial:
    def trial(side: Side, _: int) -> dict[str, Sample]:
        return {"backup": b.backup(side, b.applied(side, engine))}

    return trial


def flat(b: Bench) -> None:
    counts = sorted({*b.cfg.flat, b.cfg.count})
    b.report.section(
        "Flatness: ratio to the floor by N, realistic migrations (10,000 with SQLMIG_BENCH_10000=1)"
    )
    columns = [f"N={n:,}" for n in counts]
    cells: dict[str, list[str]] = {}
    for engine in b.engines:
        results = [b.realistic_results(engine, n) for n in counts]
        for op in ("apply", "rollback"):
            row = Row(f"{ENGINE_NAMES[engine]}, {op}", op, op)
            figures = {
                tree.name: [b.report.figure(row, r, tree, FLOOR) for r in results]
                for tree in b.trees
            }
            for tree in b.trees:
                label = row.label + (f" ({tree.name})" if b.report.comparing else "")
                cells[label] = [
                    f"{f.ratio.median:.2f}x {f.ratio.plus_minus}".rstrip()
                    for f in figures[tree.name]
                ]
            if b.report.comparing:
                pairs = zip(
                    counts, figures[b.trees[0].name], figures[b.trees[-1].name], strict=True
                )
                moved = {n: change(before, after) for n, before, after in pairs}
                cells[f"{row.label}: change"] = [change_text(e) for e in moved.values()]
                for n, estimate in moved.items():
                    if (engine, n) not in b.reported:  # else section 2 reported it
                        b.report.add_change(f"{row.label}, N={n:,}", estimate)
    b.report.table(columns, cells)


def data(b: Bench) -> None:
    rows = b.cfg.big_rows
    files = {"ordered": b.work / "big-ordered.db", "scattered": b.work / "big-scattered.db"}
    sizes = [workloads.big_sqlite(p, rows, scattered=k == "scattered") for k, p in files.items()]
    wl = workloads.unrelated(b.work / "unrelated")
    b.report.section(
        f"Cost that grows with data: SQLite files of {max(sizes) / 1e6:.0f} MB, a "
        f"{rows:,}-row parent and a {rows:,}-row child with a foreign key to it (child i "
        "references parent i, or parents scattered over the table); a copy per round"
    )
    b.report.note(
        "apply: a whole `sqlmig apply --no-backup` process creating one unrelated table; "
        "ref: the same on an empty file"
    )
    b.report.note("backup: `Migrator.backup()` of the first file; ref: SQLite's backup API copy")
    b.report.header("ref")
    results = b.measure(_data_trial(b, files, wl))
    b.report.rows(
        [
            Row("SQLite, apply, keys in order", "ordered", "empty", own_ref=True, target="1.1x"),
            Row("SQLite, apply, keys scattered", "scattered", "empty", own_ref=True, target="1.1x"),
            Row("SQLite, backup of the big file", "backup", "backup"),
        ],
        results,
        FLOOR,
    )
    for path in files.values():
        path.unlink()


def _baseline_none(side: Side, cwd: Path, url: str, folder: Path) -> None:
    """`sqlmig baseline 0`: the big files hold tables no migration made, which apply
    refuses on a database it never adopted. A tree from before `baseline 0` existed
    neither refuses nor knows it, so its failure is not one."""
    argv = python("-m", "sqlmig", "baseline", "0", "-d", url, "--dir", str(folder))
    subprocess.run(argv, env=child_env(side.tree), cwd=cwd, capture_output=True, check=False)


def _data_trial(b: Bench, files: dict[str, Path], wl: Workload) -> Trial:
    cwd = b.folder("cwd-data")

    def trial(side: Side, r: int) -> dict[str, Sample]:
        if side.is_floor:
            copy = b.dbs.copy_sqlite(files["ordered"], "floor")
            try:
                return {"backup": b.backup(side, copy)}
            finally:
                b.dbs.drop(copy)
        urls = {key: b.dbs.copy_sqlite(path, f"{key}_{side.name}") for key, path in files.items()}
        urls["empty"] = b.dbs.new("sqlite", f"empty_{side.name}")
        try:
            for url in urls.values():  # adopted, as a real database would be, and untimed
                _baseline_none(side, cwd, url, wl.folder)
            keys = list(urls)
            samples = {
                key: b.cli(side, cwd, "apply", "--no-backup", "-d", urls[key], "--dir", wl.folder)
                for key in keys[r % 3 :] + keys[: r % 3]
            }
            samples["backup"] = b.backup(side, urls["ordered"])
            return samples
        finally:
            for url in urls.values():
                b.dbs.drop(url)

    return trial


def status(b: Bench) -> None:
    n = b.cfg.count
    b.report.section(
        f"`sqlmig status` on {n:,} applied realistic migrations, whole process, stdout a "
        f"file, vs a floor process (reads and hashes the files, reads the version table with "
        "the same driver, prints the pending count)"
    )
    for engine in b.engines:
        for side in b.sides:
            b.applied(side, engine)
    b.report.header()
    for engine in b.engines:
        trial = _status_trial(b, engine)
        for side in b.sides:
            trial(side, -1)  # once untimed: the first run reads from disk
        results = b.measure(trial)
        row = Row(f"{ENGINE_NAMES[engine]}, status", "status", "status", target="1.3x")
        b.report.rows([row], results, FLOOR)
    startup = statistics.median(
        run_whole(python("-c", "pass"), floor_env(), b.work).seconds for _ in range(5)
    )
    b.report.note(f"(`python -c pass` on this machine: {seconds(startup)})")


def _status_trial(b: Bench, engine: str) -> Trial:
    folder = b.workload("realistic", b.cfg.count).folder
    cwd = b.folder(f"cwd-status-{engine}")

    def trial(side: Side, _: int) -> dict[str, Sample]:
        url = b.applied(side, engine)
        if side.is_floor:
            argv = python("-m", "floors", "status", url, folder)
            return {"status": run_whole(argv, floor_env(), cwd)}
        return {"status": b.cli(side, cwd, "status", "-d", url, "--dir", folder)}

    return trial


def diff(b: Bench) -> None:
    n = b.cfg.diff_tables
    b.report.section(
        f"`sqlmig diff` when nothing drifted, {n:,} tables (columns, an index, a foreign key "
        "each), whole process; the first run (cold) apart from the later ones (warm)"
    )
    b.report.note(
        "ref: `pg_dump --schema-only` of the same database; on SQLite a floor process that "
        "loads the baseline into memory and compares sqlite_master (median of all rounds)"
    )
    b.report.note(
        "each tree runs in its own cwd and XDG_CACHE_HOME: a baseline cache kept in either "
        "starts cold"
    )
    b.report.header("ref")
    for engine in b.engines:
        url = b.dbs.new(engine, "diff")
        ddl = workloads.schema_ddl(n, engine)
        baseline = b.work / f"schema-{engine}.sql"
        baseline.write_text(ddl)
        _load(url, ddl)
        results = b.measure(_diff_trial(b, url, baseline), b.cfg.rounds + 1)
        name = ENGINE_NAMES[engine]
        b.report.rows(
            [
                Row(f"{name}, diff, cold", "cold", "ref"),
                Row(f"{name}, diff, warm", "warm", "ref", target=DIFF_TARGETS[engine]),
            ],
            results,
            FLOOR,
        )
        b.dbs.drop(url)


DIFF_TARGETS = {"sqlite": "< 0.3 s", "postgres": "1.2x"}
APPLY_TARGETS = {"sqlite": "1.2x", "postgres": "1.1x"}


def _diff_trial(b: Bench, url: str, baseline: Path) -> Trial:
    homes = {tree.name: b.folder(f"cwd-diff-{tree.name}") for tree in b.trees}

    def trial(side: Side, r: int) -> dict[str, Sample]:
        if side.is_floor:
            if url.startswith("sqlite:"):
                argv = python("-m", "floors", "diff-sqlite", url, baseline)
            else:
                argv = [b.pg_dump, "--schema-only", "--dbname", url]
            return {"ref": run_whole(argv, floor_env(), b.work)}
        home = homes[side.name]
        cache = str(home / "cache")
        args = ("diff", "-d", url, "--baseline", baseline, "--dir", home)
        return {"cold" if r == 0 else "warm": b.cli(side, home, *args, XDG_CACHE_HOME=cache)}

    return trial


def memory(b: Bench) -> None:
    b.report.section(
        "Memory: one migration of ordinary INSERT statements (100 rows each), library apply "
        "vs a floor that streams the file a line at a time; 1 round (500 MB with "
        "SQLMIG_BENCH_500MB=1)"
    )
    b.report.header()
    for mb in b.cfg.seed_mb:
        wl = workloads.seed(b.work / f"seed-{mb}", mb)
        workloads.warm(wl.folder)
        for engine in b.engines:
            results = b.measure(_seed_trial(b, engine, wl), 1, spread=False)
            name = f"{ENGINE_NAMES[engine]}, {mb} MB migration"
            b.report.rows([Row(name, "seed", "seed", target="RSS < 100 MB")], results, FLOOR)
        shutil.rmtree(wl.folder)


def _seed_trial(b: Bench, engine: str, wl: Workload) -> Trial:
    up = next((wl.folder / "up").iterdir())

    def trial(side: Side, _: int) -> dict[str, Sample]:
        url = b.dbs.new(engine, f"seed_{side.name}")
        try:
            if side.is_floor:
                argv = python("-m", "floors", "seed", url, wl.plan, up)
                return {"seed": run_inner(side, argv, floor_env(), b.work)}
            return {"seed": b.library(side, "apply", url, wl)}
        finally:
            b.dbs.drop(url)

    return trial


FLEET_MIGRATIONS = 10


def fleet(b: Bench) -> None:
    n = b.cfg.fleet_targets
    wl = b.workload("simple", FLEET_MIGRATIONS)
    b.report.section(
        f"A fleet: {FLEET_MIGRATIONS} migrations ({wl.description}) applied to {n} SQLite files "
        f"and to {n} tenant schemas of one PostgreSQL database; whole processes"
    )
    b.report.note(
        "loop: a shell loop of one `sqlmig apply` process per target (tenants: --schema and "
        "the search_path in the URL); sqlmig: one `sqlmig apply --all-targets`, serially "
        "and with --parallel 4"
    )
    b.report.header("loop")
    for engine in b.engines:
        results = b.measure(_fleet_trial(b, engine, wl, n), min(b.cfg.rounds, 3), spread=False)
        name = f"{ENGINE_NAMES[engine]}, {n} {'files' if engine == 'sqlite' else 'tenants'}"
        rows = [
            Row(f"{name}, one process", "serial", "loop", own_ref=True, target="< 0.33x"),
            Row(f"{name}, --parallel 4", "parallel", "loop", own_ref=True),
        ]
        b.report.rows(rows, results, FLOOR)


def _fleet_trial(b: Bench, engine: str, wl: Workload, n: int) -> Trial:
    def trial(side: Side, r: int) -> dict[str, Sample]:
        if side.is_floor:
            return {}  # the reference is the same tree's loop
        samples = {}
        for key in ("loop", "serial", "parallel")[r % 3 :] + ("loop", "serial", "parallel")[
            : r % 3
        ]:
            cwd = b.folder(f"fleet-{key}")
            urls, loop_urls, made = _fleet_targets(b, engine, cwd, n)
            try:
                if key == "loop":
                    (cwd / "urls.txt").write_text("".join(u + "\n" for u in loop_urls))
                    script = (
                        'while read -r url more; do "$0" -m sqlmig apply --no-backup -d "$url" '
                        f"$more --dir {wl.folder} > /dev/null || exit 1; done < urls.txt"
                    )
                    samples[key] = run_whole(
                        ["sh", "-c", script, sys.executable], child_env(side.tree), cwd
                    )
                else:
                    more = ("--parallel", "4") if key == "parallel" else ()
                    args = ("apply", "--all-targets", "--no-backup", "--dir", wl.folder, *more)
                    samples[key] = b.cli(side, cwd, *args)
                _check_fleet(urls, engine)
            finally:
                for url in made:
                    b.dbs.drop(url)
                shutil.rmtree(cwd)
        return samples

    return trial


def _fleet_targets(
    b: Bench, engine: str, cwd: Path, n: int
) -> tuple[list[str], list[str], list[str]]:
    """Write cwd/sqlmig.toml naming ``n`` fresh targets: (the targets' URLs, the URLs a
    loop of single runs uses for them, the databases to drop afterwards)."""
    if engine == "sqlite":
        urls = [f"sqlite:///{cwd / f'f{i:04d}.db'}" for i in range(n)]
        (cwd / "targets.txt").write_text("".join(u + "\n" for u in urls))
        (cwd / "sqlmig.toml").write_text('[targets]\nfiles = { file = "targets.txt" }\n')
        return urls, urls, []
    import psycopg

    url = b.dbs.new("postgres", "fleet")
    tenants = [f"t{i:04d}" for i in range(n)]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tenants (name text)")
        conn.execute("INSERT INTO tenants SELECT unnest(%s::text[])", (tenants,))
    query = "SELECT name FROM tenants ORDER BY name"
    (cwd / "sqlmig.toml").write_text(
        f'[targets]\ntenants = {{ url = "{url}", tenants = "{query}" }}\n'
    )
    # A single run for one tenant: its tables in its schema, its search_path pinned to it.
    singles = [f"{url}?options=-csearch_path%3D{t} --schema {t}" for t in tenants]
    return [f"{url}#{t}" for t in tenants], singles, [url]


def _check_fleet(urls: list[str], engine: str) -> None:
    """Every target got every migration: a fast run that did less would flatter."""
    first, last = urls[0], urls[-1]
    for url in (first, last):
        if engine == "sqlite":
            conn = sqlite3.connect(sqlite_path(url))
            found = conn.execute("SELECT count(*) FROM schema_version").fetchone()[0]
            conn.close()
        else:
            import psycopg

            base, tenant = url.split("#")
            with psycopg.connect(base) as conn:
                found = conn.execute(f'SELECT count(*) FROM "{tenant}".schema_version').fetchone()[
                    0
                ]  # type: ignore[index]
        if found != FLEET_MIGRATIONS:
            raise ChildFailed(
                f"{url.split('#')[-1]} has {found} migrations, not {FLEET_MIGRATIONS}"
            )


def _load(url: str, ddl: str) -> None:
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(sqlite_path(url))
        conn.executescript(ddl)
        conn.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(ddl)


def whole(b: Bench) -> None:
    n = b.cfg.count
    wl = b.workload("realistic", n)
    b.report.section(
        f"`sqlmig apply --single-transaction --no-backup` of {n:,} realistic migrations, whole "
        "process, vs the raw single transaction of the same SQL: `psql -1 -f`, and the "
        "sqlite3 CLI reading it between BEGIN and COMMIT (WAL and foreign keys on, as sqlmig)"
    )
    b.report.note("the references record no versions: sqlmig's version rows are in its time")
    b.report.header("ref")
    script = b.work / "whole.sql"
    ups = sorted((wl.folder / "up").iterdir())
    script.write_text("".join(p.read_text() + "\n" for p in ups))
    lite = b.work / "whole-sqlite.sql"
    body = script.read_text()
    lite.write_text(
        f"PRAGMA journal_mode = wal;\nPRAGMA foreign_keys = ON;\nBEGIN;\n{body}COMMIT;\n"
    )
    psql = str(Path(b.pg_dump).with_name("psql"))
    for engine in b.engines:
        results = b.measure(_whole_trial(b, engine, wl, {"sqlite": lite, "postgres": script}, psql))
        target = {"sqlite": "1.5x", "postgres": "1.2x"}[engine]
        row = Row(f"{ENGINE_NAMES[engine]}, one transaction", "whole", "ref", target=target)
        b.report.rows([row], results, FLOOR)


def _whole_trial(b: Bench, engine: str, wl: Workload, scripts: dict[str, Path], psql: str) -> Trial:
    cwd = b.folder(f"cwd-whole-{engine}")

    def trial(side: Side, _: int) -> dict[str, Sample]:
        url = b.dbs.new(engine, f"whole_{side.name}")
        try:
            if not side.is_floor:
                args = ("apply", "--single-transaction", "--no-backup", "-d", url)
                return {"whole": b.cli(side, cwd, *args, "--dir", wl.folder)}
            if engine == "sqlite":
                argv = ["sqlite3", str(sqlite_path(url)), f".read {scripts['sqlite']}"]
            else:
                argv = [psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f"]
                argv += [str(scripts["postgres"]), "-d", url]
            return {"ref": run_whole(argv, floor_env(), b.work)}
        finally:
            b.dbs.drop(url)

    return trial


SECTIONS: dict[str, Callable[[Bench], None]] = {
    "today": today,
    "realistic": realistic,
    "backup": backup,
    "flat": flat,
    "data": data,
    "status": status,
    "diff": diff,
    "memory": memory,
    "fleet": fleet,
    "whole": whole,
}
SQLITE_ONLY = {"data"}
