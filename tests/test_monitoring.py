"""What operators watch: history, Prometheus metrics, wait."""

from __future__ import annotations

import re

import pytest

from sqlmig import Migrator, StatementError
from sqlmig.config import Settings
from sqlmig.errors import ConnectError
from sqlmig.release import wait_for
from tests.helpers import two_migrations
from tests.pgcluster import PASSWORD_USER


def test_history_filters(db_url, write_migration):
    from datetime import UTC, datetime, timedelta

    folder = two_migrations(write_migration)
    write_migration(3, "bad", "SELECT * FROM nowhere;")
    with Migrator(db_url, folder) as m:
        with pytest.raises(StatementError):
            m.apply(backup=False)
        assert [e.event for e in m.history(failed=True)] == ["fail"]
        assert len(m.history(since=datetime.now(UTC) - timedelta(minutes=5))) == 3
        assert m.history(since=datetime.now(UTC) + timedelta(minutes=5)) == []


METRIC_LINE = re.compile(
    r'^(?P<name>sqlmig_[a-z_]+)\{database="(?P<db>(?:[^"\\]|\\.)*)"\} (?P<value>-?\d+(?:\.\d+)?)$'
)


def parse_prometheus(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    declared: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            declared[name] = kind
            continue
        match = METRIC_LINE.match(line)
        assert match, f"not exposition format: {line!r}"
        assert match["name"] in declared, f"{match['name']} has no TYPE line"
        values[match["name"]] = float(match["value"])
    return values


def test_metrics_in_prometheus_format(db_url, write_migration):
    from sqlmig import render_metrics

    folder = two_migrations(write_migration)
    write_migration(3, "bad", "SELECT * FROM nowhere;")
    with Migrator(db_url, folder) as m:
        empty = parse_prometheus(render_metrics.prometheus(m.metrics()))
        assert (
            "sqlmig_last_run_timestamp_seconds" not in empty
            and empty["sqlmig_pending_migrations"] == 3
        )
        m.apply(2, backup=False)
        m.rollback()
        with pytest.raises(StatementError):
            m.apply(backup=False)
        seeds = folder.parent / "seeds"
        seeds.mkdir()
        (seeds / "bad.sql").write_text("INSERT INTO nowhere VALUES (1);\n")
        with pytest.raises(StatementError):
            m.seed()
        values = parse_prometheus(render_metrics.prometheus(m.metrics()))
    assert values["sqlmig_migrations_applied_total"] == 3
    assert values["sqlmig_migrations_rolled_back_total"] == 1
    assert values["sqlmig_migrations_failed_total"] == 1
    assert values["sqlmig_seeds_failed_total"] == 1
    assert values["sqlmig_current_version"] == 2
    assert values["sqlmig_pending_migrations"] == 1
    assert values["sqlmig_last_run_timestamp_seconds"] > 1.7e9


def test_wait(pg_url, sqlite_url):
    assert wait_for(Settings(database_url=pg_url), 5) < 5
    assert wait_for(Settings(database_url=sqlite_url), 5) < 1
    import time

    start = time.monotonic()
    with pytest.raises(ConnectError, match="still not accepting connections after 1s"):
        wait_for(Settings(database_url="postgresql://u:pw@127.0.0.1:1/db"), 1)
    assert 0.9 < time.monotonic() - start < 10


def test_wait_fails_at_once_on_what_waiting_cannot_fix(pg_cluster, tmp_path):
    import time

    if isinstance(pg_cluster, str):
        pytest.skip("needs the fixture's cluster with a password user")
    wrong = pg_cluster.url("postgres", user=PASSWORD_USER, password="not-it")
    start = time.monotonic()
    with pytest.raises(ConnectError, match="password authentication failed") as info:
        wait_for(Settings(database_url=wrong), 30)
    assert time.monotonic() - start < 5 and "not-it" not in str(info.value)
    with pytest.raises(ConnectError, match="does not exist"):
        wait_for(Settings(database_url=f"sqlite:///{tmp_path / 'no' / 'app.db'}"), 30)
