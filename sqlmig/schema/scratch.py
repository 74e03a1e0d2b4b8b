"""A throwaway database to load a baseline into, removed afterwards whatever happens."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmig.config import DatabaseUrl, Dialect, Settings, parse_url, with_database
from sqlmig.discovery import read_sql_file
from sqlmig.engines import open_engine
from sqlmig.engines.base import Engine
from sqlmig.errors import (
    BackendError,
    ConfigError,
    ConnectError,
    Problem,
    StatementError,
    ValidationError,
)
from sqlmig.models import SqlFile
from sqlmig.schema import Baseline, Schema
from sqlmig.scripts import execute_file
from sqlmig.splitter import Statement, split
from sqlmig.sqlkind import is_transaction_control

if TYPE_CHECKING:
    import psycopg

    from sqlmig.schema import pgload
    from sqlmig.schema.pgroles import ScratchRoles

_NOT_NEWLINE = re.compile(r"[^\n]")
# A statement without any of these words is no BEGIN, COMMIT or the like: most are
# known not to be without being tokenised.
_MAYBE_TRANSACTION = re.compile(r"BEGIN|START|COMMIT|END|ABORT|ROLLBACK|PREPARE", re.IGNORECASE)
_SQLITE_INTERNAL = re.compile(
    r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[\"'`\[]?sqlite_", re.IGNORECASE
)


@dataclass
class ScratchDb:
    engine: Engine
    roles: ScratchRoles | None = None  # PostgreSQL: the server's roles, made as loads need
    url: DatabaseUrl | None = None  # PostgreSQL: the scratch database's
    notes: list[str] = field(default_factory=list)  # what loading took, for the output
    # PostgreSQL: what the server said the load depends on (pgkey), its settings given to
    # every connection to the scratch database.
    facts: dict[str, Any] | None = None


@contextmanager
def scratch(settings: Settings, server_url: str | None = None) -> Iterator[ScratchDb]:
    """An empty database of the same engine: in memory for SQLite; for PostgreSQL a new
    database on ``server_url`` (default: the configured server), dropped on exit, and
    then the roles made for it."""
    if settings.url.dialect == "sqlite":
        memory = replace(settings, database_url="sqlite:///:memory:", target=None)
        engine = open_engine(memory, write=False)
        try:
            yield ScratchDb(engine)
        finally:
            engine.close()
        return
    yield from _postgres_scratch(settings, server_url or settings.database_url)


def check_scratch(settings: Settings, server_url: str | None = None) -> None:
    """Fail now, with the message creating it would give, if a scratch database cannot
    be made: before `apply --verify` migrates, not after."""
    if settings.url.dialect == "sqlite":
        return
    import psycopg

    url = parse_url(server_url or settings.database_url)
    try:
        with psycopg.connect(url.conninfo, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.Error as exc:
        message = f"cannot connect to {url.masked} for a scratch database: {exc}"
        raise ConnectError(url.redact(message)) from None
    if not (row and row[0]):
        raise ConfigError(_cannot_create(url, "permission denied to create database"))


def _cannot_create(url: DatabaseUrl, reason: str) -> str:
    return url.redact(
        f"cannot create a scratch database on {url.masked} ({reason}): grant CREATEDB, or "
        "pass --scratch-url for a server where that is allowed"
    )


def connect_admin(server_url: str) -> psycopg.Connection[Any]:
    """A connection to the server scratch databases are made on, as the role that makes
    them: the configured database's, or ``--scratch-url``'s."""
    import psycopg

    url = parse_url(server_url)
    if url.dialect != "postgres":
        raise ConfigError(f"--scratch-url {url.masked}: a PostgreSQL server is needed here")
    try:
        return psycopg.connect(url.conninfo, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        message = f"cannot connect to {url.masked} for a scratch database: {exc}"
        raise ConnectError(url.redact(message)) from None


def _postgres_scratch(settings: Settings, server_url: str) -> Iterator[ScratchDb]:
    import psycopg

    from sqlmig.schema.pgroles import ScratchRoles

    url = parse_url(server_url)
    admin = connect_admin(server_url)
    name = f"sqlmig_scratch_{os.urandom(5).hex()}"
    try:
        # Read before the database exists: its settings are the server's and the role's,
        # and then those of every session in it (pgkey), so that unqualified names in
        # schema.sql land where they would in the database it describes.
        facts = server_facts(admin, url)
        try:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        except psycopg.Error as exc:
            raise ConfigError(_cannot_create(url, str(exc.diag.message_primary))) from None
        scratch_url = _with_options(with_database(url.raw, name), facts)
        # Not the target's: a tenant's search_path would send schema.sql into its schema.
        engine = open_engine(replace(settings, database_url=scratch_url, target=None), write=False)
        db = ScratchDb(engine, ScratchRoles(admin), parse_url(scratch_url), facts=facts)
        try:
            yield db
        finally:
            engine.close()
            try:
                _drop(admin, name, url)
            finally:
                db.roles.release()  # type: ignore[union-attr]
                db.notes += db.roles.notes  # type: ignore[union-attr]
    finally:
        admin.close()


def server_facts(admin: psycopg.Connection[Any], url: DatabaseUrl) -> dict[str, Any]:
    """What the scratch server says a load depends on (pgkey.FACTS), through ``admin``."""
    import psycopg

    from sqlmig.schema import pgkey

    try:
        return pgkey.facts(lambda sql, params: admin.execute(sql, params).fetchall())
    except psycopg.Error as exc:
        message = f"cannot read the settings of {url.masked} for a scratch database: {exc}"
        raise BackendError(url.redact(message)) from None


def _with_options(url: str, facts: dict[str, Any]) -> str:
    """``url`` with ``facts``' session settings given at connection start, after the
    options it already gives (or PGOPTIONS, which a URL's own options replace)."""
    from urllib.parse import quote, unquote

    from sqlmig.schema import pgkey

    scheme, rest = url.split("://", 1)
    query_at = rest.find("?", rest.rfind("@") + 1)
    base, query = (rest, "") if query_at < 0 else (rest[:query_at], rest[query_at + 1 :])
    pairs = [param.partition("=") for param in query.split("&") if param]
    params = [(unquote(key), unquote(value)) for key, _, value in pairs]
    given = [value for key, value in params if key == "options"]
    options = pgkey.options(facts, given[-1] if given else os.environ.get("PGOPTIONS", ""))
    params = [(k, v) for k, v in params if k != "options"] + [("options", options)]
    return f"{scheme}://{base}?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in params)


def _drop(admin: psycopg.Connection[Any], name: str, url: DatabaseUrl) -> None:
    import psycopg

    try:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as exc:
        message = (
            f"could not drop the scratch database {name} on {url.masked} "
            f"({str(exc).strip()}): drop it by hand with DROP DATABASE {name}"
        )
        raise BackendError(url.redact(message)) from None


def load_baseline(db: ScratchDb, path: Path, *, home_only: bool = False) -> Baseline:
    """Run ``path`` in the scratch database and read back the schema it builds (with
    ``home_only``, of the schema its unqualified names landed in)."""
    if not path.is_file():
        raise ConfigError(f"{path} not found: write it, or point --baseline at the schema file")
    problems: list[Problem] = []
    file = read_sql_file(path, problems)
    if file is None:
        raise ValidationError(problems)
    file, statements = _loadable(file, split(file.text, db.engine.dialect), db.engine.dialect)
    prepared = None
    if db.roles is not None:
        from sqlmig.schema import pgload

        prepared = pgload.prepare(file, statements, db.roles)
        db.notes += prepared.made + prepared.notes
        file = prepared.file
    run(db, file, prepared.missing if prepared else set())
    schema = db.engine.introspect(home_only=home_only)
    kept = list(prepared.notes) if prepared else []
    if prepared and prepared.withheld:
        grants, noted = _text_grants(db, prepared)
        schema |= grants
        db.notes += noted
        kept += noted
    return Baseline(schema, db.notes, kept)


def run(db: ScratchDb, file: SqlFile, missing: set[str]) -> None:
    """Run ``file`` in the scratch database, in one transaction where it fits."""
    try:
        execute_file(db.engine, file, atomic=False)
    except StatementError as exc:
        raise in_scratch(db, exc, missing) from None


def in_scratch(db: ScratchDb, exc: StatementError, missing: set[str]) -> StatementError:
    """The failure, said of the scratch database; and what to do when it names a role the
    scratch server lacks."""
    lacking = [r for r in sorted(missing) if f'role "{r}" does not exist' in exc.db_message]
    if not lacking or db.roles is None:
        return exc.in_scratch()
    from sqlmig.schema.pgnames import ident

    user = db.roles.user
    return exc.with_outcome(
        f"The scratch server lacks role {lacking[0]} and {user} may not create roles there: "
        f"create it there (CREATE ROLE {ident(lacking[0])} NOLOGIN), give {user} "
        "CREATEROLE, or pass --scratch-url for a server that has it. This ran in a scratch "
        "database, which is removed; the configured database was not touched."
    )


def _text_grants(db: ScratchDb, prepared: pgload.Prepared) -> tuple[Schema, list[str]]:
    import psycopg

    from sqlmig.schema.pgtextgrants import TextGrants

    assert db.url is not None and db.roles is not None
    with psycopg.connect(db.url.conninfo, autocommit=True, connect_timeout=10) as conn:
        grants = TextGrants(conn, db.roles.user)
        grants.withheld = prepared.withheld
        schema = grants.schema()
    for w, error in grants.unread:
        if error is not None:
            raise StatementError(
                path=prepared.file.path,
                line=w.line,
                statement=w.text,
                db_message=str(error.diag.message_primary or error),
                code=error.sqlstate,
                rolled_back=True,
            ).in_scratch()
    if not grants.unread:
        return schema, []
    from sqlmig.schema.pgload import lines_of

    lines = [w.line for w, _ in grants.unread]
    return schema, [
        f"{prepared.file.path.name} {lines_of(lines)}: not compared: sqlmig could not tell "
        "which objects the grants there name"
    ]


def _loadable(
    file: SqlFile, statements: list[Statement], dialect: Dialect
) -> tuple[SqlFile, list[Statement]]:
    """The file without what a scratch load must not run: BEGIN/COMMIT (as `sqlite3 .dump`
    writes them), which would end the load's own transaction and change nothing else;
    and on SQLite `CREATE TABLE sqlite_sequence(...)` / `sqlite_stat1(...)` (as
    `sqlite3 .schema` writes them), tables SQLite makes itself and refuses to have made
    for it. They are blanked, not removed, so that errors still point at the right line
    and the other statements (returned too) stay where they were."""
    text, kept = file.text, []
    for st in statements:
        if (_MAYBE_TRANSACTION.search(st.text) and is_transaction_control(st.text, dialect)) or (
            dialect == "sqlite" and _SQLITE_INTERNAL.match(st.text)
        ):
            end = st.offset + len(st.text)
            text = text[: st.offset] + _NOT_NEWLINE.sub(" ", text[st.offset : end]) + text[end:]
        else:
            kept.append(st)
    return replace(file, text=text), kept
