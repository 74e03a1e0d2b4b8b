"""A throwaway database to load a baseline into, removed afterwards whatever happens."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlmig.config import Dialect, Settings, parse_url
from sqlmig.discovery import read_sql_file
from sqlmig.engines import open_engine
from sqlmig.engines.base import Engine
from sqlmig.errors import ConfigError, ConnectError, Problem, StatementError, ValidationError
from sqlmig.models import SqlFile
from sqlmig.runner import TRANSACTION_CONTROL, Runner
from sqlmig.schema import Schema
from sqlmig.splitter import split

_NOT_NEWLINE = re.compile(r"[^\n]")


@contextmanager
def scratch(settings: Settings, server_url: str | None = None) -> Iterator[Engine]:
    """An empty database of the same engine: in memory for SQLite; for PostgreSQL a new
    database on ``server_url`` (default: the configured server), dropped on exit."""
    if settings.url.dialect == "sqlite":
        engine = open_engine(replace(settings, database_url="sqlite:///:memory:"), write=False)
        try:
            yield engine
        finally:
            engine.close()
        return
    yield from _postgres_scratch(
        settings, server_url or settings.database_url, like_live=server_url is None
    )


# The configured database's own search_path (ALTER DATABASE ... SET), as written there.
_LIVE_SEARCH_PATH = """
    SELECT substr(c, length('search_path=') + 1)
    FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) c
    WHERE d.datname = current_database() AND s.setrole = 0 AND c LIKE 'search\\_path=%'"""


def _postgres_scratch(settings: Settings, server_url: str, *, like_live: bool) -> Iterator[Engine]:
    import psycopg

    url = parse_url(server_url)
    name = f"sqlmig_scratch_{os.urandom(5).hex()}"
    try:
        admin = psycopg.connect(url.conninfo, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        message = f"cannot connect to {url.masked} for a scratch database: {exc}"
        raise ConnectError(url.redact(message)) from None
    try:
        try:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        except psycopg.Error as exc:
            message = (
                f"cannot create a scratch database on {url.masked} ({exc.diag.message_primary}): "
                "grant CREATEDB, or pass --scratch-url for a server where that is allowed"
            )
            raise ConfigError(url.redact(message)) from None
        if like_live:
            # Unqualified names in schema.sql must land where they would in the database
            # it describes.
            for (path,) in admin.execute(_LIVE_SEARCH_PATH).fetchall():
                admin.execute(f'ALTER DATABASE "{name}" SET search_path TO {path}')
        parts = urlsplit(url.raw)
        scratch_url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
        engine = open_engine(replace(settings, database_url=scratch_url), write=False)
        try:
            yield engine
        finally:
            engine.close()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def load_baseline(engine: Engine, path: Path) -> Schema:
    """Run ``path`` in the scratch ``engine`` and read back the schema it builds."""
    if not path.is_file():
        raise ConfigError(f"{path} not found: write it, or point --baseline at the schema file")
    problems: list[Problem] = []
    file = read_sql_file(path, problems)
    if file is None:
        raise ValidationError(problems)
    file = _without_transaction_control(file, engine.dialect)
    try:
        Runner(engine).execute_file(file, atomic=False)
    except StatementError as exc:
        raise exc.in_scratch() from None
    return engine.introspect()


def _without_transaction_control(file: SqlFile, dialect: Dialect) -> SqlFile:
    """The file without BEGIN/COMMIT (as `sqlite3 .dump` writes them): they would end the
    load's own transaction, and in a scratch database they change nothing else. They are
    blanked, not removed, so that errors still point at the right line."""
    text = file.text
    for st in split(text, dialect):
        if TRANSACTION_CONTROL.match(st.text):
            end = st.offset + len(st.text)
            text = text[: st.offset] + _NOT_NEWLINE.sub(" ", text[st.offset : end]) + text[end:]
    return replace(file, text=text)
