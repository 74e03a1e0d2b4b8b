"""PostgreSQL through psycopg 3: one autocommit session, explicit BEGIN/COMMIT per step.

A session-level advisory lock serialises runners for the whole run (pglock.py); if the
process dies, the server drops the session and the lock with it. What psycopg's errors
mean is in pgerrors.py, backups and restores in pgrestore.py.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors

from sqlmig.config import Dialect, Settings
from sqlmig.engines import pglock
from sqlmig.engines.base import DbFailure, Statement, statement_runs, transaction
from sqlmig.engines.pgerrors import (
    ended_session,
    first_line,
    locate,
    refused,
    script,
    statement_failure,
)
from sqlmig.engines.pgwatch import Watch
from sqlmig.errors import (
    BackendError,
    ConfigError,
    ConnectError,
    ConnectionLost,
    LockTimeout,
)
from sqlmig.models import BackupSource, Migration
from sqlmig.progress import Activity
from sqlmig.schema import Schema

T = TypeVar("T")
# DROP DATABASE ... WITH (FORCE) for scratch databases, and the catalog columns diff reads.
MIN_SERVER = 13
CatalogReader = Callable[[psycopg.Connection[Any], set[tuple[str, str | None]]], T]


class PostgresEngine:
    dialect: Dialect = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.url
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self.tenant = settings.target.tenant if settings.target else None
        self.schema = self.tenant or settings.schema or ""
        self._user = ""
        self._opened_on = 0  # the server session (backend pid) the connection opened on
        self._cancelled = False  # cancel() was called: run no more migration statements
        self._running = False  # a migration statement is on the server now
        self._watch: Watch | None = None  # for the progress report, from another thread
        self._locking: float | None = None  # polling for the run lock, for this long at most

    @property
    def conn(self) -> psycopg.Connection[tuple[Any, ...]]:
        assert self._conn is not None, "engine used before open()"
        return self._conn

    def open(self, *, write: bool) -> None:
        try:
            self._conn = psycopg.connect(
                self.url.conninfo, autocommit=True, application_name="sqlmig", connect_timeout=10
            )
            if self.tenant is not None:
                self._pin_search_path(self.tenant)
            # Where sqlmig's table already is, if on the search_path; else the current
            # schema. A migration may create a schema that comes first on the path: the
            # table must still be found where the first run put it.
            schema, self._user, self._opened_on = self.conn.execute(
                "SELECT coalesce((SELECT s.name FROM unnest(current_schemas(false))"
                " WITH ORDINALITY AS s(name, i) WHERE to_regclass(quote_ident(s.name) || '.' ||"
                " quote_ident(%s)) IS NOT NULL ORDER BY s.i LIMIT 1), current_schema()),"
                " current_user, pg_backend_pid()",
                (self.settings.table,),
            ).fetchone()  # type: ignore[misc]
        except psycopg.Error as exc:
            self.close()
            message = f"cannot connect to {self.url.masked}: {first_line(exc)}"
            raise ConnectError(self.url.redact(message), retryable=not refused(message)) from exc
        if self.conn.info.server_version < MIN_SERVER * 10000:
            found = self.conn.info.server_version // 10000
            self.close()
            raise ConnectError(
                f"{self.url.masked} runs PostgreSQL {found}; sqlmig supports PostgreSQL "
                f"{MIN_SERVER} and newer"
            )
        self._watch = Watch(self.url.conninfo, self._opened_on)
        if not self.schema:
            if schema is None:
                raise ConnectError(
                    "no current schema (empty search_path): set --schema or `schema` in sqlmig.toml"
                )
            self.schema = schema

    def _pin_search_path(self, schema: str) -> None:
        """A tenant's run: its unqualified names are its schema's, whoever connects."""
        self.conn.execute(
            "SELECT pg_catalog.set_config('search_path', pg_catalog.quote_ident(%s), false)",
            (schema,),
        )

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def activity(self) -> Activity | None:
        """From the progress thread: the migration lock's holder while the run waits for
        it, else the server's progress with the running statement or its lock wait,
        seen from a connection of its own (pgwatch.py)."""
        watch, timeout = self._watch, self._locking
        if watch is None:
            return None
        if timeout is not None:
            where = f"{self.schema}.{self.settings.table}"
            return watch.migration_lock(self.lock_key, where, timeout)
        return watch.session(self.settings.lock_timeout)

    def cancel(self) -> None:
        self._cancelled = True
        conn = self._conn
        if conn is not None and self._running:
            # A cancel request on a connection of its own, as psql's Ctrl-C: the statement
            # fails with query_canceled, which execute() turns into KeyboardInterrupt.
            with contextlib.suppress(psycopg.Error):
                conn.cancel_safe(timeout=10)

    def exists(self) -> bool:
        return True  # connected to it

    def ping(self) -> None:
        self.query("SELECT 1")

    def db_user(self) -> str:
        return str(self._user)

    def server_major(self) -> int | None:
        return int(self.conn.info.server_version // 10000)

    @property
    def home(self) -> str | None:
        return self.schema

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Bookkeeping queries: failures here are sqlmig's problem, not a migration's."""
        with self._bookkeeping_errors():
            cur = self.conn.execute(sql, params or None)  # no params: no % parsing
            return cur.fetchall() if cur.description else []

    def write_batch(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        # One round trip for the version row and its history event: with a few statements
        # per migration, a round trip saved is a measurable share of the whole run.
        if not psycopg.Pipeline.is_supported():  # libpq before 14
            for sql, params in statements:
                self.query(sql, params)
            return
        with self._bookkeeping_errors(), self.conn.pipeline():
            for sql, run in statement_runs(statements):
                if len(run) == 1:
                    self.conn.execute(sql, run[0])
                else:  # one statement prepared for all of them, still in this pipeline
                    self.conn.cursor().executemany(sql, run)

    @contextlib.contextmanager
    def _bookkeeping_errors(self) -> Iterator[None]:
        try:
            yield
        except pg_errors.LockNotAvailable as exc:
            raise LockTimeout(
                f"sqlmig's own tables: {first_line(exc)} (waited --lock-timeout "
                f"{self.settings.lock_timeout:g}s: another session holds a lock on "
                f"{self.schema}.{self.settings.table} or its history table; retry when it "
                "is done, or raise --lock-timeout)"
            ) from exc
        except psycopg.Error as exc:
            if self._session_ended(exc):
                raise self._lost(exc) from exc
            if isinstance(exc, pg_errors.QueryCanceled) and self._cancelled:
                raise KeyboardInterrupt from exc
            raise BackendError(
                self.url.redact(f"{self.url.masked}: sqlmig's own tables: {first_line(exc)}")
            ) from exc

    def _session_ended(self, exc: psycopg.Error) -> bool:
        return self.conn.closed or ended_session(exc)

    def _lost(self, exc: psycopg.Error) -> ConnectionLost:
        return ConnectionLost(
            self.url.redact(f"lost the connection to {self.url.masked}: {first_line(exc)}")
        )

    @property
    def lock_key(self) -> int:
        digest = hashlib.sha256(f"sqlmig:{self.schema}.{self.settings.table}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def lock(self, timeout: float) -> None:
        """Poll for the run lock (pglock.py says why), after making sure a session lock
        means something on this connection."""
        direct = self.conn.info.backend_pid == self._opened_on  # nothing in between
        with self._bookkeeping_errors():
            if not direct and pglock.shares_sessions(self.conn, self.url.conninfo, self._opened_on):
                raise ConfigError(pglock.pooler_refusal(self.url.masked))
            self.conn.execute(f"SET lock_timeout = {int(timeout * 1000)}")
            self._locking = timeout
            try:
                pid = pglock.poll(self.conn, self.lock_key, timeout, lambda: self._cancelled)
            finally:
                self._locking = None
        if pid is None:
            raise self._lock_error(timeout)
        if pid != self._opened_on:  # the lock went to another session than ours
            self.unlock()
            raise ConfigError(pglock.pooler_refusal(self.url.masked))
        # Set after the lock: the wait for another runner must not count as a slow statement.
        if self.settings.statement_timeout:
            self.query(f"SET statement_timeout = {int(self.settings.statement_timeout * 1000)}")

    def _lock_error(self, timeout: float) -> LockTimeout:
        holder = ""
        with contextlib.suppress(psycopg.Error):  # the message is still right without it
            holder = pglock.holder(self.conn, self.lock_key)
        return LockTimeout(
            f"could not get the migration lock within {timeout:g}s: another "
            f"sqlmig run is migrating {self.schema}.{self.settings.table}.{holder} Wait for it to "
            "finish, or raise --lock-timeout."
        )

    def unlock(self) -> None:
        # Best effort: a session that is gone took its lock with it, and one that is
        # still here releases it when the engine closes.
        if self._conn is not None and not self._conn.closed:
            with contextlib.suppress(psycopg.Error):
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (self.lock_key,))

    def transaction(self) -> AbstractContextManager[None]:
        return transaction(self._begin, lambda: self.execute("COMMIT"), self._rollback)

    def _begin(self) -> None:
        self.query("BEGIN")

    def _rollback(self) -> None:
        if (
            self._conn is not None
            and not self._conn.closed
            and self._conn.info.transaction_status != 0
        ):
            # A session that breaks now rolls back on the server all the same; the
            # error that got us here is the one to report.
            with contextlib.suppress(psycopg.OperationalError):
                self.conn.execute("ROLLBACK")

    def change_token(self) -> object:
        return None  # the advisory lock, held for the whole run, keeps other runners out

    def execute(self, sql: str) -> None:
        self._running = True  # before the check: cancel() sees one or the other
        try:
            if self._cancelled:
                raise KeyboardInterrupt
            self._execute(sql)
        finally:
            self._running = False

    def _execute(self, sql: str) -> None:
        try:
            self.conn.execute(sql)
        except pg_errors.QueryCanceled as exc:
            if self._cancelled:
                raise KeyboardInterrupt from exc
            raise statement_failure(exc, self.settings.lock_timeout) from exc
        except psycopg.Error as exc:
            # A lock wait that timed out is the statement's failure, never a lost session.
            if not isinstance(exc, pg_errors.LockNotAvailable) and self._session_ended(exc):
                raise self._lost(exc) from exc
            raise statement_failure(exc, self.settings.lock_timeout) from exc

    def invalid_indexes(self, m: Migration) -> list[str]:
        """The INVALID indexes the no-transaction files of ``m`` left (pgindexes.py)."""
        from sqlmig.engines import pgindexes

        scripts = [f.full_text() for f in (m.up, m.down) if f.no_transaction]
        tables, names = pgindexes.concurrent_builds(scripts)
        if not tables:
            return []
        return [r[0] for r in self.query(pgindexes.INVALID_LEFT, (tables, names))]

    def execute_many(self, statements: Sequence[str]) -> None:
        # Without parameters psycopg uses the simple query protocol: many statements, one
        # round trip; pgerrors.locate says which of them failed.
        try:
            self.execute(script(statements))
        except DbFailure as exc:
            locate(exc, statements)
            raise

    @property
    def label(self) -> str:
        return str(self.conn.info.dbname)

    def introspect(self, *, home_only: bool = False) -> Schema:
        from functools import partial

        from sqlmig.schema.postgres import introspect

        if not (home_only or self.tenant):
            return self._read_catalogs(introspect)
        home = self.tenant or self.query("SELECT current_schema()")[0][0]
        if home is None:
            raise BackendError(f"{self.url.masked}: no current schema to read (empty search_path)")
        return self._read_catalogs(partial(introspect, home=home))

    def dump_schema(self) -> str:
        from sqlmig.schema.pgdump import dump

        return self._read_catalogs(dump)

    def _read_catalogs(self, reader: CatalogReader[T]) -> T:
        s = self.settings
        own: set[tuple[str, str | None]] = {(self.schema, t) for t in s.own_tables}
        if s.schema and s.schema != "public":  # a schema set aside for sqlmig's tables
            own.add((s.schema, None))
        try:
            return reader(self.conn, own)
        except psycopg.Error as exc:
            raise BackendError(
                self.url.redact(f"reading the catalogs failed: {first_line(exc)}")
            ) from exc

    def source(self) -> BackupSource:
        try:
            row = self.conn.execute("SELECT system_identifier FROM pg_control_system()")
            cluster = str(row.fetchone()[0])  # type: ignore[index]
        except psycopg.Error:
            cluster = None  # revoked on some hosted servers: the name must do
        return BackupSource("postgres", str(self.conn.info.dbname), cluster)

    def backup_to(self, dest: Path) -> BackupSource:
        """pg_dump in custom format of sqlmig's schemas (engines/pgrestore.py), with their
        privileges; refuses a pg_dump older than the server."""
        from sqlmig.engines import pgrestore

        return pgrestore.backup(self, dest)

    def restore_from(
        self, src: Path, manifest: BackupSource | None, prepare: Callable[[], list[Statement]]
    ) -> list[str]:
        """Put back what the dump holds of sqlmig's schemas, in one transaction, and
        leave the rest alone (engines/pgrestore.py)."""
        from sqlmig.engines import pgrestore

        return pgrestore.restore(self, src, manifest, prepare)
