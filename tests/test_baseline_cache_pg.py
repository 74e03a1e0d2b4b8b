"""The baseline cache on PostgreSQL: what the scratch server says a load depends on (its
version, template, extensions, session settings, roles, and what its user may do) is
part of the key, and every change to it loads schema.sql afresh."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlmig import Migrator
from sqlmig.schema import Findings, pgkey
from sqlmig.schema.pgroles import MARK
from sqlmig.schema.scratch import _with_options
from tests.helpers import query
from tests.pgcluster import Cluster, start_cluster
from tests.test_baseline_cache import POISONED, entries, poison
from tests.test_dump import load

SCHEMA = "CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL DEFAULT '');\n"


@pytest.fixture
def cache_home(tmp_path: Path) -> Path:
    return tmp_path.with_name(f"{tmp_path.name}-cache")  # the test's own (conftest)


@pytest.fixture
def project(pg_url: str, tmp_path: Path) -> tuple[str, Path]:
    load(pg_url, SCHEMA)
    (tmp_path / "schema.sql").write_text(SCHEMA)
    return pg_url, tmp_path


def diff(url: str, folder: Path, scratch_url: str | None = None, **options: Any) -> Findings:
    with Migrator(url, folder, **options) as m:
        return m.diff(scratch_url=scratch_url)


def change_fact(monkeypatch: pytest.MonkeyPatch, name: str, value: object) -> None:
    """The server reports ``name`` as ``value`` from now on, to the lookup and the load."""
    real = pgkey.facts
    monkeypatch.setattr(pgkey, "facts", lambda q: real(q) | {name: value})


@pytest.mark.parametrize(
    ("fact", "value"),
    [
        ("version", "990001"),  # another server version, minor releases included
        ("template0", {"encoding": 8, "datcollate": "C", "datctype": "C"}),
        ("extensions", [["pgcrypto", "9.9"]]),  # another default version of an extension
    ],
)
def test_another_server_is_never_served_from_the_cache(
    project, cache_home, monkeypatch, fact, value
):
    url, folder = project
    assert diff(url, folder) == []
    poison(cache_home)
    change_fact(monkeypatch, fact, value)
    assert diff(url, folder) == []
    assert diff(url, folder) == []  # kept under the new facts
    assert len(entries(cache_home)) == 2


def test_extension_versions_count_only_where_the_file_names_extensions(
    project, cache_home, monkeypatch
):
    url, folder = project
    real = pgkey.versions
    monkeypatch.setattr(pgkey, "versions", lambda q: [*real(q), ["another", "1.0"]])
    assert diff(url, folder) == []
    poison(cache_home)
    monkeypatch.setattr(pgkey, "versions", real)
    assert diff(url, folder) == [POISONED]  # a file without extensions: versions not read
    (folder / "schema.sql").write_text(SCHEMA + "CREATE EXTENSION IF NOT EXISTS pgcrypto;\n")
    load(url, "CREATE EXTENSION pgcrypto")
    assert diff(url, folder) == []
    poison(cache_home)
    monkeypatch.setattr(pgkey, "versions", lambda q: [*real(q), ["another", "1.0"]])
    assert diff(url, folder) == []


def set_database(url: str, setting: str) -> None:
    [(name,)] = query(url, "SELECT current_database()")
    query(url, f'ALTER DATABASE "{name}" SET {setting}')


def test_schema_sql_is_read_with_the_databases_settings_and_a_change_loads_it_again(
    pg_url, tmp_path
):
    """A literal without a time zone means the instant of the database's own TimeZone:
    the scratch load reads it so, and reads it again when that setting changes."""
    set_database(pg_url, "TimeZone = 'America/New_York'")
    text = "CREATE TABLE events (at timestamptz DEFAULT '2020-01-01 00:00');\n"
    load(pg_url, text)
    (tmp_path / "schema.sql").write_text(text)
    assert diff(pg_url, tmp_path) == []
    set_database(pg_url, "TimeZone = 'Asia/Tokyo'")  # the same text is another instant now
    [found] = diff(pg_url, tmp_path)
    assert found.startswith("column events.at: default '2020-01-01 ")
    assert diff(pg_url, tmp_path, cache=False) == [found]


def test_the_search_path_is_part_of_the_key(pg_url, tmp_path, cache_home):
    set_database(pg_url, "search_path = app, public")
    load(pg_url, "CREATE SCHEMA app; " + SCHEMA)  # lands in app
    (tmp_path / "schema.sql").write_text("CREATE SCHEMA app;\n" + SCHEMA)
    assert diff(pg_url, tmp_path) == []
    poison(cache_home)
    set_database(pg_url, "search_path = public")  # schema.sql's table would land in public
    found = diff(pg_url, tmp_path)
    assert "table accounts missing in database" in found and POISONED not in found
    assert found == diff(pg_url, tmp_path, cache=False)


def test_a_role_made_or_dropped_on_the_server_loads_schema_sql_again(project, cache_home):
    url, folder = project
    assert diff(url, folder) == []
    poison(cache_home)
    role = f"cache_{uuid.uuid4().hex[:8]}"
    query(url, f"CREATE ROLE {role} NOLOGIN")
    try:
        assert diff(url, folder) == []
    finally:
        query(url, f"DROP ROLE {role}")
    assert diff(url, folder) == [POISONED]  # the server as it was: the first entry again


def test_a_role_another_load_made_for_itself_changes_nothing(project, cache_home):
    url, folder = project
    assert diff(url, folder) == []
    poison(cache_home)
    role = f"cache_{uuid.uuid4().hex[:8]}"
    query(url, f"CREATE ROLE {role} NOLOGIN; COMMENT ON ROLE {role} IS '{MARK}'")
    try:
        assert diff(url, folder) == [POISONED]
    finally:
        query(url, f"DROP ROLE {role}")


@pytest.fixture(scope="module")
def other_server() -> Iterator[Cluster]:
    """A server for scratch databases that has none of the application's roles."""
    cluster = start_cluster()
    try:
        query(cluster.url("postgres"), "CREATE ROLE creator LOGIN CREATEDB CREATEROLE")
        yield cluster
    finally:
        cluster.stop()


GRANTS = "CREATE ROLE {role} NOLOGIN; " + SCHEMA + "GRANT SELECT ON accounts TO {role};\n"


def test_whether_the_scratch_user_may_make_roles_is_part_of_the_key(pg_url, tmp_path, other_server):
    role = f"reader_{uuid.uuid4().hex[:8]}"
    load(pg_url, GRANTS.format(role=role))
    (tmp_path / "schema.sql").write_text(SCHEMA + f"GRANT SELECT ON accounts TO {role};\n")
    scratch = other_server.url("postgres", user="creator")
    try:
        clean = diff(pg_url, tmp_path, scratch_url=scratch)
        assert clean == [] and clean.notes[0].startswith(f"made role(s) {role} (NOLOGIN)")
        warm = diff(pg_url, tmp_path, scratch_url=scratch)
        assert warm == [] and warm.notes == []
        query(other_server.url("postgres"), "ALTER ROLE creator NOCREATEROLE")
        text = diff(pg_url, tmp_path, scratch_url=scratch)
        assert text == []
        assert text.notes[0].endswith(
            f"compared as text, not loaded, because the scratch server has no role {role} "
            "and creator may not create roles there"
        )
        assert diff(pg_url, tmp_path, scratch_url=scratch).notes == text.notes
    finally:
        query(other_server.url("postgres"), "ALTER ROLE creator CREATEROLE")
        query(pg_url, f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_a_load_whose_facts_changed_while_it_ran_is_not_kept(project, cache_home, monkeypatch):
    url, folder = project
    real, calls = pgkey.facts, []

    def moving(q: Any) -> dict[str, Any]:
        calls.append(1)
        return real(q) | {"version": str(len(calls))}

    monkeypatch.setattr(pgkey, "facts", moving)
    assert diff(url, folder) == []
    assert entries(cache_home) == []


def test_the_scratch_sessions_get_the_settings_after_the_urls_own_options(monkeypatch):
    facts = {"session": {"TimeZone": "Asia/Tokyo", "DateStyle": "ISO, DMY", "lc_time": None}}
    url = "postgresql://u:p?w@rd@h:5/sqlmig_scratch_1?sslmode=disable&options=-c%20work_mem%3D64MB"
    assert _with_options(url, facts) == (
        "postgresql://u:p?w@rd@h:5/sqlmig_scratch_1?sslmode=disable&options="
        "-c%20work_mem%3D64MB%20-c%20TimeZone%3DAsia%2FTokyo%20-c%20DateStyle%3DISO%2C%5C%20DMY"
    )
    monkeypatch.setenv("PGOPTIONS", "-c geqo=off")
    assert _with_options("postgresql://h/db", facts) == (
        "postgresql://h/db?options=-c%20geqo%3Doff%20-c%20TimeZone%3DAsia%2FTokyo"
        "%20-c%20DateStyle%3DISO%2C%5C%20DMY"
    )


def test_the_scratch_session_keeps_the_urls_options_and_pgoptions(pg_url, tmp_path, monkeypatch):
    """Both still reach the scratch session, and the pinned settings with them."""
    probe = (
        "CREATE TABLE t (a int);\n"
        "DO $$ BEGIN EXECUTE format('COMMENT ON TABLE t IS %L', "
        "current_setting('work_mem') || ' ' || current_setting('geqo') || ' ' || "
        "current_setting('TimeZone')); END $$;\n"
    )
    load(pg_url, "CREATE TABLE t (a int)")
    set_database(pg_url, "TimeZone = 'Asia/Tokyo'")
    (tmp_path / "schema.sql").write_text(probe)
    monkeypatch.setenv("PGOPTIONS", "-c geqo=off")
    assert diff(pg_url, tmp_path, cache=False) == [
        "table t: comment (none) in database, 4MB off Asia/Tokyo in schema.sql"
    ]
    scratch = pg_url + "?options=-c%20work_mem%3D64MB"
    assert diff(pg_url, tmp_path, cache=False, scratch_url=scratch) == [
        "table t: comment (none) in database, 64MB on Asia/Tokyo in schema.sql"
    ]
