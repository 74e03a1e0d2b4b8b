"""schema.sql's model for a comparison: from the baseline cache when it holds an entry
for everything the load depends on, else built by a scratch load, and then kept.

Only the baseline side is cached: the live database is read every time, so drift is
always found and reported object by object, as without the cache.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmig.config import Settings
from sqlmig.schema import Baseline, Findings
from sqlmig.schema.cache import Cache, folder, local_key

if TYPE_CHECKING:
    import psycopg

    from sqlmig.engines.base import Engine
    from sqlmig.schema.pgkey import Query
    from sqlmig.schema.scratch import ScratchDb

# A file without this word creates and updates no extension: what other versions the
# server could install does not matter to it, only the default ones (pgkey.FACTS).
_EXTENSION = re.compile(rb"extension", re.IGNORECASE)


def drift(
    settings: Settings,
    engine: Engine,
    path: Path,
    scratch_url: str | None,
    *,
    home_only: bool = False,
) -> Findings:
    """The differences between the database ``engine`` is connected to and ``path``; with
    ``home_only``, path's model is of the schema its unqualified names land in alone (a
    tenant's live schema is read as if it were that one)."""
    from concurrent.futures import ThreadPoolExecutor

    # A tenant's session has its search_path pinned to the tenant: not what a scratch
    # session gets, so its facts are read on a connection of its own.
    told = None if home_only else engine
    source = _Source(settings, path, scratch_url, told, home_only=home_only)
    key = source.lookup()  # first: the live read then holds the connection
    # The live catalogs are read meanwhile, while the cached model is read (JSON parsing
    # while the server works: 5% off a cached PostgreSQL diff, 11% off SQLite's) or the
    # scratch database loads (PostgreSQL runs the two on different cores).
    with ThreadPoolExecutor(1) as pool:
        live = pool.submit(engine.introspect)
        base = source.read(key) or source.build()
        return base.drift(live.result(), "database", path.name)


def model(settings: Settings, path: Path, scratch_url: str | None) -> Baseline:
    """``path``'s model, for `sqlmig test` to compare the migrations' result with."""
    source = _Source(settings, path, scratch_url, None, home_only=False)
    return source.read(source.lookup()) or source.build()


class _Source:
    def __init__(
        self,
        settings: Settings,
        path: Path,
        scratch_url: str | None,
        live: Engine | None,
        *,
        home_only: bool,
    ) -> None:
        self.settings = settings
        self.home_only = home_only
        self.path = path
        self.scratch_url = scratch_url
        self.live = live  # its connection tells the facts when it is the scratch server's
        self.dialect = settings.url.dialect
        where = folder(settings)
        self.cache = Cache(where) if where is not None else None
        self.key: dict[str, Any] = {}
        self.versions = False  # whether the key holds every extension version (pgkey)
        if self.cache is not None:
            try:
                source = path.read_bytes()
            except OSError:  # not cached, and the load says what is wrong with it
                self.cache = None
                return
            self.key = local_key(self.dialect, path.name, source, settings)
            if home_only:  # another model of the same file: its default schema's objects
                self.key["home_only"] = True
            self.versions = self.dialect == "postgres" and bool(_EXTENSION.search(source))

    def lookup(self) -> dict[str, Any] | None:
        """The key a cached model of the file has now; None with the cache off."""
        return self._key(self._facts()) if self.cache is not None else None

    def read(self, key: dict[str, Any] | None) -> Baseline | None:
        found = self.cache.read(key) if self.cache is not None and key is not None else None
        return Baseline(found[0], found[1]) if found else None

    def build(self) -> Baseline:
        from sqlmig.schema.scratch import load_baseline, scratch

        with scratch(self.settings, self.scratch_url) as db:
            before = self._server(db, db.facts) if self.cache and db.roles else None
            base = load_baseline(db, self.path, home_only=self.home_only)
            if self.cache is not None:
                self._keep(db, before, base)
        return base

    def _keep(self, db: ScratchDb, before: dict[str, Any] | None, base: Baseline) -> None:
        """Store ``base`` under the facts its load saw, unless they changed while it ran
        or it relied on a role another load had made, and drops again."""
        assert self.cache is not None
        if db.roles is not None and (db.roles.saw_marked or self._server(db) != before):
            return
        note = self.cache.write(self._key(before), base.schema, base.kept)
        if note is not None:
            base.notes.append(note)

    def _key(self, server: dict[str, Any] | None) -> dict[str, Any]:
        if self.dialect == "sqlite":
            return self.key | {"sqlite": sqlite_library()}
        import psycopg

        return self.key | {"psycopg": psycopg.__version__, "server": server}

    def _facts(self) -> dict[str, Any] | None:
        """What the scratch server says now, read as a load would read it."""
        if self.dialect == "sqlite":
            return None
        from sqlmig.schema import pgkey

        if self.scratch_url is None and self.live is not None:  # the same server and role
            return self._with_versions(pgkey.facts(self.live.query), self.live.query)
        from sqlmig.config import parse_url
        from sqlmig.schema.scratch import connect_admin, server_facts

        server_url = self.scratch_url or self.settings.database_url
        with connect_admin(server_url) as admin:
            found = server_facts(admin, parse_url(server_url))
            return self._with_versions(found, _query(admin))

    def _server(self, db: ScratchDb, read: dict[str, Any] | None = None) -> dict[str, Any]:
        """The facts of ``db``'s server (``read`` already, else now), versions included."""
        from sqlmig.schema.scratch import server_facts

        assert db.roles is not None and db.url is not None
        admin = db.roles.admin
        return self._with_versions(read or server_facts(admin, db.url), _query(admin))

    def _with_versions(self, found: dict[str, Any], query: Query) -> dict[str, Any]:
        if not self.versions:
            return found
        from sqlmig.schema import pgkey

        return found | {"versions": pgkey.versions(query)}


def sqlite_library() -> dict[str, Any]:
    """The SQLite that loads the file: its version and what it was built with (JSON1,
    FTS5, RTREE: whether a virtual table's module is there)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        options = [row[0] for row in conn.execute("PRAGMA compile_options")]
    return {"version": sqlite3.sqlite_version, "options": options}


def _query(conn: psycopg.Connection[Any]) -> Query:
    return lambda sql, params: conn.execute(sql, params).fetchall()
