"""Privileges on PostgreSQL: `diff` compares them, `dump` writes them, and a scratch load
whose server lacks the roles they name makes those roles, or compares their grants as
text when it may not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sqlmig import Migrator, StatementError
from sqlmig.schema.pgroles import ScratchRoles
from tests.helpers import make_roles, query, role_names
from tests.pgcluster import Cluster, start_cluster
from tests.test_dump import assert_reproducible, load, pg_database
from tests.test_schema import drift_after_change, scratch_databases
from tests.test_schema_oracle import schema_dump

ROLES = ("anon", "authenticated", "service_role")

# Every kind of object privileges are compared on, granted the ways an application with
# row-level security grants them.
GRANTS = """\
CREATE SCHEMA api;
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
CREATE TYPE pair AS (a int, b text);
CREATE TABLE projects (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, secret text);
CREATE SEQUENCE tickets;
CREATE VIEW api.project_names AS SELECT id, name FROM projects;
CREATE MATERIALIZED VIEW api.project_count AS SELECT count(*) AS n FROM projects;
CREATE FUNCTION api.visible(p projects) RETURNS boolean LANGUAGE sql STABLE AS 'SELECT true';
CREATE PROCEDURE api.cleanup() LANGUAGE sql AS 'SELECT 1';
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA api TO authenticated;
GRANT USAGE, CREATE ON SCHEMA api TO service_role WITH GRANT OPTION;
GRANT ALL ON TABLE projects TO service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON projects TO authenticated;
GRANT SELECT (id, name), UPDATE (name) ON projects TO anon;
GRANT USAGE, SELECT ON SEQUENCE tickets TO authenticated;
GRANT SELECT ON api.project_names TO anon;
GRANT SELECT ON api.project_count TO PUBLIC;
REVOKE EXECUTE ON FUNCTION api.visible(projects) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.visible(projects) TO authenticated;
GRANT EXECUTE ON PROCEDURE api.cleanup() TO service_role;
REVOKE USAGE ON TYPE mood FROM PUBLIC;
GRANT USAGE ON TYPE mood TO authenticated;
GRANT USAGE ON DOMAIN email TO anon WITH GRANT OPTION;
GRANT USAGE ON TYPE pair TO anon;
GRANT USAGE ON SEQUENCE projects_id_seq TO authenticated;
REVOKE TRUNCATE ON projects FROM CURRENT_USER;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO authenticated;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA api GRANT EXECUTE ON FUNCTIONS TO authenticated WITH GRANT OPTION;
"""


@pytest.fixture
def admin(pg_cluster: Cluster) -> str:
    make_roles(pg_cluster.admin_url, *ROLES)
    return pg_cluster.admin_url


def test_dump_writes_every_kind_of_privilege_and_reloads_to_the_same(admin, tmp_path):
    url, empty = pg_database(admin), pg_database(admin)
    load(url, GRANTS)
    text = assert_reproducible(url, empty, tmp_path)
    assert schema_dump(empty) == schema_dump(url)  # pg_dump prints privileges too
    privileges = ("GRANT", "REVOKE", "ALTER DEFAULT PRIVILEGES")
    written = [line for line in text.splitlines() if line.startswith(privileges)]
    assert written == [
        "GRANT USAGE ON SCHEMA api TO authenticated;",
        "GRANT USAGE, CREATE ON SCHEMA api TO service_role WITH GRANT OPTION;",
        "GRANT EXECUTE ON PROCEDURE api.cleanup() TO service_role;",
        "GRANT SELECT ON TABLE api.project_count TO PUBLIC;",
        "GRANT SELECT ON TABLE api.project_names TO anon;",
        "REVOKE EXECUTE ON FUNCTION api.visible(p projects) FROM PUBLIC;",
        "GRANT EXECUTE ON FUNCTION api.visible(p projects) TO authenticated;",
        "GRANT USAGE ON SCHEMA public TO anon;",
        "GRANT USAGE ON SCHEMA public TO authenticated;",
        "GRANT USAGE ON SCHEMA public TO service_role;",
        "GRANT USAGE ON DOMAIN email TO anon WITH GRANT OPTION;",
        "REVOKE USAGE ON TYPE mood FROM PUBLIC;",
        "GRANT USAGE ON TYPE mood TO authenticated;",
        "GRANT USAGE ON TYPE pair TO anon;",
        "REVOKE TRUNCATE ON TABLE projects FROM CURRENT_USER;",
        "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLE projects "
        "TO service_role;",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE projects TO authenticated;",
        "GRANT SELECT (id) ON TABLE projects TO anon;",
        "GRANT SELECT (name), UPDATE (name) ON TABLE projects TO anon;",
        "GRANT USAGE ON SEQUENCE projects_id_seq TO authenticated;",
        "GRANT SELECT, USAGE ON SEQUENCE tickets TO authenticated;",
        "ALTER DEFAULT PRIVILEGES FOR ROLE postgres REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;",
        "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA api GRANT EXECUTE ON FUNCTIONS "
        "TO authenticated WITH GRANT OPTION;",
        "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES "
        "TO authenticated;",
    ]
    # After everything else: the objects they name, and their comments.
    tail = text[text.index(written[0]) :].splitlines()
    assert [line for line in tail if line] == written


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "REVOKE ALL ON projects FROM authenticated",
            [
                f"privilege {p} on table projects to authenticated missing in database"
                for p in ("DELETE", "INSERT", "SELECT", "UPDATE")
            ],
        ),
        (
            "GRANT SELECT ON projects TO anon",
            ["privilege SELECT on table projects to anon: in database, not in schema.sql"],
        ),
        (
            "GRANT SELECT ON projects TO authenticated WITH GRANT OPTION",
            [
                "privilege SELECT on table projects to authenticated: grant option yes in "
                "database, no in schema.sql"
            ],
        ),
        (
            "REVOKE SELECT (name) ON projects FROM anon",
            ["privilege SELECT on column projects.name to anon missing in database"],
        ),
        (
            "GRANT SELECT (secret) ON projects TO anon",
            ["privilege SELECT on column projects.secret to anon: in database, not in schema.sql"],
        ),
        (
            "GRANT EXECUTE ON FUNCTION api.visible(projects) TO PUBLIC",
            [
                "privilege EXECUTE on function api.visible(p projects) revoked from PUBLIC "
                "missing in database"
            ],
        ),
        (
            "REVOKE EXECUTE ON PROCEDURE api.cleanup() FROM service_role",
            ["privilege EXECUTE on procedure api.cleanup() to service_role missing in database"],
        ),
        (
            "GRANT CREATE ON SCHEMA public TO PUBLIC",
            ["privilege CREATE on schema public to PUBLIC: in database, not in schema.sql"],
        ),
        (
            "REVOKE USAGE ON SCHEMA api FROM authenticated",
            ["privilege USAGE on schema api to authenticated missing in database"],
        ),
        (
            "REVOKE SELECT ON api.project_names FROM anon",
            ["privilege SELECT on view api.project_names to anon missing in database"],
        ),
        (
            "REVOKE SELECT ON api.project_count FROM PUBLIC",
            [
                "privilege SELECT on materialized view api.project_count to PUBLIC missing in database"
            ],
        ),
        (
            "REVOKE USAGE ON SEQUENCE tickets FROM authenticated",
            ["privilege USAGE on sequence tickets to authenticated missing in database"],
        ),
        (
            "GRANT USAGE ON TYPE mood TO PUBLIC",
            ["privilege USAGE on type mood revoked from PUBLIC missing in database"],
        ),
        (
            "REVOKE GRANT OPTION FOR USAGE ON DOMAIN email FROM anon",
            [
                "privilege USAGE on domain email to anon: grant option no in database, yes in schema.sql"
            ],
        ),
        (
            "GRANT TRUNCATE ON projects TO CURRENT_USER",
            ["privilege TRUNCATE on table projects revoked from its owner missing in database"],
        ),
        (
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM authenticated",
            [
                "default privilege SELECT on tables for role postgres in schema public to "
                "authenticated missing in database"
            ],
        ),
        (
            "ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
            [
                "default privilege EXECUTE on functions for role postgres revoked from PUBLIC "
                "missing in database"
            ],
        ),
        (
            "ALTER DEFAULT PRIVILEGES GRANT USAGE ON SEQUENCES TO anon",
            [
                "default privilege USAGE on sequences for role postgres to anon: in database, "
                "not in schema.sql"
            ],
        ),
    ],
)
def test_each_privilege_that_differs_is_one_line_of_drift(admin, tmp_path, change, expected):
    url = pg_database(admin)
    assert drift_after_change(url, tmp_path, GRANTS, change) == expected


# (live, schema.sql): the same privileges, written differently.
SAME_PRIVILEGES = {
    "ALL spelt out": (
        "CREATE TABLE t (a int); GRANT ALL ON t TO anon;",
        "CREATE TABLE t (a int); "
        "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLE t TO anon;",
    ),
    "an explicit ACL equal to the defaults": (
        "CREATE TABLE t (a int); GRANT SELECT ON t TO anon; REVOKE SELECT ON t FROM anon;"
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';"
        "REVOKE EXECUTE ON FUNCTION f() FROM PUBLIC; GRANT EXECUTE ON FUNCTION f() TO PUBLIC;",
        "CREATE TABLE t (a int); CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
    ),
    "grantees in another order, and grants in several statements": (
        "CREATE TABLE t (a int); GRANT SELECT, INSERT ON t TO anon, authenticated;",
        "CREATE TABLE t (a int); GRANT INSERT ON t TO authenticated; GRANT SELECT ON t TO anon;"
        "GRANT SELECT ON t TO authenticated; GRANT INSERT ON TABLE public.t TO GROUP anon;",
    ),
    "ALL TABLES IN SCHEMA": (
        "CREATE TABLE t (a int); CREATE VIEW v AS SELECT a FROM t;GRANT SELECT ON t, v TO anon;",
        "CREATE TABLE t (a int); CREATE VIEW v AS SELECT a FROM t;"
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO anon;",
    ),
    "default privileges for the loading role, named or not": (
        "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO anon;",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO anon;",
    ),
    "the same grant made twice, by the owner and by a role it gave the grant option": (
        "CREATE TABLE t (a int); GRANT SELECT ON t TO authenticated WITH GRANT OPTION;"
        "SET ROLE authenticated; GRANT SELECT ON t TO anon; RESET ROLE; GRANT SELECT ON t TO anon;",
        "CREATE TABLE t (a int); GRANT SELECT ON t TO authenticated WITH GRANT OPTION;"
        "GRANT SELECT ON t TO anon;",
    ),
}


@pytest.mark.parametrize(("live", "baseline"), SAME_PRIVILEGES.values(), ids=SAME_PRIVILEGES.keys())
def test_the_same_privileges_written_differently_are_not_drift(admin, tmp_path, live, baseline):
    url = pg_database(admin)
    query(url, live)
    (tmp_path / "schema.sql").write_text(baseline)
    with Migrator(url, tmp_path) as m:
        assert m.diff(tmp_path / "schema.sql") == []


def test_objects_owned_by_another_role_compare_by_their_grants_not_their_owner(admin, tmp_path):
    """The live objects belong to the role that migrated them; the scratch copy's to the
    role that loads schema.sql. The owner's own privileges are its owner's either way."""
    make_roles(admin, "app_owner")
    url = pg_database(admin)
    dbname = url.rsplit("/", 1)[1]
    query(
        url,
        f"GRANT CREATE ON DATABASE {dbname} TO app_owner; GRANT CREATE ON SCHEMA public TO app_owner",
    )
    query(
        url,
        "SET ROLE app_owner; CREATE SCHEMA app;"
        "CREATE TABLE app.notes (id int, body text); CREATE TABLE app.logs (at date);"
        "GRANT USAGE ON SCHEMA app TO authenticated; GRANT SELECT, INSERT ON app.notes TO authenticated;"
        "REVOKE TRUNCATE ON app.logs FROM app_owner;"
        "ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO anon; RESET ROLE",
    )
    with Migrator(url, tmp_path) as m:
        schema = m.engine().introspect()
        text = m.dump(tmp_path / "schema.sql").text
        assert sorted(k for k in schema if "app_owner" in k) == [
            "default privilege SELECT on tables for role app_owner in schema app to anon",
            "privilege CREATE on schema public to app_owner",  # granted above, not owned
        ]
        assert "privilege TRUNCATE on table app.logs revoked from its owner" in schema
        assert "REVOKE TRUNCATE ON TABLE app.logs FROM CURRENT_USER;" in text
        # Loaded by postgres, which then owns everything: the same privileges.
        assert m.diff() == []
        query(
            url,
            "GRANT TRUNCATE ON app.logs TO app_owner; REVOKE INSERT ON app.notes FROM authenticated",
        )
        assert m.diff() == [
            "privilege INSERT on table app.notes to authenticated missing in database",
            "privilege TRUNCATE on table app.logs revoked from its owner missing in database",
        ]


def test_grants_on_extension_members_and_sqlmig_tables_stay_out(admin, tmp_path):
    url = pg_database(admin)
    folder = tmp_path / "sql"
    (folder / "up").mkdir(parents=True)
    (folder / "down").mkdir()
    (folder / "up" / "0001_t.sql").write_text("CREATE TABLE t (a int);\n")
    (folder / "down" / "0001_t.sql").write_text("DROP TABLE t;\n")
    with Migrator(url, folder) as m:
        m.apply(backup=False)
    query(
        url,
        "CREATE EXTENSION citext; REVOKE USAGE ON TYPE citext FROM PUBLIC;"
        "GRANT EXECUTE ON FUNCTION citext(boolean) TO anon;"
        "GRANT SELECT ON schema_version, schema_version_history TO anon;"
        "GRANT SELECT ON t TO anon;",
    )
    with Migrator(url, folder) as m:
        text = m.dump(folder / "schema.sql").text
        assert m.diff() == []
    grants = [line for line in text.splitlines() if line.startswith(("GRANT", "REVOKE"))]
    assert grants == ["GRANT SELECT ON TABLE t TO anon;"]


def test_the_supabase_example_catches_a_revoke(admin, tmp_path):
    folder = tmp_path / "sql"
    import shutil

    from tests.conftest import REPO

    shutil.copytree(REPO / "examples" / "supabase" / "sql", folder)
    url = pg_database(admin)
    with Migrator(url, folder) as m:
        m.apply(backup=False)
        assert m.diff() == []
        query(url, "REVOKE ALL ON profiles FROM authenticated")
        query(url, "GRANT DELETE ON profiles TO anon")
        assert m.diff() == [
            "privilege DELETE on table profiles to anon: in database, not in schema.sql",
            "privilege INSERT on table profiles to authenticated missing in database",
            "privilege SELECT on table profiles to authenticated missing in database",
            "privilege UPDATE on table profiles to authenticated missing in database",
        ]


def test_roundtrip_names_a_grant_the_down_file_forgets(admin, write_migration):
    folder = write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    write_migration(
        2,
        "grants",
        "GRANT SELECT ON t TO anon; GRANT UPDATE (a) ON t TO authenticated;",
        "SELECT 1;",
    )
    with Migrator(pg_database(admin), folder) as m:
        problems = m.test_roundtrip().problems
    assert problems == [
        "0002_grants.sql: the down file does not undo the up file: privilege SELECT on table t "
        "to anon: in after down, not in before up",
        "0002_grants.sql: the down file does not undo the up file: privilege UPDATE on column "
        "t.a to authenticated: in after down, not in before up",
    ]


# --- a scratch server that lacks the roles -------------------------------------------


@pytest.fixture(scope="module")
def other_server() -> Iterator[Cluster]:
    """Another server for scratch databases, as a developer's or CI's own PostgreSQL is
    next to a hosted one: it has none of the application's roles."""
    cluster = start_cluster()
    try:
        query(
            cluster.url("postgres"),
            "CREATE ROLE creator LOGIN CREATEDB CREATEROLE; CREATE ROLE plain LOGIN CREATEDB",
        )
        yield cluster
    finally:
        cluster.stop()


def scratch_url(server: Cluster, user: str) -> str:
    return server.url("postgres", user=user)


@pytest.fixture
def live(admin, tmp_path) -> tuple[str, Path]:
    """A database with GRANTS, and its dump as schema.sql."""
    url = pg_database(admin)
    load(url, GRANTS)
    with Migrator(url, tmp_path) as m:
        m.dump(tmp_path / "schema.sql")
    return url, tmp_path


@pytest.mark.parametrize("user", ["postgres", "creator", "plain"])
def test_a_scratch_server_without_the_roles_still_compares_every_grant(live, other_server, user):
    url, folder = live
    scratch = scratch_url(other_server, user)
    roles_before = role_names(scratch)
    with Migrator(url, folder) as m:
        clean = m.diff(scratch_url=scratch)
        query(url, "REVOKE ALL ON projects FROM authenticated; GRANT SELECT ON tickets TO anon")
        drift = m.diff(scratch_url=scratch)
    assert clean == []
    assert drift == [
        "privilege DELETE on table projects to authenticated missing in database",
        "privilege INSERT on table projects to authenticated missing in database",
        "privilege SELECT on sequence tickets to anon: in database, not in schema.sql",
        "privilege SELECT on table projects to authenticated missing in database",
        "privilege UPDATE on table projects to authenticated missing in database",
    ]
    assert role_names(scratch) == roles_before  # what was made was dropped, nothing else
    assert scratch_databases(scratch) == []
    # The second check compares with the model the first one built and cached: it made no
    # role, and says nothing of one, but what it compared as text still holds.
    assert drift.notes == [note for note in clean.notes if not note.startswith("made role")]
    if user == "plain":
        assert len(clean.notes) == 1
        assert clean.notes[0].startswith("schema.sql lines ")
        assert clean.notes[0].endswith(
            ": compared as text, not loaded, because the scratch server has no role anon, "
            "authenticated, service_role and plain may not create roles there, and plain may "
            "not set default privileges for postgres"
        )
        return
    assert clean.notes[0] == (
        "made role(s) anon, authenticated, service_role (NOLOGIN) on the scratch server for "
        "the load: it names them and the server has none; they are dropped afterwards"
    )
    if user == "creator":  # the dump's FOR ROLE postgres: a role it may not act for
        assert clean.notes[1].endswith(
            "because creator may not set default privileges for postgres"
        )
    else:
        assert len(clean.notes) == 1


def test_a_role_the_scratch_server_had_is_used_and_kept(live, other_server):
    url, folder = live
    scratch = scratch_url(other_server, "postgres")
    query(scratch, "CREATE ROLE service_role NOLOGIN")
    try:
        with Migrator(url, folder) as m:
            drift = m.diff(scratch_url=scratch)
        assert drift == [] and "made role(s) anon, authenticated (NOLOGIN)" in drift.notes[0]
        assert "service_role" in role_names(scratch)
        with Migrator(url, folder) as m:  # and without CREATEROLE, it loads its grants
            drift = m.diff(scratch_url=scratch_url(other_server, "plain"))
        assert drift == [] and "has no role anon, authenticated and plain" in drift.notes[0]
    finally:
        query(scratch, "DROP ROLE service_role")


# Hand-written forms the text comparison must read as the server does.
FORMS = """\
CREATE SCHEMA api;
CREATE TABLE "Mixed Case" (id int, "Odd col" text);
CREATE TABLE api.items (id int);
CREATE VIEW api.names AS SELECT id FROM api.items;
CREATE SEQUENCE tickets;
CREATE TYPE mood AS ENUM ('ok');
CREATE DOMAIN email AS text;
CREATE FUNCTION api.add(a integer, b integer) RETURNS integer LANGUAGE sql AS 'SELECT a + b';
CREATE FUNCTION api.add(t text) RETURNS text LANGUAGE sql AS 'SELECT t';
CREATE PROCEDURE api.tidy() LANGUAGE sql AS 'SELECT 1';
GRANT SELECT ON TABLE public."Mixed Case" TO reader;
GRANT SELECT (id, "Odd col"), UPDATE ("Odd col") ON "Mixed Case" TO writer WITH GRANT OPTION;
REVOKE GRANT OPTION FOR UPDATE ("Odd col") ON "Mixed Case" FROM writer;
GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA api TO GROUP reader;
REVOKE DELETE ON api.items FROM reader;
GRANT EXECUTE ON FUNCTION api.add(a integer, b integer) TO reader;
GRANT EXECUTE ON FUNCTION api.add(text) TO writer;
REVOKE EXECUTE ON FUNCTION api.add(int, int) FROM PUBLIC;
GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA api TO writer;
GRANT ALL ON SEQUENCE tickets TO reader, writer;
GRANT USAGE ON TYPE mood TO reader;
GRANT ALL ON DOMAIN email TO writer;
GRANT USAGE, CREATE ON SCHEMA api TO reader;
SET search_path = api;
GRANT UPDATE ON names TO writer;
RESET search_path;
GRANT SELECT ON api.items TO writer;
GRANT SELECT (id) ON api.items TO writer;
REVOKE ALL ON api.items FROM writer;
ALTER DEFAULT PRIVILEGES FOR ROLE ghost_owner GRANT SELECT ON TABLES TO reader;
ALTER DEFAULT PRIVILEGES FOR USER ghost_owner REVOKE EXECUTE ON ROUTINES FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE ghost_owner IN SCHEMA api GRANT USAGE ON TYPES TO writer;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA api GRANT ALL ON SEQUENCES TO reader;
GRANT USAGE ON LANGUAGE sql TO reader;
GRANT reader TO writer;
"""
FORM_ROLES = ("reader", "writer", "ghost_owner")


def test_grants_compared_as_text_read_the_same_as_the_server_reads_them(
    admin, other_server, tmp_path
):
    """The oracle for the text comparison: a database built from FORMS, against FORMS
    compared as text, is no drift; and any change reads as the loaded FORMS do."""
    make_roles(admin, *FORM_ROLES)
    url = pg_database(admin)
    query(url, FORMS)
    (tmp_path / "schema.sql").write_text(FORMS)
    plain, postgres = scratch_url(other_server, "plain"), scratch_url(other_server, "postgres")
    with Migrator(url, tmp_path) as m:
        as_text = m.diff(scratch_url=plain)
        assert as_text == []
        assert as_text.notes[1] == (
            "schema.sql lines 34, 35: neither loaded nor compared: role memberships, or privileges "
            "on kinds sqlmig does not compare, for roles the scratch server lacks"
        )
        assert m.diff(scratch_url=postgres) == []  # made the roles, loaded everything
        query(
            url,
            'REVOKE SELECT ("Odd col") ON "Mixed Case" FROM writer;'
            "GRANT DELETE ON api.items TO reader; REVOKE EXECUTE ON FUNCTION api.add(text) FROM writer;"
            "ALTER DEFAULT PRIVILEGES FOR ROLE ghost_owner GRANT EXECUTE ON ROUTINES TO PUBLIC;"
            "ALTER DEFAULT PRIVILEGES IN SCHEMA api REVOKE USAGE ON SEQUENCES FROM reader;",
        )
        drift = m.diff(scratch_url=plain)
        assert drift == m.diff(scratch_url=postgres)
    assert drift == [
        "default privilege EXECUTE on functions for role ghost_owner revoked from PUBLIC missing "
        "in database",
        "default privilege USAGE on sequences for role postgres in schema api to reader missing "
        "in database",
        "privilege DELETE on table api.items to reader: in database, not in schema.sql",
        "privilege EXECUTE on function api.add(t text) to writer missing in database",
        'privilege SELECT on column "Mixed Case"."Odd col" to writer missing in database',
    ]


def test_a_policy_for_a_role_the_scratch_server_lacks_says_what_to_do(
    admin, other_server, tmp_path
):
    make_roles(admin, "reader")
    url = pg_database(admin)
    (tmp_path / "schema.sql").write_text(
        "CREATE TABLE t (a int);\nCREATE POLICY p ON t TO reader USING (true);\n"
    )
    with Migrator(url, tmp_path) as m, pytest.raises(StatementError) as info:
        m.diff(scratch_url=scratch_url(other_server, "plain"))
    assert info.value.line == 2
    assert (
        "The scratch server lacks role reader and plain may not create roles there: create it "
        "there (CREATE ROLE reader NOLOGIN), give plain CREATEROLE, or pass --scratch-url"
    ) in str(info.value)
    assert scratch_databases(scratch_url(other_server, "postgres")) == []


def test_text_comparison_of_a_grant_on_a_missing_object_fails_as_the_load_would(
    admin, other_server, tmp_path
):
    make_roles(admin, "reader")
    (tmp_path / "schema.sql").write_text(
        "CREATE TABLE t (a int);\nGRANT SELECT ON t TO reader;\nGRANT SELECT ON nope TO reader;\n"
    )
    with Migrator(pg_database(admin), tmp_path) as m, pytest.raises(StatementError) as info:
        m.diff(scratch_url=scratch_url(other_server, "plain"))
    assert info.value.line == 3 and info.value.code == "42P01"
    assert 'relation "nope" does not exist' in str(info.value)
    assert "the configured database was not touched" in str(info.value)


def test_roundtrip_says_what_to_do_when_a_migration_grants_to_a_missing_role(
    admin, other_server, write_migration
):
    make_roles(admin, "reader")
    folder = write_migration(
        1, "t", "CREATE TABLE t (a int);\nGRANT SELECT ON t TO reader;", "DROP TABLE t;"
    )
    with Migrator(pg_database(admin), folder) as m:
        problems = m.test_roundtrip(scratch_url=scratch_url(other_server, "plain")).problems
    assert len(problems) == 1 and problems[0].startswith("0001_t.sql: ")
    assert '0001_t.sql:2: role "reader" does not exist' in problems[0]
    assert "create it there (CREATE ROLE reader NOLOGIN), give plain CREATEROLE" in problems[0]


def test_roundtrip_makes_the_roles_its_migrations_grant_to(admin, other_server, write_migration):
    folder = write_migration(
        1, "t", "CREATE TABLE t (a int); GRANT SELECT ON t TO anon;", "DROP TABLE t;"
    )
    (folder / "schema.sql").write_text("CREATE TABLE t (a int); GRANT SELECT ON t TO anon;\n")
    scratch = scratch_url(other_server, "creator")
    with Migrator(pg_database(admin), folder) as m:
        trip = m.test_roundtrip(scratch_url=scratch)
    assert trip.problems == []
    assert [n.split(" (")[0] for n in trip.notes] == ["made role(s) anon", "made role(s) anon"]
    assert "anon" not in role_names(scratch)


def test_loads_that_share_a_made_role_keep_it_until_the_last_one_ends(other_server):
    url = scratch_url(other_server, "postgres")
    conns = [psycopg.connect(url, autocommit=True) for _ in range(4)]
    try:
        first, second = ScratchRoles(conns[0]), ScratchRoles(conns[1])
        assert first.provide(["shared_role"]) == (set(), set()) and first.made == ["shared_role"]
        assert second.provide(["shared_role"]) == (set(), set()) and second.made == []
        first.release()
        assert "shared_role" in role_names(url)  # the second load still uses it
        second.release()
        assert "shared_role" not in role_names(url)

        # A load killed before it could drop what it made: the next load to end drops it.
        killed = ScratchRoles(conns[2])
        killed.provide(["left_behind"])
        conns[2].close()
        query(url, "CREATE ROLE not_ours NOLOGIN")
        later = ScratchRoles(conns[3])
        later.provide(["another"])
        later.release()
        assert {"left_behind", "another"}.isdisjoint(role_names(url))
        assert "not_ours" in role_names(url)

        # A made role something else came to depend on is left, and the load says so.
        stuck = ScratchRoles(conns[3])
        stuck.provide(["stuck_role"])
        query(url, "GRANT CONNECT ON DATABASE postgres TO stuck_role")
        stuck.release()
        assert stuck.notes == [
            'could not drop role stuck_role, made for a scratch load (role "stuck_role" '
            "cannot be dropped because some objects depend on it): drop it with DROP ROLE "
            "stuck_role"
        ]

        # The connection lost before the end: the locks go with it, the roles stay marked.
        lost = psycopg.connect(url, autocommit=True)
        conns.append(lost)
        cut = ScratchRoles(lost)
        cut.provide(["cut_off"])
        query(url, f"SELECT pg_terminate_backend({lost.info.backend_pid})")
        cut.release()
        assert cut.notes[0].startswith("could not drop the roles made for the scratch load (")
        assert cut.notes[0].endswith("the next scratch load on that server drops them")
        sweeper = ScratchRoles(conns[0])
        sweeper.provide(["sweeper"])
        sweeper.release()
        assert {"cut_off", "sweeper"}.isdisjoint(role_names(url))
    finally:
        for conn in conns:
            conn.close()
        query(url, "DROP ROLE IF EXISTS not_ours")
        query(url, "REVOKE CONNECT ON DATABASE postgres FROM stuck_role; DROP ROLE stuck_role")


def test_cli_prints_the_notes_and_puts_them_in_json(live, other_server):
    from typer.testing import CliRunner

    from sqlmig.cli import app

    url, folder = live
    args = [
        "diff",
        "-d",
        url,
        "--dir",
        str(folder),
        "--scratch-url",
        scratch_url(other_server, "plain"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "schema matches schema.sql" in result.stdout
    assert "note: schema.sql lines " in result.stdout
    doc = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert doc["ok"] is True and doc["differences"] == [] and "compared as text" in doc["notes"][0]
