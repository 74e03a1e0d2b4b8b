"""Restore puts back what the backup holds and sqlmig's schemas own, and nothing else:
the history of what happened since survives, other roles' schemas are left alone,
owners and privileges come back, locks are waited for no longer than --lock-timeout,
and a backup of another database is refused unless forced."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from sqlmig import LockTimeout, Migrator, SqlmigError
from sqlmig.backups import manifest_path
from sqlmig.errors import BackupError
from tests.helpers import query, snapshot, tables, two_migrations, versions

PASSWORD = "restore-pw"


def history(url: str) -> list[tuple[str, int | None, str | None]]:
    return [
        (str(e), v, d)
        for e, v, d in query(
            url, "SELECT event, version, detail FROM schema_version_history ORDER BY id"
        )
    ]


def counters(m: Migrator) -> tuple[int, int, int]:
    found = m.metrics()
    return found.applied, found.rolled_back, found.failed


def test_the_history_survives_a_restore_and_the_counters_never_go_back(db_url, write_migration):
    folder = two_migrations(write_migration)
    write_migration(3, "c", "CREATE TABLE c (a int);", "DROP TABLE c;")
    write_migration(4, "d", "CREATE TABLE d (a int);", "DROP TABLE d;")
    with Migrator(db_url, folder) as m:
        m.apply(2, backup=False)
        taken = m.backup()
        m.apply(backup=False)
        m.rollback(1)
        m.apply(backup=False)
        write_migration(5, "bad", "SELECT * FROM nowhere;", "SELECT 1;")
        with pytest.raises(SqlmigError):
            m.apply(backup=False)
        before = history(db_url)
        assert counters(m) == (5, 1, 1)
        done = m.restore(taken.path)
        assert done.status.current_version == 2 and counters(m) == (5, 1, 1)
        after = history(db_url)
        # Every event, in its order, then the restore, which says from where to where.
        assert after[:-1] == before
        assert after[-1] == ("restore", 2, "from version 4 to version 2")
        again = m.restore(taken.path)  # the same backup again: no event twice
        assert history(db_url) == [*after, ("restore", 2, "from version 2 to version 2")]
        assert again.status.current_version == 2
        m.apply(4, backup=False)
        assert counters(m) == (7, 1, 1)
    assert versions(db_url) == [1, 2, 3, 4]


def test_restore_waits_for_a_lock_no_longer_than_lock_timeout(db_url, write_migration):
    folder = two_migrations(write_migration)
    with Migrator(db_url, folder) as m:
        m.apply(1, backup=False)
        taken = m.backup()
        m.apply(backup=False)
    before = snapshot(db_url)
    release = hold(db_url, "SELECT count(*) FROM accounts")  # an application's transaction
    try:
        start = time.monotonic()
        with Migrator(db_url, folder, lock_timeout=1) as m, pytest.raises(LockTimeout) as info:
            m.restore(taken.path)
        assert time.monotonic() - start < 15
        assert "--lock-timeout" in str(info.value) and info.value.exit_code == 4
    finally:
        release.set()
    assert snapshot(db_url) == before
    with Migrator(db_url, folder, lock_timeout=1) as m:
        assert m.restore(taken.path).status.current_version == 1


def hold(db_url: str, sql: str) -> threading.Event:
    """Another connection runs ``sql`` and keeps its transaction (and, on SQLite, a
    write lock) open until the event is set."""
    release, held = threading.Event(), threading.Event()

    def run() -> None:
        if db_url.startswith("sqlite"):
            conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql).fetchall()
            held.set()
            release.wait(60)
            conn.execute("ROLLBACK")
            conn.close()
            return
        with psycopg.connect(db_url) as pg:
            pg.execute(sql).fetchall()
            held.set()
            release.wait(60)
            pg.rollback()

    threading.Thread(target=run, daemon=True).start()
    assert held.wait(30)
    return release


@contextlib.contextmanager
def other_database(db_url: str, tmp_path: Path, pg_cluster) -> Iterator[str]:
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    admin = pg_cluster if isinstance(pg_cluster, str) else pg_cluster.admin_url
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield db_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_backup_of_another_database_is_refused_unless_forced(
    db_url, write_migration, tmp_path, pg_cluster
):
    folder = two_migrations(write_migration)
    with other_database(db_url, tmp_path, pg_cluster) as other:
        with Migrator(other, folder) as m:
            m.apply(backup=False)
            theirs = m.backup()
        with Migrator(db_url, folder) as m:
            m.apply(1, backup=False)
            with pytest.raises(BackupError, match="is a backup of the .*, not of the") as info:
                m.restore(theirs.path)
            assert "Nothing was changed" in str(info.value) and "--force" in str(info.value)
            assert versions(db_url) == [1]
            forced = m.restore(theirs.path, force=True)
        assert forced.status.current_version == 2
        assert forced.notes[0].startswith("restored with --force: ")
        assert history(db_url)[-1][0] == "restore"


def test_a_backup_without_its_manifest_or_from_another_cluster_needs_force(
    db_url, write_migration, tmp_path
):
    folder = two_migrations(write_migration)
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
        taken = m.backup()
    manifest = manifest_path(taken.path)
    doc = json.loads(manifest.read_text())
    if doc["source"]["cluster"]:  # PostgreSQL: a server with another system identifier
        doc["source"]["cluster"] = "1" + doc["source"]["cluster"][1:]
        manifest.write_text(json.dumps(doc))
        with Migrator(db_url, folder) as m, pytest.raises(BackupError, match="another cluster"):
            m.restore(taken.path)
    manifest.unlink()  # copied without it, or taken by an older sqlmig
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    args = [sys.executable, "-m", "sqlmig", "restore", str(taken.path), "-d", db_url, "--yes"]
    refused = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 6 and "has no manifest" in refused.stderr
    assert "pass --force" in refused.stderr
    forced = subprocess.run(
        [*args, "--force"], env=env, capture_output=True, text=True, check=False
    )
    assert forced.returncode == 0, forced.stderr
    assert "note: restored with --force: " in forced.stderr
    assert "database at version 2" in forced.stdout


@dataclass
class Supabase:
    """A database laid out like Supabase's: ``auth`` belongs to another role, the app's
    role owns only ``public`` (no CREATEDB, no CREATE on the database), and the app's
    tables are granted to the anon and authenticated roles."""

    url: str  # the app's role
    superuser: str
    auth: str  # the role that owns auth
    roles: dict[str, str]

    def as_auth(self, sql: str) -> list[tuple[object, ...]]:
        return query(self.auth, sql)


def role_url(url: str, role: str) -> str:
    parts = urlsplit(url)
    netloc = f"{role}:{PASSWORD}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@pytest.fixture
def supabase(pg_url: str, pg_cluster) -> Iterator[Supabase]:
    tag = uuid.uuid4().hex[:8]
    roles = {r: f"{r}_{tag}" for r in ("app", "auth_admin", "anon", "authenticated")}
    admin = pg_cluster if isinstance(pg_cluster, str) else pg_cluster.admin_url
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in roles.values():
            conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}' NOCREATEDB")
    r = roles
    query(
        pg_url,
        f"""
        ALTER SCHEMA public OWNER TO {r["app"]};
        REVOKE CREATE ON DATABASE {urlsplit(pg_url).path[1:]} FROM PUBLIC;
        CREATE SCHEMA auth AUTHORIZATION {r["auth_admin"]};
        SET ROLE {r["auth_admin"]};
        CREATE TABLE auth.users (id int PRIMARY KEY, email text);
        CREATE TABLE auth.sessions (id int);  -- the app's role may not even read it
        INSERT INTO auth.users VALUES (1, 'ann@example.com');
        GRANT USAGE ON SCHEMA auth TO {r["app"]};
        GRANT SELECT, REFERENCES, TRIGGER ON auth.users TO {r["app"]};
        RESET ROLE;
        """,
    )
    try:
        yield Supabase(role_url(pg_url, r["app"]), pg_url, role_url(pg_url, r["auth_admin"]), roles)
    finally:
        query(pg_url, f"DROP OWNED BY {', '.join(roles.values())} CASCADE")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {', '.join(roles.values())}")


def supabase_migrations(write_migration, r: dict[str, str]) -> Path:
    write_migration(
        1,
        "profiles",
        f"""
        CREATE TABLE public.profiles (id int PRIMARY KEY REFERENCES auth.users (id), name text);
        GRANT SELECT ON public.profiles TO {r["anon"]};
        GRANT SELECT, INSERT ON public.profiles TO {r["authenticated"]};
        """,
        "DROP TABLE public.profiles;",
    )
    write_migration(
        2,
        "signup_trigger",
        """
        CREATE FUNCTION public.handle_new_user() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
        BEGIN
            INSERT INTO public.profiles (id, name) VALUES (NEW.id, NEW.email);
            RETURN NEW;
        END $$;
        CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users
        FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
        """,
        "DROP TRIGGER on_auth_user_created ON auth.users; DROP FUNCTION public.handle_new_user();",
    )
    return write_migration(
        3,
        "later",
        f"CREATE TABLE public.later (a int);\nGRANT SELECT ON public.later TO {r['anon']};",
        "DROP TABLE public.later;",
    )


def can(url: str, role: str, privilege: str, table: str = "public.profiles") -> bool:
    return bool(query(url, f"SELECT has_table_privilege('{role}', '{table}', '{privilege}')")[0][0])


@pytest.mark.parametrize("restorer", ["app", "superuser"])
def test_a_supabase_style_restore_leaves_auth_alone_and_keeps_the_grants(
    supabase, write_migration, restorer
):
    s, r = supabase, supabase.roles
    folder = supabase_migrations(write_migration, r)
    s.as_auth("INSERT INTO auth.users VALUES (2, 'bob@example.com')")  # before the trigger
    with Migrator(s.url, folder) as m:
        m.apply(2, backup=True)  # a backup of a database whose auth the role cannot read
        taken = m.backup()
        m.apply(backup=False)
    assert taken.source is not None and taken.source.schemas == ("public",)
    assert "auth" in taken.source.left_out and taken.source.cluster
    s.as_auth("INSERT INTO auth.users VALUES (3, 'cy@example.com')")  # after the backup
    query(s.url, "UPDATE public.profiles SET name = 'changed'")
    auth_before = s.as_auth("SELECT * FROM auth.users ORDER BY id")

    url = s.url if restorer == "app" else s.superuser
    with Migrator(url, folder) as m:
        done = m.restore(taken.path)

    assert done.status.current_version == 2
    assert "later" not in tables(s.superuser)  # created after the backup: gone
    assert query(s.superuser, "SELECT id, name FROM public.profiles ORDER BY id") == []
    assert s.as_auth("SELECT * FROM auth.users ORDER BY id") == auth_before  # untouched
    assert query(s.superuser, "SELECT to_regclass('auth.sessions') IS NOT NULL") == [(True,)]
    assert can(s.superuser, r["anon"], "SELECT") and can(s.superuser, r["authenticated"], "INSERT")
    assert not can(s.superuser, r["anon"], "INSERT")
    assert query(s.superuser, "SELECT tableowner FROM pg_tables WHERE tablename = 'profiles'") == [
        (r["app"],)
    ]
    # The trigger on auth.users, which calls the function the restore replaced, is back.
    assert any(
        "re-created trigger on_auth_user_created on table auth.users" in n for n in done.notes
    )
    s.as_auth("INSERT INTO auth.users VALUES (4, 'di@example.com')")
    assert query(s.superuser, "SELECT id, name FROM public.profiles") == [(4, "di@example.com")]
    # The apply of version 3, after the backup, is still told; then the restore.
    assert [e for e, _, _ in history(s.superuser)] == ["apply", "apply", "apply", "restore"]


def test_restore_refuses_what_would_take_other_schemas_objects_with_it(supabase, write_migration):
    s, r = supabase, supabase.roles
    folder = supabase_migrations(write_migration, r)
    with Migrator(s.url, folder) as m:
        m.apply(1, backup=False)
        taken = m.backup()
        query(s.url, f"GRANT SELECT ON public.profiles TO {r['auth_admin']}")
        s.as_auth("CREATE VIEW auth.emails AS SELECT name FROM public.profiles")
        before = snapshot(s.superuser)
        with pytest.raises(BackupError) as info:
            m.restore(taken.path)
    message = str(info.value)
    assert "view auth.emails (depends on column name of table public.profiles)" in message
    assert "Nothing was changed" in message
    assert snapshot(s.superuser) == before
    assert query(s.superuser, "SELECT to_regclass('auth.emails') IS NOT NULL") == [(True,)]


def test_every_role_a_backup_names_must_exist(supabase, write_migration, pg_cluster):
    s, r = supabase, supabase.roles
    folder = supabase_migrations(write_migration, r)
    with Migrator(s.url, folder) as m:
        m.apply(1, backup=False)
        taken = m.backup()
        m.apply(backup=False)
    admin = pg_cluster if isinstance(pg_cluster, str) else pg_cluster.admin_url
    query(s.superuser, f"DROP OWNED BY {r['anon']}")  # revokes its privileges
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {r['anon']}")
    try:
        with Migrator(s.url, folder) as m, pytest.raises(BackupError) as info:
            m.restore(taken.path)
        assert f"names roles that do not exist on this server: {r['anon']}" in str(info.value)
        assert f"CREATE ROLE {r['anon']} NOLOGIN" in str(info.value)
        assert versions(s.superuser) == [1, 2, 3]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {r['anon']}")
    with Migrator(s.url, folder) as m:
        done = m.restore(taken.path)
    assert done.status.current_version == 1 and can(s.superuser, r["anon"], "SELECT")
    # The backup is from before migration 2 made the trigger on auth.users, which calls a
    # function the backup does not have: as the database was then, the trigger is gone.
    assert any(
        n.startswith("dropped trigger on_auth_user_created on table auth.users, as the backup")
        for n in done.notes
    ), done.notes
    assert query(s.superuser, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal") == [(0,)]


def test_an_old_full_backup_restores_only_sqlmigs_schemas(supabase, write_migration, tmp_path):
    s, r = supabase, supabase.roles
    folder = supabase_migrations(write_migration, r)
    with Migrator(s.url, folder) as m:
        m.apply(2, backup=False)
    old = tmp_path / "backups" / "db-v0002-20260101T000000Z.pgdump"
    old.parent.mkdir()
    # What sqlmig took before it kept to its schemas: everything (as a superuser, as the
    # app's role could not even read auth.sessions), without a manifest.
    subprocess.run(
        [shutil.which("pg_dump") or "pg_dump", "--format=custom", "--file", str(old), s.superuser],
        check=True,
    )
    s.as_auth("INSERT INTO auth.users VALUES (5, 'ed@example.com')")
    with Migrator(s.url, folder) as m:
        m.apply(backup=False)
        with pytest.raises(BackupError, match="has no manifest"):
            m.restore(old)
        done = m.restore(old, force=True)
    assert done.status.current_version == 2 and "later" not in tables(s.superuser)
    assert any("schema auth" in n and "left as it is" in n for n in done.notes)
    assert s.as_auth("SELECT id FROM auth.users ORDER BY id") == [(1,), (5,)]


def test_restore_drops_the_schemas_sqlmig_owns_that_came_after_the_backup(pg_url, write_migration):
    folder = two_migrations(write_migration)
    write_migration(
        3,
        "billing",
        "CREATE SCHEMA billing; CREATE TABLE billing.x (a int);",
        "DROP SCHEMA billing CASCADE;",
    )
    with Migrator(pg_url, folder) as m:
        m.apply(2, backup=False)
        taken = m.backup()
        m.apply(backup=False)
        done = m.restore(taken.path)
        assert "dropped schema billing: it was created after the backup" in done.notes
        m.apply(backup=False)  # and the migration that created it applies again
    assert versions(pg_url) == [1, 2, 3]


def test_backup_schemas_says_which_schemas_a_backup_holds(pg_url, write_migration):
    folder = two_migrations(write_migration)
    query(pg_url, "CREATE SCHEMA reports; CREATE TABLE reports.r (a int)")
    with Migrator(pg_url, folder) as m:
        m.apply(backup=False)
        assert m.backup().source.schemas == ("public", "reports")  # type: ignore[union-attr]
    with Migrator(pg_url, folder, backup_schemas=["nosuch"]) as m:  # its own, always
        assert m.backup().source.schemas == ("public",)  # type: ignore[union-attr]
    with Migrator(pg_url, folder, backup_schemas=["public"]) as m:
        taken = m.backup()
        assert taken.source is not None and taken.source.schemas == ("public",)
        query(pg_url, "INSERT INTO reports.r VALUES (1)")
        m.restore(taken.path)
    assert query(pg_url, "SELECT a FROM reports.r") == [(1,)]  # not sqlmig's: left alone


def test_a_sqlite_backup_of_another_page_size_restores_into_a_wal_database(
    sqlite_url, write_migration, tmp_path
):
    folder = two_migrations(write_migration)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("PRAGMA page_size = 8192")  # takes hold with the first page written
    conn.execute("CREATE TABLE unrelated (a int)")
    conn.close()
    with Migrator(f"sqlite:///{other}", folder, sqlite_journal_mode="delete") as m:
        m.baseline(0)  # the table is no migration's: apply would refuse it
        m.apply(backup=False)
        theirs = m.backup()
    assert query(f"sqlite:///{theirs.path}", "PRAGMA page_size") == [(8192,)]
    with Migrator(sqlite_url, folder) as m:  # WAL, 4096-byte pages
        m.apply(1, backup=False)
        done = m.restore(theirs.path, force=True)
    assert done.status.current_version == 2
    assert query(sqlite_url, "PRAGMA page_size") == [(4096,)]
    assert query(sqlite_url, "PRAGMA journal_mode") == [("wal",)]
    assert query(sqlite_url, "SELECT count(*) FROM accounts") == [(2,)]
