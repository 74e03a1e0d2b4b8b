"""Small helpers shared by tests: look at a database without going through sqlmig."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

OWN_TABLES = {
    "schema_version",
    "schema_version_history",
    "schema_version_seeds",
    "schema_version_meta",
}


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:  # autocommit, as on PostgreSQL below: a write here is a write
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        cur = pg.execute(sql)
        return cur.fetchall() if cur.description else []


def tables(url: str) -> set[str]:
    if url.startswith("sqlite"):
        rows = query(
            url, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    else:
        rows = query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r[0] for r in rows}


def versions(url: str, table: str = "schema_version") -> list[int]:
    if table not in tables(url) and not url.startswith("postgres"):
        return []
    if url.startswith("postgres") and query(url, f"SELECT to_regclass('{table}')") == [(None,)]:
        return []
    return [r[0] for r in query(url, f"SELECT version FROM {table} ORDER BY version")]


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table with its rows except the history, which records failures by design."""
    names = sorted(t for t in tables(url) if not t.endswith("_history"))
    return {t: sorted(query(url, f'SELECT * FROM "{t}"'), key=repr) for t in names}


def two_migrations(write_migration) -> Path:
    write_migration(
        1,
        "accounts",
        "CREATE TABLE accounts (id int PRIMARY KEY, email text);",
        "DROP TABLE accounts;",
    )
    return write_migration(
        2,
        "fill",
        "INSERT INTO accounts VALUES (1, 'a@example.com'), (2, 'b@example.com');",
        "DELETE FROM accounts;",
    )


SUPABASE_ROLES = ("anon", "authenticated", "service_role")


def make_roles(url: str, *names: str) -> None:
    """NOLOGIN roles on the server of ``url``, unless they are there already (roles are
    the whole server's, and the test cluster is shared by every test)."""
    for name in names:
        query(
            url,
            f"DO $$ BEGIN CREATE ROLE {name} NOLOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        )


def role_names(url: str) -> set[str]:
    return {r[0] for r in query(url, "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_'")}
