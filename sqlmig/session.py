"""What every Migrator operation stands on: one connection and its store, the run lock,
the context a run's rows are written in, the variables' values, the status a run ends with.

Migrator inherits this, so the operations in migrator.py and the modules it delegates
to (admin.py, moves.py, release.py, runs.py...) reach all of it as ``m.engine()``,
``m.locked()`` and so on, while the connection's lifetime is managed in one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlmig.config import Settings
from sqlmig.discovery import load_migrations
from sqlmig.engines import open_engine
from sqlmig.engines.base import Engine
from sqlmig.engines.store import Store
from sqlmig.errors import SqlmigError
from sqlmig.models import Migration, RunResult, SqlFile, Status
from sqlmig.planner import statuses
from sqlmig.records import RunContext, new_run_id

if TYPE_CHECKING:
    from sqlmig.progress import Activity, Progress
    from sqlmig.runner import Runner
    from sqlmig.variables import Bindings


class Session:
    """The database at ``settings.url``, connected on first use; one connection serves
    every call until ``close()``. ``run_id``: the id this run's history rows carry (a
    fleet gives every target the same one); None gives each call its own."""

    def __init__(self, settings: Settings, run_id: str | None) -> None:
        self.settings = settings
        self.run_id = run_id
        self._engine: Engine | None = None
        self._store: Store | None = None
        self._writable = False
        self._cancelled = False

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = self._store = None

    def cancel(self) -> None:
        """From another thread: stop the statement running now and run nothing more; the
        run unwinds as on Ctrl-C (the migration in progress rolled back and recorded as
        interrupted, KeyboardInterrupt raised in the thread that runs it)."""
        self._cancelled = True
        if self._engine is not None:
            self._engine.cancel()

    def migrations(self) -> list[Migration]:
        s = self.settings
        return load_migrations(s.dir, s.url.dialect, s.sqlite_journal_mode)

    def engine(self, *, write: bool = False) -> Engine:
        if self._engine is not None and (self._writable or not write):
            return self._engine
        self.close()
        if self._cancelled:
            raise KeyboardInterrupt
        self._engine = open_engine(self.settings, write=write)
        if self._cancelled:  # cancel() came while connecting, before it saw this engine
            self._engine.cancel()
        self._store = Store(self._engine, self.settings)
        self._writable = write
        return self._engine

    def store(self, *, write: bool = False) -> Store:
        self.engine(write=write)
        assert self._store is not None
        return self._store

    def target(self) -> str:
        """The database this migrator changes, URL masked, with its version table: for
        the first line of every command that writes. Connects, for writing."""
        engine = self.engine(write=True)
        home = f"{engine.home}." if engine.home else ""
        return f"{self.settings.url.masked} (table {home}{self.settings.table})"

    def activity(self) -> Activity | None:
        """From another thread, while a run is under way: what its connection waits for,
        or the server's progress with its statement (engine.activity); None if nothing."""
        engine = self._engine
        return engine.activity() if engine is not None else None

    @contextmanager
    def locked(
        self, first: Callable[[Engine, Store], None] | None = None
    ) -> Iterator[tuple[Engine, Store]]:
        """The writable engine and its store, holding the run lock, sqlmig's tables in
        place; ``first`` runs under the lock before they are made, seeing the database as
        it was."""
        engine = self.engine(write=True)
        store = self.store(write=True)
        engine.lock(self.settings.lock_timeout)
        try:
            if first is not None:
                first(engine, store)
            store.ensure_tables()
            yield engine, store
        except BaseException:
            # The error that ended the block is the one to report, not a failed unlock
            # (the connection it may have lost).
            with contextlib.suppress(SqlmigError):
                engine.unlock()
            raise
        engine.unlock()

    def runner(self, engine: Engine, store: Store, progress: Progress | None = None) -> Runner:
        from sqlmig.runner import Runner  # here: what only reads (status) never runs a step

        return Runner(engine, store, self.context(engine, self.bindings()), progress)

    def _with_status(
        self, result: RunResult, migrations: list[Migration], store: Store
    ) -> RunResult:
        """Attach the final status from the files already read: no second pass over them."""
        result.status = Status(statuses(migrations, store.applied()), self.settings.url.masked)
        return result

    def context(self, engine: Engine, variables: Bindings | None = None) -> RunContext:
        """Who writes this call's history rows, under which run id: the one given (a
        fleet's), else a new one for the call, shared by all its rows."""
        return RunContext(
            engine.db_user(),
            self.run_id or new_run_id(),
            variables=variables,
            sql_limit=self.settings.stored_sql_limit,
        )

    def bindings(self) -> Bindings | None:
        """The values the files' variables take on this database; None if none is declared."""
        from sqlmig.variables import Bindings, values

        engine = self.engine()
        found = values(self.settings, engine.home)
        return Bindings(found, engine.dialect) if found else None

    def check_variables(self, files: Iterable[SqlFile]) -> None:
        """Raise ConfigError, before connecting, if a file uses an undeclared variable."""
        from sqlmig import variables

        variables.check(files, self.settings.url.dialect, variables.declared(self.settings))

    def _sides(self) -> dict[str, Any]:
        """The folder and the (masked) database, for the planner's "wrong database?"."""
        return {"folder": self.settings.dir, "database": self.settings.url.masked}

    def _check_set(self, migrations: list[Migration]) -> None:
        self.check_variables(f for m in migrations for f in (m.up, m.down))
