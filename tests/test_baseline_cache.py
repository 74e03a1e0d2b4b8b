"""The baseline cache: a check after the first compares with the model the first built,
never with one that anything it depends on has changed since, and a broken entry is
built again, never an error.

A test proves an entry was used (or not) by poisoning it: an object schema.sql does not
have is added to every entry and the entry signed again as sqlmig signs it, so a check
that uses one reports that object missing from the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sqlmig import Migrator, __version__
from sqlmig.cli import app
from sqlmig.config import load_settings
from sqlmig.errors import ConfigError
from sqlmig.schema import Findings, baseline, cache
from tests.conftest import REPO
from tests.test_dump import load

POISONED = "table poisoned missing in database"
SCHEMA = """
CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL DEFAULT '');
CREATE INDEX accounts_email ON accounts (email);
"""


@pytest.fixture
def cache_home() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"])  # the test's own (conftest)


def entries(root: Path) -> list[Path]:
    return sorted((root / "sqlmig" / "baselines").glob("*.json"))


def sign(path: Path, entry: dict[str, object]) -> None:
    payload = json.dumps(entry).encode()
    header = json.dumps({"format": cache.FORMAT, "sha256": hashlib.sha256(payload).hexdigest()})
    path.write_bytes(header.encode() + b"\n" + payload)


def read(path: Path) -> dict[str, object]:
    return json.loads(path.read_bytes().partition(b"\n")[2])


def poison(root: Path) -> None:
    found = entries(root)
    assert found, "no entry to poison"
    for path in found:
        entry = read(path)
        entry["schema"]["table poisoned"] = {"definition": "from the cache"}
        sign(path, entry)


@pytest.fixture
def project(db_url: str, tmp_path: Path) -> tuple[str, Path]:
    """A database and its dump as DIR/schema.sql."""
    load(db_url, SCHEMA)
    folder = tmp_path / "sql"
    (folder / "up").mkdir(parents=True)
    (folder / "down").mkdir()
    with Migrator(db_url, folder) as m:
        m.dump(folder / "schema.sql")
    return db_url, folder


def diff(url: str, folder: Path, **options: object) -> Findings:
    baseline_file = options.pop("baseline", None)
    with Migrator(url, folder, **options) as m:
        return m.diff(baseline_file)


def test_a_second_check_compares_with_the_model_the_first_built(project, cache_home):
    url, folder = project
    assert diff(url, folder) == []
    assert len(entries(cache_home)) == 1
    poison(cache_home)
    assert diff(url, folder) == [POISONED]  # what the next tests rely on: poison shows


def change_content(folder: Path, _: pytest.MonkeyPatch) -> dict[str, object]:
    with (folder / "schema.sql").open("a") as f:
        f.write("-- reviewed\n")
    return {}


def change_name(folder: Path, _: pytest.MonkeyPatch) -> dict[str, object]:
    other = folder / "other.sql"
    other.write_bytes((folder / "schema.sql").read_bytes())
    return {"baseline": other}


def change_table(_: Path, __: pytest.MonkeyPatch) -> dict[str, object]:
    return {"table": "other_version"}  # sqlmig's own tables are left out of the model


def change_sqlmig(_: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setattr(cache, "fingerprint", lambda: "0.0.0+another")
    return {}


def change_python(_: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setattr(cache, "python", lambda: "3.99")
    return {}


def change_driver(_: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Another SQLite library, or another psycopg: what the engine's side of a load is."""
    import psycopg

    monkeypatch.setattr(baseline, "sqlite_library", lambda: {"version": "3.99.0", "options": []})
    monkeypatch.setattr(psycopg, "__version__", "0.0.1")
    return {}


@pytest.mark.parametrize(
    "change",
    [change_content, change_name, change_table, change_sqlmig, change_python, change_driver],
)
def test_a_change_to_the_key_is_never_served_from_the_cache(
    project, cache_home, monkeypatch, change
):
    url, folder = project
    assert diff(url, folder) == []
    poison(cache_home)
    options = change(folder, monkeypatch)
    assert diff(url, folder, **options) == []  # loaded afresh: the poisoned entry is not used
    assert len(entries(cache_home)) == 2
    assert diff(url, folder, **options) == []  # and that load is kept in an entry of its own


def test_a_drifted_database_gets_the_same_report_from_the_cache(project):
    url, folder = project
    assert diff(url, folder) == []
    load(url, "ALTER TABLE accounts ADD COLUMN note text; DROP INDEX accounts_email;")
    cold = diff(url, folder, cache=False)
    assert "column accounts.note: in database, not in schema.sql" in cold
    assert "index accounts_email missing in database" in cold
    assert diff(url, folder) == cold


def test_the_cache_turned_off_is_neither_read_nor_written(project, cache_home):
    url, folder = project
    assert diff(url, folder, cache=False) == []
    assert entries(cache_home) == []
    assert diff(url, folder) == []
    poison(cache_home)
    assert diff(url, folder, cache=False) == []


def test_entries_are_private_in_the_configured_folder(project, tmp_path, cache_home):
    url, folder = project
    where = tmp_path / "ci-cache"
    assert diff(url, folder, cache_dir=where) == []
    assert entries(cache_home) == []
    [entry] = (where / "baselines").glob("*.json")
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE((where / "baselines").stat().st_mode) == 0o700
    assert list((where / "baselines").iterdir()) == [entry]  # no temporary file left


@pytest.mark.parametrize(
    "damage",
    ["cut short", "garbage", "edited", "wrong types", "another key", "empty", "another format"],
)
def test_a_broken_entry_is_built_again(project, cache_home, damage):
    url, folder = project
    assert diff(url, folder) == []
    [path] = entries(cache_home)
    data = path.read_bytes()
    entry = read(path)
    model = entry["schema"]
    if damage == "cut short":  # what a reader of a half-written file would see
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(500))
    elif damage == "edited":  # the poisoned object, but not signed again
        path.write_bytes(data.replace(b'"schema": {', b'"schema": {"table poisoned": {}, ', 1))
    elif damage == "wrong types":
        sign(path, entry | {"schema": {"table poisoned": {"definition": 1}}})
    elif damage == "another key":
        sign(path, entry | {"key": {"file": "another"}, "schema": {"table poisoned": {}}})
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        header = json.dumps({"format": 0, "sha256": hashlib.sha256(data).hexdigest()})
        path.write_bytes(header.encode() + b"\n" + data.partition(b"\n")[2])
    assert diff(url, folder) == []
    assert read(path)["schema"] == model
    poison(cache_home)
    assert diff(url, folder) == [POISONED]  # whole again, and used


def test_an_unreadable_entry_or_folder_is_a_note_not_an_error(project, tmp_path):
    url, folder = project
    where = tmp_path / "cache"
    assert diff(url, folder, cache_dir=where) == []
    [path] = (where / "baselines").glob("*.json")
    path.unlink()
    path.mkdir()  # an entry that cannot be read, nor replaced
    with Migrator(url, folder, cache_dir=where) as m:
        found = m.diff()
    assert found == []
    assert found.notes[-1].startswith("could not keep the baseline in the cache (Is a directory")
    assert found.notes[-1].endswith(
        "the next check loads it again; set cache_dir to a writable folder, or turn the cache "
        "off with --no-cache"
    )
    (tmp_path / "a-file").write_text("")
    with Migrator(url, folder, cache_dir=tmp_path / "a-file") as m:
        found = m.diff()
    assert found == [] and "could not keep the baseline in the cache" in found.notes[-1]


def test_what_killed_writers_left_is_ignored_and_old_entries_pruned(project, cache_home):
    url, folder = project
    where = cache_home / "sqlmig" / "baselines"
    where.mkdir(parents=True)
    old, recent = where / ".x.1.2.partial", where / ".y.3.4.partial"
    old.write_bytes(b'{"format": 1')
    recent.write_bytes(b'{"format": 1')
    an_hour_ago = time.time() - 3700
    os.utime(old, (an_hour_ago, an_hour_ago))
    unused = []
    for n in range(cache.KEEP + 3):
        path = where / f"{n:064x}.json"
        path.write_text("{}")
        os.utime(path, (an_hour_ago + n, an_hour_ago + n))
        unused.append(path)
    assert diff(url, folder) == []
    kept = sorted(where.iterdir())
    assert old not in kept and recent in kept  # another writer's may still be in progress
    assert len([p for p in kept if p.suffix == ".json"]) == cache.KEEP
    assert set(unused[:4]).isdisjoint(kept)  # the least recently used went
    for path in unused:
        path.unlink(missing_ok=True)
    poison(cache_home)
    [entry] = entries(cache_home)
    os.utime(entry, (an_hour_ago, an_hour_ago))
    assert diff(url, folder) == [POISONED]
    assert entry.stat().st_mtime > an_hour_ago + 600  # a hit marks it recently used


def sqlmig(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.Popen(
        [sys.executable, "-m", "sqlmig", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_checks_at_once_both_pass_and_leave_one_whole_entry(project, cache_home, tmp_path):
    url, folder = project
    runs = [sqlmig("diff", "-d", url, "--dir", str(folder), cwd=tmp_path) for _ in range(2)]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert (run.returncode, out, err) == (0, "schema matches schema.sql\n", "")
    [path] = entries(cache_home)
    assert read(path)["schema"]
    assert [p for p in path.parent.iterdir() if p.suffix != ".json"] == []


def test_apply_verify_and_the_round_trip_compare_with_the_cached_model(db_url, write_migration):
    folder = write_migration(1, "accounts", SCHEMA, "DROP TABLE accounts;")
    (folder / "schema.sql").write_text(SCHEMA)
    cache_home = Path(os.environ["XDG_CACHE_HOME"])
    with Migrator(db_url, folder) as m:
        assert m.apply(backup=False, verify=True).drift == []
        assert m.test_roundtrip().problems == []
        poison(cache_home)
        assert m.apply(backup=False, verify=True).drift == [POISONED]
        verdict, *found = m.test_roundtrip().problems
        assert verdict.startswith("schema.sql is not the schema the migrations build")
        assert found == ["after all migrations: table poisoned missing in migrations"]


def test_the_options_name_the_folder_or_turn_the_cache_off(project, tmp_path, cache_home):
    url, folder = project
    (folder / "up" / "0001_accounts.sql").write_text(SCHEMA)
    (folder / "down" / "0001_accounts.sql").write_text("DROP TABLE accounts;")
    where = tmp_path / "ci-cache"
    common = ["-d", url, "--dir", str(folder)]
    for command in ("diff", "test"):
        result = CliRunner().invoke(app, [command, *common, "--no-cache"])
        assert result.exit_code == 0, result.output
        assert entries(cache_home) == []
        result = CliRunner().invoke(app, [command, *common, "--cache-dir", str(where)])
        assert result.exit_code == 0, result.output
        assert len(list((where / "baselines").glob("*.json"))) == 1
    assert entries(cache_home) == []


def test_the_settings_name_the_folder_relative_to_the_config_file(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "sqlmig.toml").write_text('cache_dir = "ci/cache"\n')
    assert load_settings({}, project).cache_dir == project / "ci" / "cache"
    assert load_settings({"cache_dir": Path("mine")}, project).cache_dir == project / "mine"
    (project / "sqlmig.toml").write_text("cache = false\n")
    settings = load_settings({}, project)
    assert settings.cache is False and cache.folder(settings) is None
    for bad, message in (
        ('cache_dir = ""', "cache_dir must name a folder; cache = false turns it off"),
        ("cache = 0", "setting cache = 0 has the wrong type"),
        ("cache_dir = 3", "setting cache_dir = 3 has the wrong type"),
    ):
        (project / "sqlmig.toml").write_text(bad + "\n")
        with pytest.raises(ConfigError, match=message):
            load_settings({}, project)


def test_the_default_folder_follows_the_xdg_rules(tmp_path, monkeypatch):
    settings = load_settings({}, tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.folder(settings) == tmp_path / "xdg" / "sqlmig" / "baselines"
    for ignored in ("", "relative/path"):
        monkeypatch.setenv("XDG_CACHE_HOME", ignored)
        assert cache.folder(settings) == tmp_path / "home" / ".cache" / "sqlmig" / "baselines"


def test_a_cached_check_into_a_file_loads_neither_rich_nor_the_scratch_load(project, tmp_path):
    url, folder = project
    assert diff(url, folder) == []
    heavy = ["rich", "sqlmig.schema.scratch", "sqlmig.schema.pgload", "sqlmig.schema.pggrants"]
    heavy += ["sqlmig.schema.roundtrip", "pglast"]
    probe = (
        "import atexit, sys\n"
        f"heavy = {heavy!r}\n"
        "atexit.register(lambda: sys.stderr.write(repr([m for m in heavy if m in sys.modules])))\n"
        f"sys.argv = ['sqlmig', 'diff', '-d', {url!r}, '--dir', {str(folder)!r}]\n"
        "from sqlmig.cli import main\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert out.stdout == "schema matches schema.sql\n"
    assert out.stderr == "[]"
    assert len(list(Path(os.environ["XDG_CACHE_HOME"]).rglob("*.json"))) == 1  # it was a hit


def test_a_check_leaves_nothing_for_the_collector_at_exit(project):
    url, folder = project
    # Registered first, so run last: what the interpreter's own last collections would walk.
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: sys.stderr.write("
        "f'{gc.get_freeze_count() > 20000} {len(gc.get_objects()) < 1000}'))\n"
        f"sys.argv = ['sqlmig', 'diff', '-d', {url!r}, '--dir', {str(folder)!r}]\n"
        "from sqlmig.cli import main\n"
        "main()\n"
    )
    for _ in range(2):  # the cold check and the cached one
        out = subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=False
        )
        assert (out.stdout, out.stderr) == ("schema matches schema.sql\n", "True True")


def test_a_patched_copy_of_sqlmig_has_a_key_of_its_own(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(REPO / "sqlmig", copy / "sqlmig", ignore=shutil.ignore_patterns("__pycache__"))
    probe = "from sqlmig.schema import cache; print(cache.__file__, cache.fingerprint())"

    def fingerprint() -> str:
        env = {**os.environ, "PYTHONPATH": str(copy)}
        out = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        where, found = out.split()
        assert where.startswith(str(copy))
        return found

    first = fingerprint()
    assert first == fingerprint() and first.startswith(f"{__version__}+")
    with (copy / "sqlmig" / "schema" / "sqlite.py").open("a") as f:
        f.write("# patched\n")
    assert fingerprint() != first
