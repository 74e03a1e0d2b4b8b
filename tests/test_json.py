"""--json on every command: exactly one document on stdout, for success and for failure,
each checked against sqlmig.docschema, on both engines; fleet runs' documents too; and
the README's examples, which must validate and cover every command."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sqlmig import docschema
from sqlmig.config import mask_url
from tests.conftest import REPO
from tests.helpers import query
from tests.pgcluster import PASSWORD, PASSWORD_USER
from tests.test_docs import README, commands
from tests.test_fleet import break_target, sqlite_fleet


class Session:
    """Runs commands with --json in this process, checks each document, and remembers
    which commands it saw succeed and fail."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.folder = url, folder
        self.succeeded: set[str] = set()
        self.failed: set[str] = set()

    def db(self, *args: str) -> list[str]:
        """``args`` with this session's database and migration folder."""
        return [*args, "-d", self.url, "--dir", str(self.folder)]

    def run(self, args: list[str], code: int = 0) -> dict[str, Any]:
        result = CliRunner().invoke(app(), [*args, "--json"])
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        assert PASSWORD not in result.stdout + result.stderr
        doc = json.loads(result.stdout)  # all of stdout parses: one document, nothing else
        assert docschema.check(doc) == [], (args, doc)
        command = args[0]
        assert doc["command"] == command
        if "error" in doc:
            assert doc["exit_code"] == doc["error"]["exit_code"] == code != 0
            assert doc["error"]["message"] in result.stderr  # and said to people, as ever
            self.failed.add(command)
        else:
            # ok false and exit 0: status finds migrations to apply, and only --exit-code
            # makes that a failure.
            assert doc["ok"] is (code == 0) or doc["command"] == "status", doc
            self.succeeded.add(command)
        if not {"error", "targets"} & doc.keys() and command not in ("new", "lint"):
            assert doc["database"] == mask_url(self.url)
        return doc

    def fails(self, args: list[str], code: int, kind: str) -> dict[str, Any]:
        doc = self.run(args, code)
        assert doc["error"]["kind"] == kind, doc
        return doc


def app() -> Any:
    from sqlmig.cli import app

    return app


@pytest.fixture
def session(db_url: str, tmp_path: Path, pg_cluster: Any) -> Session:
    """The demo set and its seeds in a project; on PostgreSQL through a role with a
    password, which no document may show."""
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    if db_url.startswith("postgresql") and not isinstance(pg_cluster, str):
        db_url = pg_cluster.url(db_url.rsplit("/", 1)[1], user=PASSWORD_USER, password=PASSWORD)
    return Session(db_url, tmp_path / "sql")


def test_every_command_takes_json():
    """A command added without --json fails here (and in the walk below, which must see
    each succeed and fail)."""
    found = commands()
    lacking = [
        name for name, cmd in found.items() if not any("--json" in p.opts for p in cmd.params)
    ]
    assert lacking == []
    assert set(found) <= set(docschema.BODIES), "a command without a document schema"


def test_every_command_prints_one_valid_document_on_success_and_on_failure(session, tmp_path):
    s, sql = session, session.folder
    bad_url = ["-d", "mysql://u:pw@x/db", "--dir", str(sql)]

    fresh = s.run(s.db("metrics"))
    assert fresh["current_version"] is None and fresh["last_run_at"] is None
    status = s.run(s.db("status"))
    assert status["current_version"] is None and status["counts"]["pending"] == 5
    s.fails(["status", *bad_url], 2, "ConfigError")
    s.run(s.db("baseline", "0"))
    s.run(s.db("validate"))
    s.fails(["validate", *bad_url], 2, "ConfigError")
    s.run(["lint", "--dir", str(sql)])
    # On PostgreSQL the demo set's index build is a finding (it locks writes): exit 1.
    linted = s.run([*s.db("lint"), "--pending"], 1 if s.url.startswith("postgresql") else 0)
    assert linted["database"] == mask_url(s.url)
    s.fails(["lint", "--dir", str(sql), "nosuch.sql"], 2, "ConfigError")

    if s.url.startswith("postgresql"):  # the demo set's index build: lint stops the run
        stopped = s.fails(s.db("apply", "--lint"), 1, "LintError")
        assert stopped["error"]["lint"][0]["file"].endswith(
            "0004_index_accounts_email_normalized.sql"
        )
    plan = s.run(s.db("apply", "--dry-run"))
    assert [m["version"] for m in plan["migrations"]] == [1, 2, 3, 4, 5]
    assert plan["migrations"][0]["statements"][0]["line"] >= 1
    assert s.run(s.db("rollback", "--dry-run"))["migrations"] == []
    done = s.run(s.db("apply", "--to", "2", "--no-backup"))
    assert [st["version"] for st in done["steps"]] == [1, 2] and done["differences"] is None
    assert done["status"]["current_version"] == 2
    refused = s.fails(s.db("baseline", "5"), 1, "ValidationError")
    assert refused["error"]["problems"][0]["kind"] == "invalid"

    # A failure part-way: 3 to 6 commit, 7 (outside a transaction) stops at its line 2.
    (sql / "up" / "0006_six.sql").write_text("CREATE TABLE six (a int);\n")
    (sql / "down" / "0006_six.sql").write_text("DROP TABLE six;\n")
    (sql / "up" / "0007_seven.sql").write_text(
        "-- sqlmig: no-transaction\nCREATE TABLE seven (a int);\nINSERT INTO nosuch VALUES (1);\n"
    )
    (sql / "down" / "0007_seven.sql").write_text("DROP TABLE seven;\n")
    failed = s.fails(s.db("apply", "--no-backup"), 5, "StatementError")
    assert [st["version"] for st in failed["applied"]] == [3, 4, 5, 6]
    assert failed["error"]["file"].endswith("0007_seven.sql") and failed["error"]["line"] == 3
    assert "nosuch" in failed["error"]["db_message"] and failed["failed"]["version"] == 7
    dirty = s.run(s.db("status"))
    assert dirty["current_version"] == 6 and dirty["dirty_versions"] == [7]
    s.fails(s.db("resolve", "6", "--applied"), 1, "StateError")
    assert s.run(s.db("resolve", "7", "--rolled-back"))["resolution"] == "rolled_back"
    query(s.url, "DROP TABLE seven")
    for sub in ("up", "down"):
        (sql / sub / "0007_seven.sql").unlink()
    undone = s.run(s.db("rollback"))
    assert undone["direction"] == "down" and [st["version"] for st in undone["steps"]] == [6]
    s.fails(["rollback", *bad_url], 2, "ConfigError")
    for sub in ("up", "down"):
        (sql / sub / "0006_six.sql").unlink()

    assert [x["file"] for x in s.run(s.db("seed"))["seeds"]] == ["plans.sql"]
    (tmp_path / "seeds" / "zz_bad.sql").write_text("INSERT INTO nosuch VALUES (1);\n")
    seed_failed = s.fails(s.db("seed"), 5, "StatementError")
    assert seed_failed["error"]["file"].endswith("zz_bad.sql")
    (tmp_path / "seeds" / "zz_bad.sql").unlink()

    events = s.run(s.db("history"))["events"]
    assert "seed" in {e["event"] for e in events}
    assert all(e["occurred_at"].endswith("Z") for e in events)
    s.fails(s.db("history", "--since", "tomorrow"), 2, "ConfigError")

    assert s.run(s.db("diff"))["differences"] == []
    query(s.url, "CREATE TABLE extra (a int)")
    found = {d["object"]: d for d in s.run(s.db("diff"), 1)["differences"]}
    extra = found["table extra"]
    assert extra["kind"] == "unexpected" and extra["text"] == f"table extra: {extra['detail']}"
    query(s.url, "DROP TABLE extra")
    s.fails([*s.db("diff"), "--baseline", "nosuch.sql"], 2, "ConfigError")

    dumped = s.run([*s.db("dump"), "-o", "-"])
    assert dumped["file"] is None and "CREATE TABLE" in dumped["sql"]
    s.fails([*s.db("dump"), "-o", str(tmp_path / "no" / "such" / "x.sql")], 2, "ConfigError")
    assert s.run(s.db("test"))["problems"] == []
    s.fails(["test", *bad_url], 2, "ConfigError")

    taken = s.run(s.db("backup"))["backup"]
    assert taken["version"] == 5 and taken["taken_at"].endswith("Z")
    (tmp_path / "a_file").write_text("")
    s.fails([*s.db("backup"), "--backup-dir", str(tmp_path / "a_file")], 6, "BackupError")
    # rollback took backups of its own on SQLite: the one just taken is listed first
    assert s.run(s.db("backups"))["backups"][0]["path"] == taken["path"]
    s.fails(["backups", *bad_url], 2, "ConfigError")
    restored = s.run([*s.db("restore"), taken["path"], "--yes"])
    assert restored["status"]["current_version"] == 5
    s.fails([*s.db("restore"), str(tmp_path / "a_file"), "--yes"], 6, "BackupError")

    with (sql / "up" / "0005_rebuild_profiles.sql").open("a") as f:
        f.write("-- a comment added after it was applied\n")
    (changed,) = s.run(s.db("validate"), 1)["problems"]
    assert (changed["kind"], changed["object"]) == ("changed", "version 5")
    assert s.run(s.db("accept"))["accepted"] == [5]
    s.fails(s.db("accept", "99"), 1, "StateError")

    redone = s.run(s.db("redo", "--no-backup"))
    assert redone["direction"] == "redo" and [st["direction"] for st in redone["steps"]] == [
        "down",
        "up",
    ]
    planned = s.run(s.db("redo", "--dry-run"))
    assert [(m["version"], m["direction"]) for m in planned["migrations"]] == [
        (5, "down"),
        (5, "up"),
    ]
    s.fails(["redo", *bad_url], 2, "ConfigError")
    down = s.run(s.db("goto", "4", "--no-backup"))
    assert down["direction"] == "down" and [st["version"] for st in down["steps"]] == [5]
    assert s.run(s.db("goto", "5", "--dry-run"))["migrations"][0]["direction"] == "up"
    assert s.run(s.db("goto", "5", "--no-backup"))["direction"] == "up"
    s.fails(s.db("goto", "99"), 2, "ConfigError")

    now = s.run(s.db("metrics"))
    assert now["current_version"] == 5 and now["last_run_at"].endswith("Z")
    s.fails(["metrics", *bad_url], 2, "ConfigError")
    assert s.run([*s.db("wait"), "--timeout", "5"])["waited_seconds"] >= 0
    gone = f"sqlite:///{tmp_path / 'no' / 'folder' / 'x.db'}"
    s.fails(["wait", "-d", gone, "--timeout", "1"], 3, "ConnectError")

    made = s.run(["new", "add", "thing", "--dir", str(tmp_path / "other")])
    assert made["up"].endswith("0001_add_thing.sql")
    s.fails(["new", "!!!", "--dir", str(tmp_path / "other")], 2, "ConfigError")

    every = set(commands())
    assert every - s.succeeded == set(), "commands this walk never saw succeed"
    assert every - s.failed == set(), "commands this walk never saw fail"


def test_fleet_runs_print_one_valid_document(tmp_path):
    urls = sqlite_fleet(tmp_path, 3)
    s = Session(urls[0], tmp_path / "sql")
    every = ["--all-targets", "--continue-on-error"]
    plan = s.run(["apply", *every, "--dry-run"])
    assert [len(t["result"]["migrations"]) for t in plan["targets"]] == [10, 10, 10]
    break_target(urls[1], tmp_path, "files/f02")
    applied = s.run(["apply", *every, "--no-backup"], 5)
    states = [t["state"] for t in applied["targets"]]
    assert states == ["ok", "failed", "ok"] and applied["caused_by"] == ["files/f02"]
    error = applied["targets"][1]["error"]
    assert error["database"] == mask_url(urls[1]) and error["failed"]["version"] == 3
    assert [st["version"] for st in error["applied"]] == []  # 1 and 2 were applied before
    for command, code in (("status", 0), ("validate", 0), ("history", 0)):
        doc = s.run([command, *every], code)
        assert [t["database"] for t in doc["targets"]] == [mask_url(u) for u in urls]
    s.run(s.db("dump"))  # f01's schema.sql: f03's defaults name f03, so they differ
    drift = s.run(["diff", "--target", "files/f01", "--target", "files/f03"], 1)
    assert [len(t["result"]["differences"]) > 0 for t in drift["targets"]] == [False, True]
    metrics = s.run(["metrics", *every])
    assert [t["result"]["current_version"] for t in metrics["targets"]] == [10, 2, 10]
    s.run(["rollback", *every, "--dry-run"])
    s.run(["rollback", *every])
    refused = s.fails(["status", "--target", "nosuch"], 2, "ConfigError")
    assert refused["database"] is None  # a run on targets has no one database


def test_an_option_typer_refuses_still_gets_its_document(tmp_path):
    from tests.test_cli import sqlmig

    refused = sqlmig("apply", "--to", "abc", "--json", cwd=tmp_path)
    doc = json.loads(refused.stdout)
    assert refused.returncode == doc["exit_code"] == 2 and docschema.check(doc) == []
    assert doc["command"] == "apply" and doc["error"]["kind"] == "UsageError"
    assert "'abc' is not a valid int" in doc["error"]["message"]
    assert "sqlmig apply -h' for help." in refused.stderr  # as without --json
    unknown = sqlmig("nosuch", "--json", cwd=tmp_path)
    assert unknown.returncode == 2 and json.loads(unknown.stdout)["command"] == "sqlmig"


def test_nothing_applied_is_null_in_json_and_zero_on_the_gauge(sqlite_url, tmp_path):
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    gauge = CliRunner().invoke(app(), ["metrics", "-d", sqlite_url])
    assert gauge.exit_code == 0 and re.search(
        r"^sqlmig_current_version\{.*\} 0$", gauge.stdout, re.M
    )
    doc = Session(sqlite_url, tmp_path / "sql").run(["metrics", "-d", sqlite_url])
    assert doc["current_version"] is None and doc["pending"] == 5


def test_times_are_utc_whatever_zone_the_database_gave():
    from sqlmig.documents import utc

    assert utc("2026-12-01T11:30:00+01:00") == "2026-12-01T10:30:00.000Z"
    assert utc("2026-12-01 10:30:00.123456") == "2026-12-01T10:30:00.123Z"  # naive: UTC
    assert utc(0.0) == "1970-01-01T00:00:00.000Z"
    assert utc(None) is None


def test_the_checker_finds_what_breaks_the_scheme():
    status = {"command": "status", "ok": True, "database": "sqlite:///x.db", "current_version": 0}
    found = docschema.check(status | {"currentVersion": 1, "applied_at": 5})
    assert "$: key 'currentVersion' is not in the schema" in found
    assert "$.currentVersion: key is not snake_case" in found
    assert "$.applied_at: a key ending in _at must be a time (format date-time)" in found
    assert "$: key 'migrations' is missing" in found
    when = {"command": "metrics", "last_run_at": "2026-12-01 10:00"}
    assert any("not an ISO 8601 UTC time" in p for p in docschema.check(when))
    assert docschema.check({"command": "nosuch"}) != []


def readme_examples() -> list[dict[str, Any]]:
    section = README[README.index("## JSON output") :]
    section = section[: section.index("\n## ", 1)]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.DOTALL)]


def test_the_readme_examples_follow_the_schema_and_cover_every_command():
    examples = readme_examples()
    for doc in examples:
        assert docschema.check(doc) == [], doc
    shown = {doc["command"] for doc in examples if "error" not in doc and "targets" not in doc}
    assert set(commands()) - shown == set(), "commands without an example in the README"
    assert any("error" in doc for doc in examples) and any("targets" in doc for doc in examples)
