"""PostgreSQL backups of sqlmig's schemas, and restores that put back what a backup
holds without touching what belongs to other roles.

sqlmig's schemas are the `backup_schemas` setting, or else its own schema and every
schema the connecting role owns. A backup is a pg_dump of those, privileges included;
the rest of the database (a Supabase-style `auth` schema owned by another role, say)
is neither dumped nor, on restore, touched. A restore is one psql transaction:

1. it drops the objects of the restoring role (or of roles whose privileges it has)
   in the schemas it restores, and the schemas created since the backup, refusing,
   before anything runs, when that would take with it objects outside what it
   restores (a view in another schema), except those it re-creates afterwards (a
   trigger on auth.users that calls a function it restores);
2. it loads the backup's entries for those schemas, with their owners and privileges,
   except those of roles it cannot act as, which it leaves as they are; every role
   the backup names must exist (roles belong to the cluster, not to a backup);
3. it re-creates the dependents of step 1 (or leaves dropped those whose object the
   backup does not have: they cannot have been there when it was taken), then runs
   the core's statements (the history).

Waits for locks are bounded by --lock-timeout, which pg_restore's script would reset.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from sqlmig.engines import pgrestore_sql as q
from sqlmig.engines import pgtools
from sqlmig.engines.base import Statement
from sqlmig.engines.pgarchive import HeaderTimeouts, TocEntry, as_grantor, grantees, parse_toc
from sqlmig.errors import BackupError, LockTimeout
from sqlmig.models import BackupSource

if TYPE_CHECKING:
    from sqlmig.engines.postgres import PostgresEngine


@dataclass
class Plan:
    """What a restore replaces, creates and drops, the backup entries it loads, and what
    it leaves alone, said in ``notes``."""

    replace: list[str]
    create: list[str]
    dropped: list[str]
    entries: list[TocEntry] = field(default_factory=list)
    acl: list[TocEntry] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, Any]:
        return {"replace": self.replace, "dropped": self.dropped}


@dataclass(frozen=True, slots=True)
class Schema:
    name: str
    owner: str
    managed: bool  # one of sqlmig's by default
    ours: bool  # the connecting role has its owner's privileges
    home: bool = False  # where sqlmig's own tables are


def managed(schemas: list[Schema], configured: list[str] | None) -> list[str]:
    """sqlmig's schemas: ``configured`` (backup_schemas) or the default ones, and always
    the schema of its own tables, without which a restore could not say its version."""
    wanted = (lambda s: s.name in configured) if configured is not None else None
    return [s.name for s in schemas if s.home or (wanted(s) if wanted else s.managed)]


def plan(
    entries: list[TocEntry],
    schemas: list[Schema],
    roles: dict[str, bool],
    configured: list[str] | None,
    manifest: BackupSource | None,
) -> Plan:
    """Decide from the backup's entries and the database as it is now (pure)."""
    in_backup = [e.tag for e in entries if e.desc == "SCHEMA" and e.namespace is None]
    live = {s.name: s for s in schemas}
    mine = set(managed(schemas, configured))
    existed = set(in_backup) | set(manifest.left_out if manifest else ())
    p = Plan(
        replace=[s for s in in_backup if s in live and s in mine],
        create=[s for s in in_backup if s not in live],
        dropped=[s for s in sorted(mine) if s not in existed and live[s].ours],
    )
    p.notes += [
        f"schema {s} (owner {live[s].owner}) is in the backup but is not one of sqlmig's "
        "schemas: left as it is"
        for s in in_backup
        if s in live and s not in mine
    ]
    p.notes += [f"dropped schema {s}: it was created after the backup" for s in p.dropped]
    others: dict[str, list[str]] = {}
    skipped = 0
    for e in entries:
        schema = e.namespace if e.namespace is not None else e.schema_level
        wanted = schema in p.create or (e.namespace is not None and schema in p.replace)
        if not wanted:
            skipped += e.namespace is None and e.schema_level is None
            continue
        if e.owner is not None and e.owner not in roles:
            p.missing.add(e.owner)
        elif e.owner is not None and not roles[e.owner]:
            others.setdefault(e.owner, []).append(f"{e.desc.lower()} {schema}.{e.tag}")
            continue
        (p.acl if e.desc in ("ACL", "DEFAULT ACL") else p.entries).append(e)
    p.notes += [
        f"not restored from the backup, owned by {owner}, which this role cannot act as: "
        + _some(sorted(set(what)))
        for owner, what in sorted(others.items())
    ]
    if skipped:
        p.notes.append(
            f"{skipped} entries of the backup outside any schema (extensions, casts, "
            "publications...) were not restored"
        )
    return p


def _some(items: list[str], limit: int = 10) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def prefix(targets: str, outside: str, lock_ms: int, statement_ms: int) -> str:
    """Step 1, from the queries bound to this restore's schemas."""
    return f"""SELECT pg_catalog.set_config('search_path', 'pg_catalog', false);
SET lock_timeout = {lock_ms};
SET statement_timeout = {statement_ms};
SET client_min_messages = warning;
CREATE TEMP TABLE sqlmig_restore_targets ON COMMIT DROP AS {targets};
CREATE TEMP TABLE sqlmig_restore_outside ON COMMIT DROP AS {outside};
DO $sqlmig$
DECLARE r record; refused text;
BEGIN
    SELECT string_agg(description || ' (depends on ' || depends_on || ')', '; ')
      INTO refused FROM pg_temp.sqlmig_restore_outside WHERE recreate IS NULL;
    IF refused IS NOT NULL THEN
        RAISE EXCEPTION 'the restore would drop objects outside what it restores: %', refused;
    END IF;
    FOR r IN SELECT statement FROM pg_temp.sqlmig_restore_targets LOOP
        EXECUTE r.statement;
    END LOOP;
END $sqlmig$;
"""


# Step 3. A dependent whose object the backup does not have (a trigger calling a
# function created after the backup) cannot have been there when the backup was taken:
# it stays dropped. What happened to each is told through psql's warnings (_note).
SUFFIX = """
DO $sqlmig$
DECLARE r record;
BEGIN
    FOR r IN SELECT description, recreate FROM pg_temp.sqlmig_restore_outside ORDER BY ord
    LOOP
        BEGIN
            EXECUTE r.recreate;
            RAISE WARNING 'sqlmig: re-created %', r.description;
        EXCEPTION WHEN undefined_function OR undefined_table OR undefined_column
                       OR undefined_object THEN
            RAISE WARNING 'sqlmig: dropped %, as the backup does not have what it needs (%)',
                r.description, SQLERRM;
        END;
    END LOOP;
END $sqlmig$;
"""
_WARNING = re.compile(r"WARNING:\s+(?:[0-9A-Z]{5}: )?(.*)$")


def bind(conn: psycopg.Connection[Any], sql: str, params: Mapping[str, Any] | Sequence[Any]) -> str:
    """``sql`` with its parameters as literals: for psql's script, and for statements
    PostgreSQL takes no parameters in (CREATE TABLE AS)."""
    return psycopg.ClientCursor(conn).mogrify(sql, params or None)


class _Undo(Exception):
    """Ends the check's transaction with a rollback."""


@dataclass(frozen=True, slots=True)
class Facts:
    """The database as a restore finds it: its schemas, which roles the connecting
    role may act as (all of them, by name), and whether it is a superuser."""

    schemas: list[Schema]
    roles: dict[str, bool]
    superuser: bool

    @classmethod
    def read(cls, engine: PostgresEngine) -> Facts:
        home = {"home": engine.schema}
        schemas = [Schema(*r) for r in engine.query(bind(engine.conn, q.SCHEMAS, home))]
        can_set = "SET" if engine.conn.info.server_version >= 160000 else "MEMBER"
        roles = engine.query(bind(engine.conn, q.ROLES, {"set": can_set}))
        superuser = engine.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return cls(schemas, {name: bool(ours) for name, ours in roles}, bool(superuser[0][0]))


def backup_scope(engine: PostgresEngine) -> tuple[list[str], list[str], list[str]]:
    """The schemas a backup holds, the others, and the relations in the first that the
    role cannot read (other roles', left alone by a restore: pg_dump would fail on them)."""
    facts = Facts.read(engine)
    mine = managed(facts.schemas, engine.settings.backup_schemas)
    assert mine, "sqlmig's own schema exists by now"  # pg_dump without --schema dumps all
    others = [s.name for s in facts.schemas if s.name not in mine]
    unreadable = [
        str(name) for (name,) in engine.query(bind(engine.conn, q.UNREADABLE, {"schemas": mine}))
    ]
    return mine, others, unreadable


def backup(engine: PostgresEngine, dest: Path) -> BackupSource:
    """pg_dump in custom format of sqlmig's schemas (or a tenant's one), with their
    privileges, into ``dest``; refuses a pg_dump older than the server."""
    pg_dump = pgtools.find_program("pg_dump")
    pgtools.check_version(pg_dump, engine.conn.info.server_version // 10000)
    schemas, others, unreadable = backup_scope(engine)
    if engine.tenant is not None:  # the tenant's schema, not every tenant's
        others = [s for s in [*schemas, *others] if s != engine.tenant]
        schemas = [engine.tenant]
        unreadable = [n for n in unreadable if n.startswith(_pattern(engine.tenant) + ".")]
    _, dsn = pgtools.child_env_and_dsn(engine.url)
    args = [str(pg_dump), "--format=custom", "--file", str(dest), "--dbname", dsn]
    args += [f"--schema={_pattern(s)}" for s in schemas]
    args += [f"--exclude-table={name}" for name in unreadable]
    pgtools.run(args, engine.url, "pg_dump")
    return replace(engine.source(), schemas=tuple(schemas), left_out=tuple(others))


def _pattern(name: str) -> str:
    """A pg_dump pattern that matches ``name`` and nothing else."""
    return '"' + name.replace('"', '""') + '"'


def restore(
    engine: PostgresEngine,
    src: Path,
    manifest: BackupSource | None,
    prepare: Callable[[], list[Statement]],
) -> list[str]:
    """Restore ``src`` (see the module's docstring); return what it left alone."""
    with src.open("rb") as f:
        if f.read(5) != b"PGDMP":
            raise BackupError(f"{src} is not a pg_dump custom-format backup")
    tools = pgtools.Restorer(engine.url)
    listing = tools.listing(src)
    finish = prepare()
    facts = Facts.read(engine)
    entries = parse_toc(listing, [s.name for s in facts.schemas], facts.roles)
    p = plan(entries, facts.schemas, facts.roles, engine.settings.backup_schemas, manifest)
    acl = tools.script(src, [e.line for e in p.acl]) if p.acl else ""
    missing = sorted(p.missing | {r for r in grantees(acl) if r not in facts.roles})
    if missing:
        raise BackupError(
            f"{src} names roles that do not exist on this server: {', '.join(missing)}. "
            "A backup carries the owners and privileges of its objects, but not the roles: "
            f"they belong to the server. Create them first (CREATE ROLE {missing[0]} "
            "NOLOGIN, say) and restore again; nothing was changed."
        )
    targets, outside = (bind(engine.conn, sql, p.params) for sql in (q.TARGETS, q.OUTSIDE))
    p.notes += _check(engine, src, targets, outside, bind(engine.conn, q.LEFT_ALONE, p.params))
    settings = engine.settings
    lock_ms = int(settings.lock_timeout * 1000)
    statement_ms = int((settings.statement_timeout or 0) * 1000)
    privileges = "".join(map(HeaderTimeouts(lock_ms, statement_ms), acl.splitlines(True)))
    after = "".join(
        [
            as_grantor(privileges, facts.superuser, facts.roles),
            SUFFIX,
            *(bind(engine.conn, sql, params) + ";\n" for sql, params in finish),
        ]
    )
    script = prefix(targets, outside, lock_ms, statement_ms)
    ok, said = tools.run(
        src, [e.line for e in p.entries], (script, after), HeaderTimeouts(lock_ms, statement_ms)
    )
    if not ok:
        raise _failed(engine, src, said)
    return p.notes + [_note(m[1]) for m in map(_WARNING.search, said.splitlines()) if m]


def _note(warning: str) -> str:
    """What the restore told through psql: its own words, or PostgreSQL's (a grant
    that granted nothing, say)."""
    return (
        warning.removeprefix("sqlmig: ")
        if warning.startswith("sqlmig: ")
        else (f"PostgreSQL warned during the restore: {warning}")
    )


def _check(
    engine: PostgresEngine, src: Path, targets: str, outside: str, left_alone: str
) -> list[str]:
    """Before anything changes: refuse if dropping what the restore replaces would take
    objects outside it with it that it cannot create again; say what it leaves alone."""
    found: list[list[tuple[Any, ...]]] = []
    try:
        with engine.transaction():
            engine.query("SELECT pg_catalog.set_config('search_path', 'pg_catalog', true)")
            engine.query(f"CREATE TEMP TABLE sqlmig_restore_targets ON COMMIT DROP AS {targets}")
            found += [engine.query(outside), engine.query(left_alone)]
            raise _Undo
    except _Undo:
        pass
    dependents, left = found
    refused = [
        f"{what} (depends on {on})" for what, on, recreate, _ in dependents if recreate is None
    ]
    if refused:
        raise BackupError(
            f"restoring {src} would also drop objects outside what it restores, which sqlmig "
            f"leaves alone and could not create again: {_some(refused)}. Nothing was "
            "changed: drop them first and create them again after the restore, or restore "
            "as a role that owns them."
        )
    if left:
        return ["left as they are: " + _some(sorted({what for (what,) in left}))]
    return []


def _failed(engine: PostgresEngine, src: Path, errors: str) -> BackupError | LockTimeout:
    code, message = pgtools.psql_error(engine.url.redact(errors))
    if code == "55P03":
        return LockTimeout(
            f"restore from {src} gave up after waiting --lock-timeout "
            f"{engine.settings.lock_timeout:g}s for a lock ({message}): an application's "
            "transaction holds a table the restore replaces. Nothing was changed; retry "
            "when it is done, stop the application, or raise --lock-timeout."
        )
    return BackupError(f"restore from {src} failed, nothing was changed: {message}")
