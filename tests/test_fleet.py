"""Fleets on real engines: 50 SQLite files, 20 PostgreSQL databases, 200 tenant schemas.

Each target keeps its own state, so a failure, a canary, a shard or an interruption
leaves every target exactly where its own history says, and running again resumes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlmig.fleet import Fleet
from sqlmig.fleet_results import FleetInterrupted, FleetResult, TargetResult
from sqlmig.models import Target
from tests.conftest import _admin, _with_db
from tests.helpers import query, versions
from tests.pgcluster import PASSWORD, PASSWORD_USER
from tests.test_baseline_cache import POISONED, entries, poison
from tests.test_cli import sqlmig

COUNT = 10


def write_set(folder: Path, count: int = COUNT, slow: dict[int, str] | None = None) -> Path:
    """``count`` migrations, each a table whose rows say which tenant they were made for;
    ``slow``: extra SQL for some versions."""
    for sub in ("up", "down"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for v in range(1, count + 1):
        up = (
            f"CREATE TABLE t{v} (id int PRIMARY KEY, made_for text DEFAULT :'tenant');\n"
            f"INSERT INTO t{v} (id) VALUES ({v});\n" + (slow or {}).get(v, "")
        )
        (folder / "up" / f"{v:04d}_t{v}.sql").write_text(up)
        (folder / "down" / f"{v:04d}_t{v}.sql").write_text(f"DROP TABLE t{v};\n")
    return folder


def sqlite_fleet(tmp_path: Path, n: int) -> list[str]:
    """A project of ``n`` SQLite targets listed in a file; their URLs."""
    write_set(tmp_path / "sql")
    (tmp_path / "db").mkdir()
    urls = [f"sqlite:///{tmp_path / 'db' / f'f{i:02d}.db'}" for i in range(1, n + 1)]
    (tmp_path / "targets.txt").write_text("".join(u + "\n" for u in urls))
    (tmp_path / "sqlmig.toml").write_text('[targets]\nfiles = { file = "targets.txt" }\n')
    return urls


def fleet(tmp_path: Path, **options) -> Fleet:
    return Fleet.from_config(tmp_path, all_targets=True, backup_dir=tmp_path / "b", **options)


def by_name(result: FleetResult) -> dict[str, TargetResult]:
    return {r.target.name: r for r in result.targets}


def break_target(url: str, project: Path, name: str, version: int = 3) -> None:
    """Make ``version`` fail on target ``name``: it is migrated up to the one before, and
    the table ``version`` creates already exists (made by hand, say)."""
    done = sqlmig("apply", "--target", name, "--to", str(version - 1), "--no-backup", cwd=project)
    assert done.returncode == 0, done.stderr
    query(url, f"CREATE TABLE t{version} (x int)")


def run_ids(url: str) -> set[str]:
    return {r[0] for r in query(url, "SELECT run_id FROM schema_version_history")}


# -- 50 SQLite files ------------------------------------------------------------------


def test_fifty_sqlite_files_in_parallel_under_one_run_id(tmp_path):
    urls = sqlite_fleet(tmp_path, 50)
    done = sqlmig("apply", "--all-targets", "--parallel", "4", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["ok"] and doc["exit_code"] == 0 and doc["caused_by"] == []
    assert [t["target"] for t in doc["targets"]] == [f"files/f{i:02d}" for i in range(1, 51)]
    assert {(t["state"], t["version_before"], t["version_after"]) for t in doc["targets"]} == {
        ("ok", None, COUNT)
    }
    for i, url in enumerate(urls, 1):
        assert versions(url) == list(range(1, COUNT + 1))
        assert run_ids(url) == {doc["run_id"]}  # one run id across the whole invocation
        assert query(url, "SELECT made_for FROM t1") == [(f"f{i:02d}",)]
    # Each target got its own backup, named after it, next to the files (backup_dir unset).
    backups = sorted(p.name for p in (tmp_path / "db" / "backups").glob("*.sqlite"))
    assert len(backups) == 50 and backups[0].startswith("files.f01-v0000-")
    again = sqlmig("status", "--all-targets", "--exit-code", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "50 target(s): 50 ok." in again.stdout


def test_a_failure_stops_new_targets_and_the_rerun_resumes(tmp_path):
    urls = sqlite_fleet(tmp_path, 50)
    break_target(urls[16], tmp_path, "files/f17")
    result = fleet(tmp_path).apply()
    targets = by_name(result)
    assert result.exit_code() == 5 and [r.target.name for r in result.causes()] == ["files/f17"]
    assert result.stopped == "files/f17 failed: 33 target(s) not started"
    f17 = targets["files/f17"]
    assert (f17.before, f17.after) == (2, 2) and "t3" in str(f17.error)  # broken at 2
    assert all(targets[f"files/f{i:02d}"].after == COUNT for i in range(1, 17))
    assert [r.target.name for r in result.not_started] == [f"files/f{i:02d}" for i in range(18, 51)]
    assert versions(urls[17]) == []  # never touched: not even created
    # Fixed, the same command again touches only what is behind.
    query(urls[16], "DROP TABLE t3")
    done = sqlmig("apply", "--all-targets", "--parallel", "3", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    steps = {t["target"]: len(t["result"]["steps"]) for t in json.loads(done.stdout)["targets"]}
    assert {n for n, k in steps.items() if k} == {f"files/f{i:02d}" for i in range(17, 51)}
    assert steps["files/f17"] == COUNT - 2
    assert all(versions(u) == list(range(1, COUNT + 1)) for u in urls)


def test_continue_on_error_goes_past_a_failed_target(tmp_path):
    urls = sqlite_fleet(tmp_path, 50)
    break_target(urls[4], tmp_path, "files/f05")
    done = sqlmig("apply", "--all-targets", "--parallel", "4", "--continue-on-error", cwd=tmp_path)
    assert done.returncode == 5, done.stderr
    assert "Exit 5 (a migration or seed failed): files/f05." in done.stdout
    lines = done.stdout.splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("target "))) + 1 :]
    assert table[-2].startswith("files/f05") and "error:" in table[-2]  # failed ones last
    assert all(versions(u) == list(range(1, COUNT + 1)) for i, u in enumerate(urls) if i != 4)
    assert versions(urls[4]) == [1, 2]


def test_a_failed_canary_starts_nothing_else(tmp_path):
    urls = sqlite_fleet(tmp_path, 50)
    break_target(urls[1], tmp_path, "files/f02")
    result = fleet(tmp_path, canary=3, parallel=4, continue_on_error=True).apply()
    assert result.exit_code() == 5
    assert result.stopped == "a canary target failed: 47 target(s) not started"
    assert [r.target.name for r in result.targets if r.started] == [
        "files/f01",
        "files/f02",
        "files/f03",
    ]
    assert versions(urls[0]) == versions(urls[2]) == list(range(1, COUNT + 1))
    assert all(versions(u) == [] for u in urls[3:])
    query(urls[1], "DROP TABLE t3")
    result = fleet(tmp_path, canary=3, parallel=4).apply()
    assert result.exit_code() == 0 and not result.not_started


def test_shards_split_the_fleet_across_runners_exactly_once(tmp_path):
    urls = sqlite_fleet(tmp_path, 50)
    seen: list[str] = []
    for i in (1, 2, 3):
        done = sqlmig("apply", "--all-targets", "--shard", f"{i}/3", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        seen += [t["target"] for t in json.loads(done.stdout)["targets"]]
    assert sorted(seen) == [f"files/f{i:02d}" for i in range(1, 51)]  # each once
    assert all(len(run_ids(u)) == 1 for u in urls)  # and migrated by one runner only


def test_the_exit_code_is_the_most_severe_and_the_summary_names_its_targets(tmp_path):
    write_set(tmp_path / "sql")
    (tmp_path / "sqlmig.toml").write_text(
        '[targets]\ngood = "sqlite:///good.db"\nbad = "sqlite:///bad.db"\n'
        'gone = "sqlite:///no/such/folder/x.db"\ndown = "postgresql://nobody@127.0.0.1:1/x"\n'
    )
    break_target(f"sqlite:///{tmp_path / 'bad.db'}", tmp_path, "bad")
    done = sqlmig("apply", "--all-targets", "--continue-on-error", "--json", cwd=tmp_path)
    doc = json.loads(done.stdout)
    assert done.returncode == doc["exit_code"] == 5 and doc["caused_by"] == ["bad"]
    states = {t["target"]: (t["state"], t["exit_code"]) for t in doc["targets"]}
    assert states == {
        "good": ("ok", 0),
        "bad": ("failed", 5),
        "gone": ("failed", 3),
        "down": ("failed", 3),
    }
    assert doc["targets"][1]["error"]["error"]["file"].endswith("0003_t3.sql")
    text = sqlmig("status", "--target", "good", "--target", "d*", "--exit-code", cwd=tmp_path)
    assert text.returncode == 3 and "Exit 3 (cannot connect): down." in text.stdout
    # Without --exit-code, a status that is not ok is no failure; the connection still is.
    query(f"sqlite:///{tmp_path / 'good.db'}", "DELETE FROM schema_version WHERE version = 10")
    text = sqlmig("status", "--target", "good", cwd=tmp_path)
    assert text.returncode == 0 and "1 pending" in text.stdout
    text = sqlmig("status", "--target", "good", "--exit-code", cwd=tmp_path)
    assert text.returncode == 1 and "Exit 1 (a check failed): good." in text.stdout


def test_target_options_are_checked_before_anything_runs(tmp_path):
    sqlite_fleet(tmp_path, 2)
    for args, message in [
        (["--all-targets", "-d", "sqlite:///x.db"], "--database-url names one database"),
        (["--target", "files", "--all-targets"], "--target NAME (repeatable) or --all-targets"),
        (["--parallel", "2"], "--parallel: name targets with --target or --all-targets"),
        (["--all-targets", "--shard", "4/3"], "--shard 4/3: write I/N"),
        (["--target", "nope"], "--target nope: no target matches"),
        (["--all-targets", "--var", "tenant=x"], "tenant is set per target"),
    ]:
        done = sqlmig("apply", *args, cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    assert not (tmp_path / "db" / "f01.db").exists()


def test_a_dry_run_shows_each_target_its_sql(tmp_path):
    sqlite_fleet(tmp_path, 2)
    done = sqlmig("apply", "--dry-run", "--all-targets", "--to", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("made_for text DEFAULT 'f01'") == 1
    assert "-- target files/f02 (sqlite:///" in done.stdout
    assert "DEFAULT 'f02'" in done.stdout and not (tmp_path / "db" / "f01.db").exists()


def test_metrics_and_history_name_every_target(tmp_path):
    sqlite_fleet(tmp_path, 3)
    fleet(tmp_path).apply()
    metrics = sqlmig("metrics", "--all-targets", cwd=tmp_path)
    assert metrics.returncode == 0 and metrics.stderr == ""
    series = [x for x in metrics.stdout.splitlines() if x.startswith("sqlmig_current_version")]
    assert [x.split('target="')[1].split('"')[0] for x in series] == [
        "files/f01",
        "files/f02",
        "files/f03",
    ]
    assert all(x.endswith(f" {COUNT}") for x in series)
    assert metrics.stdout.count("# TYPE sqlmig_current_version gauge") == 1
    history = sqlmig("history", "--target", "files/f0[23]", "-n", "1", "--json", cwd=tmp_path)
    doc = json.loads(history.stdout)
    assert [(t["target"], len(t["result"]["events"])) for t in doc["targets"]] == [
        ("files/f02", 1),
        ("files/f03", 1),
    ]
    assert doc["targets"][0]["result"]["events"][0]["variables"] == {"tenant": "f02"}


def test_the_library_returns_results_and_never_prints(tmp_path, capsys):
    sqlite_fleet(tmp_path, 5)
    seen: list[tuple[str, int, int]] = []
    result = Fleet.from_config(
        tmp_path,
        select=["files/f0[1-3]"],
        parallel=2,
        on_done=lambda r, done, total: seen.append((r.target.name, done, total)),
    ).apply(backup=False)
    assert [r.after for r in result.targets] == [COUNT] * 3
    assert sorted(n for n, _, _ in seen) == ["files/f01", "files/f02", "files/f03"]
    assert [(d, total) for _, d, total in seen] == [(1, 3), (2, 3), (3, 3)]
    assert capsys.readouterr() == ("", "")


def slow_sqlite() -> str:
    return (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000) "
        "SELECT count(*) FROM c;\n"
    )


def test_cancel_from_the_library_rolls_back_every_running_target(tmp_path):
    write_set(tmp_path / "sql", 3, slow={2: slow_sqlite()})
    names = ["a", "b", "c"]
    targets = [Target(n, f"sqlite:///{tmp_path / n}.db") for n in names]
    f = Fleet(targets, parallel=3)
    timer = threading.Timer(1.5, f.cancel)
    timer.start()
    with pytest.raises(FleetInterrupted) as info:
        f.apply(backup=False)
    result = info.value.result
    assert result.interrupted and result.exit_code() == 130
    assert [(r.interrupted, r.after) for r in result.targets] == [(True, 1)] * 3
    for t in targets:
        assert versions(t.url) == [1]
        failed = query(
            t.url, "SELECT version, error FROM schema_version_history WHERE event = 'fail'"
        )
        assert failed == [(2, "interrupted")]


# -- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture
def pg_databases(pg_cluster) -> Iterator[list[str]]:
    """20 fresh databases, dropped afterwards."""
    import psycopg

    admin = _admin(pg_cluster)
    names = [f"f_{uuid.uuid4().hex[:8]}_{i:02d}" for i in range(20)]
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f"CREATE DATABASE {name}")
    yield names
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_twenty_postgres_databases_and_no_password_in_any_output(
    tmp_path, pg_cluster, pg_databases
):
    if isinstance(pg_cluster, str):
        pytest.skip("needs the fixture's cluster with a password user")
    write_set(tmp_path / "sql")
    lines = [
        f"{name[-2:]} postgresql://{PASSWORD_USER}:${{PG_PW}}@127.0.0.1:{pg_cluster.port}/{name}"
        for name in pg_databases
    ]
    lines.append(f"wrong postgresql://{PASSWORD_USER}:not-{PASSWORD}@127.0.0.1:{pg_cluster.port}/x")
    (tmp_path / "dbs.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "sqlmig.toml").write_text('[targets]\ndbs = { file = "dbs.txt" }\n')
    env = {"PG_PW": PASSWORD.replace("@", "%40")}
    outputs = []
    for args, code in (
        (["apply", "--all-targets", "--parallel", "4", "--continue-on-error"], 3),
        (["apply", "--all-targets", "--parallel", "4", "--continue-on-error", "--json"], 3),
        (["status", "--all-targets", "--continue-on-error", "--exit-code", "--json"], 3),
        (["history", "--target", "dbs/0*", "--json"], 0),
        (["metrics", "--all-targets", "--continue-on-error"], 3),
        (["validate", "--all-targets", "--continue-on-error"], 3),
    ):
        done = sqlmig(*args, cwd=tmp_path, env=env)
        assert done.returncode == code, (args, done.stdout, done.stderr)  # 3: the wrong password
        outputs.append(done.stdout + done.stderr)
    for out in outputs:
        assert PASSWORD not in out and PASSWORD.replace("@", "%40") not in out
        assert "not-s3cr3t" not in out
    assert f"postgresql://{PASSWORD_USER}:***@127.0.0.1" in outputs[0]
    assert "Exit 3 (cannot connect): dbs/wrong." in outputs[0]
    status = json.loads(
        sqlmig("status", "--target", "dbs/1*", "--json", cwd=tmp_path, env=env).stdout
    )
    assert [t["version_before"] for t in status["targets"]] == [COUNT] * 10
    admin = _admin(pg_cluster)
    for name in pg_databases:
        assert versions(_with_db(admin, name)) == list(range(1, COUNT + 1))


TENANTS = 200


def make_tenants(tmp_path: Path, pg_url: str, count: int) -> Path:
    """A project whose one database's tenants table names ``count`` tenant schemas, and
    'Big Co' (none created yet)."""
    extra = "INSERT INTO t3 VALUES (100, :'schema' || ' ' || :'target');\n"
    extra += "GRANT SELECT ON t3 TO PUBLIC;\n"
    write_set(tmp_path / "sql", 3, slow={3: extra})
    (tmp_path / "sql" / "schema.sql").write_text(
        "".join(
            f"CREATE TABLE t{v} (id int PRIMARY KEY, made_for text DEFAULT 'x');\n"
            for v in range(1, 4)
        )
        + "GRANT SELECT ON t3 TO PUBLIC;\n"
    )
    query(pg_url, "CREATE TABLE tenants (name text)")
    query(
        pg_url,
        "INSERT INTO tenants SELECT format('t%s', lpad(i::text, 3, '0')) "
        f"FROM generate_series(1, {count}) i",
    )
    query(pg_url, "INSERT INTO tenants VALUES ('Big Co')")
    (tmp_path / "sqlmig.toml").write_text(
        f'[targets]\ntenants = {{ url = "{pg_url}", tenants = "SELECT name FROM tenants ORDER BY name" }}\n'
    )
    return tmp_path


@pytest.fixture
def tenant_project(tmp_path, pg_url) -> Path:
    return make_tenants(tmp_path, pg_url, TENANTS)


def test_the_readme_fleet_example_runs(tmp_path, pg_url, monkeypatch, capsys):
    import re

    from tests.test_docs import README

    (block,) = re.findall(r"```py\n(.*?)```", README, re.DOTALL)
    monkeypatch.chdir(make_tenants(tmp_path, pg_url, 2))
    with pytest.raises(SystemExit) as info:
        exec(compile(block, "README.md", "exec"), {})
    assert info.value.code == 0
    assert capsys.readouterr().out.splitlines() == [
        "tenants/Big Co ok None -> 3",
        "tenants/t001 ok None -> 3",
        "tenants/t002 ok None -> 3",
    ]


def test_two_hundred_tenant_schemas_each_with_its_own_state(tenant_project, pg_url):
    done = sqlmig("apply", "--all-targets", "--parallel", "4", "--json", cwd=tenant_project)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert len(doc["targets"]) == TENANTS + 1 and doc["ok"]
    # Each tenant's tables and its own version table live in its schema; public has none.
    assert query(pg_url, "SELECT made_for FROM t150.t2") == [("t150",)]
    assert query(pg_url, "SELECT made_for FROM t150.t3 WHERE id = 100") == [("t150 tenants/t150",)]
    assert query(pg_url, 'SELECT made_for FROM "Big Co".t1') == [("Big Co",)]
    assert query(pg_url, "SELECT count(*) FROM t007.schema_version") == [(3,)]
    assert query(
        pg_url, "SELECT to_regclass('public.t1'), to_regclass('public.schema_version')"
    ) == [(None, None)]
    run = {r[0] for r in query(pg_url, "SELECT DISTINCT run_id FROM t199.schema_version_history")}
    assert run == {doc["run_id"]}
    gate = sqlmig("status", "--all-targets", "--exit-code", cwd=tenant_project)
    assert gate.returncode == 0 and f"{TENANTS + 1} target(s): {TENANTS + 1} ok." in gate.stdout
    # One tenant behind: the gate names it, and the rerun touches it alone.
    query(pg_url, "DROP TABLE t042.t3; DELETE FROM t042.schema_version WHERE version = 3")
    gate = sqlmig("status", "--all-targets", "--exit-code", "--json", cwd=tenant_project)
    assert gate.returncode == 1 and json.loads(gate.stdout)["caused_by"] == ["tenants/t042"]
    again = json.loads(sqlmig("apply", "--all-targets", "--json", cwd=tenant_project).stdout)
    ran = [t["target"] for t in again["targets"] if t["result"]["steps"]]
    assert ran == ["tenants/t042"]


def test_a_tenant_is_diffed_as_if_its_objects_were_in_the_default_schema(tenant_project, pg_url):
    sqlmig("apply", "--target", "tenants/t00[12]", "--target", "tenants/Big*", cwd=tenant_project)
    for v in (1, 2, 3):
        for schema in ("t001", "t002", '"Big Co"'):
            query(pg_url, f"ALTER TABLE {schema}.t{v} ALTER made_for SET DEFAULT 'x'")
    query(pg_url, "CREATE INDEX t1_made_for ON t002.t1 (made_for)")
    # The database's and the tenant schema's own privileges are not the tenant's objects.
    query(pg_url, "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC")
    query(pg_url, "GRANT USAGE ON SCHEMA t001 TO PUBLIC")
    done = sqlmig(
        "diff", "--target", "tenants/t00[12]", "--target", "tenants/Big*", cwd=tenant_project
    )
    assert done.returncode == 1, done.stderr
    assert (
        "tenants/t002: schema drift: 1 difference(s)\n  - index t1_made_for: in database, not in schema.sql"
        in done.stdout
    )
    assert "tenants/t001" not in done.stdout.split("sqlmig diff:")[0]
    assert "Exit 1 (a check failed): tenants/t002." in done.stdout
    # The tenants share one cached model of schema.sql's default schema: a second diff
    # of each is served from it.
    cache = Path(os.environ["XDG_CACHE_HOME"])
    assert len(entries(cache)) == 1
    poison(cache)
    again = sqlmig("diff", "--target", "tenants/t00[12]", cwd=tenant_project)
    assert again.stdout.count(POISONED) == 2, again.stdout


def test_each_tenant_has_its_own_lock(tmp_path, pg_url):
    import hashlib

    import psycopg

    project = make_tenants(tmp_path, pg_url, 3)
    digest = hashlib.sha256(b"sqlmig:t002.schema_version").digest()
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute(
            "SELECT pg_advisory_lock(%s)", (int.from_bytes(digest[:8], "big", signed=True),)
        )
        done = sqlmig(
            "apply",
            "--all-targets",
            "--parallel",
            "4",
            "--lock-timeout",
            "1",
            "--json",
            cwd=project,
        )
    doc = json.loads(done.stdout)
    assert done.returncode == 4 and doc["caused_by"] == ["tenants/t002"]
    assert (
        "another sqlmig run is migrating t002.schema_version"
        in doc["targets"][2]["error"]["error"]["message"]
    )
    assert [t["version_after"] for t in doc["targets"]] == [3, 3, None, 3]


def test_tenants_query_errors_are_configuration_errors(tmp_path, pg_url):
    write_set(tmp_path / "sql", 1)
    for query_text, message in [
        ("SELECT nope FROM nowhere", "targets.tenants: the tenants query failed"),
        ("SELECT NULL::text", "must return schema names (text), not None"),
        ("SELECT 'a' UNION ALL SELECT 'a'", "returns 'a' twice"),
    ]:
        (tmp_path / "sqlmig.toml").write_text(
            f'[targets]\ntenants = {{ url = "{pg_url}", tenants = "{query_text}" }}\n'
        )
        done = sqlmig("status", "--all-targets", cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr, done.stderr


def wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("engine", "signum"), [("postgres", signal.SIGINT), ("sqlite", signal.SIGTERM)]
)
def test_ctrl_c_rolls_back_every_running_target_and_prints_the_summary(
    tmp_path, engine, signum, pg_cluster
):
    if engine == "postgres":
        import psycopg

        names = [f"c_{uuid.uuid4().hex[:8]}_{i}" for i in range(4)]
        with psycopg.connect(_admin(pg_cluster), autocommit=True) as conn:
            for name in names:
                conn.execute(f"CREATE DATABASE {name}")
        urls = [_with_db(_admin(pg_cluster), n) for n in names]
        slow = "SELECT pg_sleep(60);\n"
    else:
        urls = [f"sqlite:///{tmp_path / f'c{i}.db'}" for i in range(4)]
        slow = slow_sqlite()
    try:
        write_set(tmp_path / "sql", 3, slow={2: slow})
        (tmp_path / "sqlmig.toml").write_text(
            "[targets]\n" + "".join(f'c{i} = "{u}"\n' for i, u in enumerate(urls))
        )
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sqlmig",
                "apply",
                "--all-targets",
                "--parallel",
                "3",
                "--no-backup",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        running = urls[:3]
        wait_for(lambda: all(versions(u) == [1] for u in running))
        if engine == "postgres":
            wait_for(
                lambda: (
                    query(
                        urls[0],
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%SELECT pg_sleep%' AND pid <> pg_backend_pid()",
                    )[0][0]
                    == 3
                )
            )
        else:
            time.sleep(0.5)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, out + err
        for url in running:
            assert versions(url) == [1]
            failed = query(
                url, "SELECT version, error FROM schema_version_history WHERE event = 'fail'"
            )
            assert failed == [(2, "interrupted")]
        assert versions(urls[3]) == []  # never started
        assert out.count("interrupted: the migration in progress was rolled back") >= 3
        assert "c3" in out and "not started" in out
        assert "Exit 130 (interrupted): c0, c1, c2." in out
    finally:
        if engine == "postgres":
            import psycopg

            with psycopg.connect(_admin(pg_cluster), autocommit=True) as conn:
                for name in names:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_an_older_checkout_rolls_back_every_target_from_the_database(tmp_path):
    urls = sqlite_fleet(tmp_path, 2)
    assert sqlmig("apply", "--all-targets", "--no-backup", cwd=tmp_path).returncode == 0
    for sub in ("up", "down"):
        (tmp_path / "sql" / sub / f"{COUNT:04d}_t{COUNT}.sql").unlink()
    refused = sqlmig("rollback", "--all-targets", cwd=tmp_path)
    assert refused.returncode != 0 and "--from-database" in refused.stdout + refused.stderr
    dry = sqlmig("rollback", "--all-targets", "--from-database", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0 and f"DROP TABLE t{COUNT};" in dry.stdout
    done = sqlmig("rollback", "--all-targets", "--from-database", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [versions(u) for u in urls] == [list(range(1, COUNT))] * 2


def test_a_tenant_behind_is_diffed_with_what_its_own_values_built(tmp_path, pg_url):
    # The migrations' defaults are :'tenant': the scratch build of versions 1 and 2 must
    # run with t001's values, as its own apply did, to be the schema t001 has.
    project = make_tenants(tmp_path, pg_url, 2)
    sqlmig("apply", "--target", "tenants/t001", "--to", "2", cwd=project)
    done = sqlmig("diff", "--target", "tenants/t001", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 migration(s) pending (3)" in done.stdout
    query(pg_url, "ALTER TABLE t001.t2 ALTER made_for SET DEFAULT 't002'")
    drifted = sqlmig("diff", "--target", "tenants/t001", cwd=project)
    assert drifted.returncode == 1 and "column t2.made_for" in drifted.stdout, drifted.stdout


def test_the_round_trip_and_dump_run_with_the_configured_values(tmp_path, monkeypatch):
    folder = tmp_path / "sql"
    for sub in ("up", "down"):
        (folder / sub).mkdir(parents=True)
    (folder / "up" / "0001_a.sql").write_text("CREATE TABLE a (region text DEFAULT :'region');\n")
    (folder / "down" / "0001_a.sql").write_text("DROP TABLE a;\n")
    (tmp_path / "sqlmig.toml").write_text(
        'database_url = "sqlite:///app.db"\nvars = { region = "eu" }\n'
    )
    monkeypatch.delenv("DATABASE_URL", raising=False)
    dumped = sqlmig("dump", "--from-migrations", "-o", "-", cwd=tmp_path)
    assert dumped.returncode == 0 and "DEFAULT 'eu'" in dumped.stdout, dumped.stderr
    (folder / "schema.sql").write_text(dumped.stdout)
    tested = sqlmig("test", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
