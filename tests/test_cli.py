"""The command line as users run it: a real `sqlmig` process, its output and exit codes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.helpers import query, versions
from tests.pgcluster import PASSWORD, PASSWORD_USER


def sqlmig(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full_env.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "sqlmig", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    return tmp_path


def test_newcomer_flow_on_the_embedded_default(project):
    first = sqlmig("status", "--exit-code", cwd=project)
    assert first.returncode == 1, first.stderr
    assert "5 pending" in first.stdout
    assert not (project / "sqlmig.db").exists()
    done = sqlmig("apply", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "0001_create_accounts.sql" in done.stdout and "applied 5 migration(s)" in done.stdout
    st = sqlmig("status", "--exit-code", cwd=project)
    assert st.returncode == 0 and "5 applied" in st.stdout and "database at version 5" in st.stdout
    assert versions(f"sqlite:///{project / 'sqlmig.db'}") == [1, 2, 3, 4, 5]


def test_status_json(project):
    sqlmig("apply", "--to", "2", cwd=project)
    data = json.loads(sqlmig("status", "--json", cwd=project).stdout)
    assert data["current_version"] == 2 and data["counts"]["pending"] == 3
    assert [m["state"] for m in data["migrations"]] == ["applied"] * 2 + ["pending"] * 3


def test_dry_run_prints_sql_and_touches_nothing(project):
    out = sqlmig("apply", "--dry-run", cwd=project)
    assert out.returncode == 0, out.stderr
    assert "-- " + str(Path("sql/up/0001_create_accounts.sql")) in out.stdout.replace(
        str(project) + "/", ""
    )
    assert (
        "CREATE TABLE plans (" in out.stdout and "BEGIN;" in out.stdout and "COMMIT;" in out.stdout
    )
    assert out.stdout.index("0001_create") < out.stdout.index("0005_rebuild")
    assert not (project / "sqlmig.db").exists()
    sqlmig("apply", cwd=project)
    back = sqlmig("rollback", "2", "--dry-run", cwd=project)
    assert "DROP TABLE profiles;" in back.stdout and back.stdout.index("0005") < back.stdout.index(
        "0004"
    )
    assert versions(f"sqlite:///{project / 'sqlmig.db'}") == [1, 2, 3, 4, 5]


def test_rollback_and_history(project):
    sqlmig("apply", cwd=project)
    out = sqlmig("rollback", cwd=project)
    assert out.returncode == 0 and "rolled back 1 migration(s)" in out.stdout
    hist = json.loads(sqlmig("history", "--json", cwd=project).stdout)["events"]
    assert [h["event"] for h in hist[:2]] == ["rollback", "apply"]
    assert hist[0]["version"] == 5


def test_exit_codes(project, tmp_path):
    (project / "sql" / "up" / "0006_broken.sql").write_text("CREATE TABLE x (a int);\nSELEC 1;\n")
    (project / "sql" / "down" / "0006_broken.sql").write_text("DROP TABLE x;\n")
    failed = sqlmig("apply", cwd=project)
    assert failed.returncode == 5
    assert "0006_broken.sql:2" in failed.stderr and "syntax error" in failed.stderr
    assert "rolled back" in failed.stderr
    (project / "sql" / "down" / "0006_broken.sql").unlink()
    invalid = sqlmig("validate", cwd=project)
    assert invalid.returncode == 1 and "has no down file" in invalid.stderr
    (project / "sql" / "up" / "0006_broken.sql").unlink()
    assert sqlmig("apply", "-d", "mysql://u:pw@h/db", cwd=project).returncode == 2
    assert sqlmig("apply", "--no-such-flag", cwd=project).returncode == 2
    unreachable = sqlmig("status", "-d", "postgresql://u:hunter2@127.0.0.1:1/db", cwd=project)
    assert unreachable.returncode == 3
    assert "hunter2" not in unreachable.stderr + unreachable.stdout
    assert "postgresql://u:***@127.0.0.1:1/db" in unreachable.stderr


def test_wrong_password_is_masked_everywhere(project, pg_cluster):
    if isinstance(pg_cluster, str):
        pytest.skip("needs the fixture's cluster with a password user")
    url = pg_cluster.url("postgres", user=PASSWORD_USER, password="wrong-Secret")
    out = sqlmig("apply", "-d", url, cwd=project)
    assert out.returncode == 3
    assert "wrong-Secret" not in out.stderr + out.stdout
    assert "password authentication failed" in out.stderr


def test_password_never_reaches_output_or_history(project, pg_url, pg_cluster):
    if isinstance(pg_cluster, str):
        pytest.skip("needs the fixture's cluster with a password user")
    dbname = pg_url.rsplit("/", 1)[1]
    url = pg_cluster.url(dbname, user=PASSWORD_USER, password=PASSWORD)
    (project / "sql" / "up" / "0006_leak.sql").write_text(f"SELECT '{PASSWORD}'::int;\n")
    (project / "sql" / "down" / "0006_leak.sql").write_text("SELECT 1;\n")
    out = sqlmig("apply", "-d", url, cwd=project)
    assert out.returncode == 5
    assert PASSWORD not in out.stdout + out.stderr
    hist = sqlmig("history", "--json", "-d", url, cwd=project)
    assert PASSWORD not in hist.stdout and "***" in hist.stdout


def test_database_url_from_env_and_config(project):
    env_db = project / "env.db"
    sqlmig("apply", "--to", "1", cwd=project, env={"DATABASE_URL": f"sqlite:///{env_db}"})
    assert versions(f"sqlite:///{env_db}") == [1]
    (project / "sqlmig.toml").write_text(
        'database_url = "sqlite:///from_config.db"\ntable = "migs"\n'
    )
    sqlmig("apply", "--to", "2", cwd=project)
    assert versions(f"sqlite:///{project / 'from_config.db'}", table="migs") == [1, 2]
    (project / "sqlmig.toml").write_text('database_url = "sqlite:///x.db"\ntabel = "typo"\n')
    bad = sqlmig("status", cwd=project)
    assert bad.returncode == 2 and "unknown setting(s) tabel" in bad.stderr


def test_new_command(project):
    out = sqlmig("new", "add plan limits", cwd=project)
    assert out.returncode == 0
    assert (project / "sql" / "up" / "0006_add_plan_limits.sql").exists()
    assert sqlmig("new", "bad/name", cwd=project).returncode == 2


def test_new_takes_several_words_as_one_name(project):
    out = sqlmig("new", "create", "users", cwd=project)
    assert out.returncode == 0, out.stderr
    for sub in ("up", "down"):
        assert f"sql/{sub}/0006_create_users.sql" in out.stdout
        assert (project / "sql" / sub / "0006_create_users.sql").is_file()
    bad = sqlmig("new", "create", "users/admins", cwd=project)
    assert bad.returncode == 2 and "'create_users/admins' is not a usable" in bad.stderr


def test_history_since_today_and_yesterday_are_utc_calendar_days(project):
    from datetime import UTC, datetime, timedelta

    url = f"sqlite:///{project / 'sqlmig.db'}"
    assert sqlmig("apply", "--to", "2", "--no-backup", cwd=project).returncode == 0
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for event, at in (
        (1, midnight - timedelta(days=1) + timedelta(seconds=1)),
        (2, midnight - timedelta(days=1, seconds=1)),
    ):
        query(url, f"UPDATE schema_version_history SET at = '{at.isoformat()}' WHERE id = {event}")

    def since(word: str) -> list[int]:
        out = sqlmig("history", "--since", word, "--json", cwd=project)
        assert out.returncode == 0, out.stderr
        return [e["id"] for e in json.loads(out.stdout)["events"]]

    assert since("yesterday") == [1]
    assert since("Today") == []
    assert since("2d") == [2, 1]  # newest first, by id
    bad = sqlmig("history", "--since", "tomorrow", cwd=project)
    assert bad.returncode == 2 and "today, yesterday" in bad.stderr


def test_a_dirty_version_is_not_called_the_database_version(project):
    (project / "sql" / "up" / "0003_backfill_email_normalized.sql").write_text(
        "-- sqlmig: no-transaction\nCREATE TABLE half (a int);\nSELECT * FROM nope;\n"
    )
    assert sqlmig("apply", "--no-backup", cwd=project).returncode == 5
    st = sqlmig("status", cwd=project)
    assert "; database at version 2, version 3 dirty." in st.stdout, st.stdout
    data = json.loads(sqlmig("status", "--json", cwd=project).stdout)
    assert data["current_version"] == 2 and data["counts"]["dirty"] == 1
    metrics = sqlmig("metrics", cwd=project).stdout
    assert re.search(r"^sqlmig_current_version\{.*\} 2$", metrics, re.MULTILINE), metrics


def test_help_lists_every_command(project):
    out = sqlmig("--help", cwd=project).stdout
    for name in (
        "status",
        "apply",
        "rollback",
        "validate",
        "baseline",
        "accept",
        "resolve",
        "history",
        "new",
    ):
        assert name in out


def test_every_command_is_where_the_command_line_looks_for_it():
    from sqlmig.cli import HOMES, app

    found = {
        c.name: c.callback.__module__.removeprefix("sqlmig.cli.") for c in app.registered_commands
    }  # type: ignore[union-attr]
    assert found == HOMES


def test_a_run_of_one_command_leaves_the_app_with_all_of_them(project):
    # main() registers the named command alone for its run (typer builds every one it holds).
    probe = (
        "import sys\n"
        "from sqlmig.cli import HOMES, main\n"
        "sys.argv = ['sqlmig', 'status', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "from sqlmig.cli import app\n"
        "print(sorted(c.name for c in app.registered_commands) == sorted(HOMES))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, check=True
    )
    assert "status [OPTIONS]" in out.stdout, out
    assert out.stdout.rstrip().endswith("True"), out


def test_release_commands(project):
    shutil.copytree(REPO / "seeds", project / "seeds")
    assert sqlmig("apply", "--to", "2", "--no-backup", cwd=project).returncode == 0
    out = sqlmig("backup", cwd=project)
    assert out.returncode == 0 and "backup written:" in out.stdout and "version 2" in out.stdout
    done = sqlmig("apply", "--seed", cwd=project)
    assert "backup before migrating:" in done.stdout and "seeded plans.sql" in done.stdout
    listed = json.loads(sqlmig("backups", "--json", cwd=project).stdout)["backups"]
    assert [b["version"] for b in listed] == [2, 2]
    assert sqlmig("status", "--exit-code", cwd=project).returncode == 0
    oldest = listed[-1]["path"]
    refused = subprocess.run(
        [sys.executable, "-m", "sqlmig", "restore", oldest],
        cwd=project,
        input="y\n",
        capture_output=True,
        text=True,
        check=False,
    )
    # No terminal, no question: an answer piped in is no decision (tests/test_rollback_guard.py
    # answers on a terminal).
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert versions(f"sqlite:///{project / 'sqlmig.db'}") == [1, 2, 3, 4, 5]
    restored = sqlmig("restore", oldest, "--yes", cwd=project)
    assert restored.returncode == 0, restored.stderr
    assert "database at version 2" in restored.stdout
    assert versions(f"sqlite:///{project / 'sqlmig.db'}") == [1, 2]
    metrics = sqlmig("metrics", cwd=project).stdout
    assert 'sqlmig_current_version{database="sqlite:///sqlmig.db"} 2' in metrics
    assert "sqlmig_pending_migrations" in metrics
    bad = sqlmig(
        "restore", str(project / "sql" / "up" / "0001_create_accounts.sql"), "--yes", cwd=project
    )
    assert bad.returncode == 6 and "not an SQLite database" in bad.stderr


def test_wait_exit_codes(project):
    assert sqlmig("wait", cwd=project).returncode == 0
    gone = sqlmig(
        "wait", "--timeout", "1", "-d", "postgresql://u:hunter2@127.0.0.1:1/db", cwd=project
    )
    assert gone.returncode == 3 and "still not accepting connections" in gone.stderr
    assert "hunter2" not in gone.stderr


def test_apply_verify_reports_drift_in_text_and_in_one_json_document(project, db_url):
    ok = sqlmig("apply", "-d", db_url, "--verify", "--no-backup", cwd=project)
    assert ok.returncode == 0, ok.stderr
    assert "schema matches schema.sql" in ok.stdout

    with (project / "sql" / "schema.sql").open("a") as f:
        f.write("\nCREATE TABLE audit (id integer PRIMARY KEY);\n")
    text = sqlmig("apply", "-d", db_url, "--verify", cwd=project)
    assert text.returncode == 1
    assert "table audit missing in database" in text.stdout

    as_json = sqlmig("apply", "-d", db_url, "--verify", "--json", cwd=project)
    assert as_json.returncode == 1
    document = json.loads(as_json.stdout)  # the whole output parses: nothing printed after it
    assert document["direction"] == "up" and document["steps"] == []
    missing = {d["object"]: d for d in document["differences"]}["table audit"]
    assert missing["text"] == "table audit missing in database"
    assert missing["kind"] == "missing" and missing["detail"] == "missing in database"
    assert document["notes"] == []  # how the check was made: nothing to say here


def test_status_in_a_terminal_is_coloured_and_aligned_like_the_plain_text(
    project, monkeypatch, capsys
):
    import io

    from rich.console import Console

    from sqlmig import Migrator, render

    url = f"sqlite:///{project / 'app.db'}"
    with Migrator(url, project / "sql") as m:
        m.apply(2, backup=False)
        status = m.status()
    render.status_table(status)
    plain = capsys.readouterr().out
    terminal = io.StringIO()
    monkeypatch.setattr(
        render, "out", Console(file=terminal, force_terminal=True, color_system="standard")
    )
    render.status_table(status)
    coloured = terminal.getvalue()
    assert "\x1b[" in coloured  # styled
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain  # same text, same alignment
    assert "applied" in plain and "pending" in plain


def test_passwords_with_url_characters_stay_masked_in_every_output(project, pg_url):
    # The fixture's superuser logs in without a password, so any password in the URL is
    # accepted, read by libpq as the password, and must never be shown.
    server, dbname = pg_url.rsplit("/", 1)
    url = server.replace("postgres@", "postgres:1234#Zq9x@") + "/" + dbname
    outputs = [
        sqlmig(*args, "-d", url, cwd=project)
        for args in (["apply"], ["status"], ["status", "--json"], ["metrics"], ["wait"])
    ]
    assert [o.returncode for o in outputs] == [0, 0, 0, 0, 0], outputs[0].stderr
    # libpq refuses this one, quoting what it read as a query parameter: a password piece.
    bad = server.replace("postgres@", "postgres:Zq9x?qmark/slash@") + "/" + dbname
    outputs.append(sqlmig("status", "-d", bad, cwd=project))
    assert outputs[-1].returncode == 3
    for out in outputs:
        for piece in ("1234", "Zq9x", "qmark", "slash"):
            assert piece not in out.stdout + out.stderr, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history", "--since", "99999999d"], "--since"),
        (["rollback", "--to", "-1"], "--to -1: use 0"),
        (["diff", "--scratch-url", "sqlite:///x.db"], "a PostgreSQL server is needed"),
        (["apply", "--lock-timeout", "inf"], "timeouts must be seconds"),
    ],
)
def test_impossible_arguments_are_refused_clearly(project, pg_url, args, message):
    url = pg_url if args[0] == "diff" else f"sqlite:///{project / 'app.db'}"
    out = sqlmig(*args, "-d", url, cwd=project)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


def test_new_into_a_folder_that_cannot_exist_is_refused_clearly(project):
    (project / "afile").write_text("")
    out = sqlmig("new", "add_things", "--dir", str(project / "afile"), cwd=project)
    assert out.returncode == 2 and "cannot write" in out.stderr and "Traceback" not in out.stderr


def test_apply_verify_without_createdb_stops_before_migrating(project, pg_url):
    role = "deployer_" + pg_url.rsplit("_", 1)[1][:6]
    dbname = pg_url.rsplit("/", 1)[1]
    query(pg_url, f"CREATE ROLE {role} LOGIN NOCREATEDB")
    query(pg_url, f"ALTER DATABASE {dbname} OWNER TO {role}")
    url = pg_url.replace("postgres@", f"{role}@")
    out = sqlmig("apply", "--verify", "--no-backup", "-d", url, cwd=project)
    assert out.returncode == 2 and "grant CREATEDB, or pass --scratch-url" in out.stderr
    assert versions(pg_url) == []  # refused before anything changed
    out = sqlmig(
        "apply", "--verify", "--no-backup", "--scratch-url", pg_url, "-d", url, cwd=project
    )
    assert out.returncode == 0, out.stderr
    assert "schema matches schema.sql" in out.stdout


def test_round_trip_report_says_what_it_did(project, tmp_path):
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    (project / "sql" / "down" / "0006_gone.sql").write_text(
        "-- sqlmig: irreversible the history is gone\n"
    )
    (project / "sql" / "up" / "0006_gone.sql").write_text("CREATE TABLE scratchpad (a int);\n")
    (project / "sql" / "schema.sql").unlink()
    out = sqlmig("test", "-d", url, cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "5 migration(s) up, down and up again, 1 irreversible one(s) up only" in out.stdout
    assert "no schema.sql to compare the result with" in out.stdout
    doc = json.loads(sqlmig("test", "--json", "-d", url, cwd=project).stdout)
    assert doc["irreversible"] == ["0006_gone.sql"] and doc["compared_with_schema_sql"] is False


def test_diff_of_a_sqlite_file_that_does_not_exist_is_an_error(project, tmp_path):
    out = sqlmig("diff", "-d", f"sqlite:///{tmp_path / 'typo.db'}", cwd=project)
    assert out.returncode == 3 and "no database at" in out.stderr
    assert not (tmp_path / "typo.db").exists()


def test_a_failed_apply_prints_the_backup_and_what_stays_applied(project):
    (project / "sql" / "up" / "0006_broken.sql").write_text("CREATE TABLE x (a int);\nSELEC 1;\n")
    (project / "sql" / "down" / "0006_broken.sql").write_text("DROP TABLE x;\n")
    failed = sqlmig("apply", cwd=project)
    assert failed.returncode == 5
    backup = re.search(r"backup taken before the first migration: (\S+)", failed.stderr)
    assert backup and Path(backup.group(1)).is_file(), failed.stderr
    assert "applied before the failure, and committed: 1 (create_accounts)" in failed.stderr
    assert "5 (rebuild_profiles)" in failed.stderr

    (project / "sql" / "up" / "0007_more.sql").write_text("CREATE TABLE y (a int);\n")
    (project / "sql" / "down" / "0007_more.sql").write_text("DROP TABLE y;\n")
    again = sqlmig("apply", "--json", cwd=project)
    assert again.returncode == 5
    doc = json.loads(again.stdout)  # one document on stdout, even for a failure
    assert doc["ok"] is False and doc["applied"] == [] and doc["backup"]
    assert doc["error"]["kind"] == "StatementError" and doc["error"]["exit_code"] == 5
    assert doc["error"]["line"] == 2 and doc["error"]["file"].endswith("0006_broken.sql")
    assert doc["failed"]["version"] == 6 and doc["failed"]["direction"] == "up"
    assert "syntax error" in doc["error"]["db_message"]
    assert "error:" in again.stderr  # and the message for the person watching the job

    refused = sqlmig("rollback", "--json", "-d", "mysql://x", cwd=project)
    assert refused.returncode == 2 and json.loads(refused.stdout)["error"]["kind"] == "ConfigError"


@pytest.mark.parametrize("command", [["status"], ["apply", "--no-backup"]])
def test_a_command_leaves_nothing_for_the_collector_at_exit(project, command):
    # Registered before main() runs, so run after its freeze: what the interpreter's own
    # last collections would walk again in a process that is ending anyway.
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: sys.stderr.write("
        "f'{gc.get_freeze_count() > 5000} {len(gc.get_objects()) < 1000}'))\n"
        f"sys.argv = ['sqlmig', *{command!r}]\n"
        "from sqlmig.cli import main\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, check=False
    )
    assert (out.returncode, out.stderr) == (0, "True True")
