"""sqlmig's own tables (versions, history, seeds, meta), read and written through any Driver.

Composed over the driver rather than mixed into it: the SQL is the same on both engines
(bookkeeping.py), and the driver only runs it.

The tables carry a format number (in the meta table; none there means format 1, the
tables before it existed). A newer sqlmig upgrades older tables in place, in one
transaction under the run lock; an older sqlmig refuses tables in a newer format rather
than misread them, which matters in a rolling deploy, where both run at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmig._version import __version__
from sqlmig.config import Settings
from sqlmig.engines.base import Driver
from sqlmig.engines.bookkeeping import (
    SQL_COLUMNS,
    BookkeepingSql,
    RowChange,
    Write,
    bookkeeping_sql,
    column_probe,
    history_params,
    insert_params,
    meta_sql,
    qualify,
    quote_ident,
    restore_statements,
    schema_probe,
    table_probe,
    update_params,
)
from sqlmig.errors import FormatError
from sqlmig.models import (
    AppliedRow,
    Direction,
    EventKind,
    HistoryEvent,
    RowKind,
    RowStatus,
    StoredSql,
)

FORMAT = 4  # the format this sqlmig writes; see _UPGRADES for what each one added


class Store:
    """The version, history, seeds and meta tables of one database."""

    def __init__(self, driver: Driver, settings: Settings) -> None:
        self.driver = driver
        self.url = settings.url
        self.names = (settings.table, settings.history_table, settings.seeds_table)
        home = driver.home
        self.qualified = tuple(qualify(home, n) for n in self.names)
        self.sql: BookkeepingSql = bookkeeping_sql(driver.dialect, *self.qualified)
        self.meta = meta_sql(driver.dialect, qualify(home, settings.meta_table))
        self._probes = [table_probe(driver.dialect, home, n) for n in settings.own_tables]
        self._create_home = f"CREATE SCHEMA IF NOT EXISTS {quote_ident(home)}" if home else None
        self._checked = False
        self._format: int | None = None  # as found by the first read or write

    def _exists(self, which: int) -> bool:
        return bool(self.driver.query(*self._probes[which]))

    def format(self) -> int | None:
        """The format sqlmig's tables are in; None when there are none yet."""
        if self._exists(3):
            rows = self.driver.query(self.meta.select_format)
            return int(rows[0][0]) if rows else 1
        return 1 if self._exists(0) else None

    def _readable(self) -> None:
        """Refuse tables a newer sqlmig wrote: read as this one's, they could mislead."""
        if self._checked:
            return
        found = self.format()
        if found is not None and found > FORMAT:
            raise FormatError(
                f"sqlmig's tables in {self.url.masked} are in format {found}, written by a newer "
                f"sqlmig; this is sqlmig {__version__}, which knows format {FORMAT} and older. "
                "Upgrade sqlmig where this runs (pip install -U sqlmig); nothing was changed."
            )
        self._format = found
        self._checked = True

    def ensure_tables(self) -> None:
        """Create the tables, or upgrade them to this sqlmig's format (call under the run
        lock; safe when SQLite runners, which share no lock, race to do it)."""
        found = self.format()
        if found == FORMAT:
            self._format, self._checked = FORMAT, True
            return
        self._readable()
        self._format = FORMAT  # once this returns; if it raises, the run ends
        # CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema
        # is there, which a role that only owns its schema (Supabase's) does not have.
        home = self.driver.home
        if self._create_home and not self.driver.query(*schema_probe(home)):
            self.driver.query(self._create_home)
        if found is None:
            for create in self._creates():
                self.driver.query(create)
            self.driver.query(self.meta.set_format, (str(FORMAT),))
            return
        with self.driver.transaction():
            now = self.format() or 1  # another SQLite runner may have upgraded meanwhile
            for create in self._creates()[:3]:  # tables old versions did not make yet
                self.driver.query(create)
            for step in range(now, FORMAT):
                for sql in _UPGRADES[step](self):
                    self.driver.query(sql)
            self.driver.query(self.meta.set_format, (str(FORMAT),))

    def _creates(self) -> tuple[str, str, str, str]:
        s = self.sql
        return s.create_versions, s.create_history, s.create_seeds, self.meta.create

    def applied(self) -> list[AppliedRow]:
        """All version rows, ordered by version; [] when the table does not exist yet."""
        self._readable()
        if not self._exists(0):
            return []
        return [_row(r) for r in self.driver.query(self.sql.select_rows)]

    def record_statements(
        self, change: RowChange, row: AppliedRow, event: HistoryEvent, stored: StoredSql
    ) -> tuple[Write, Write]:
        """A version-row change and the history event that explains it, to be written
        together (``write``); ``stored``: the SQL a new row keeps (an update or delete
        leaves it be)."""
        first = {
            "insert": (self.sql.insert_row, insert_params(row, stored)),
            "update": (self.sql.update_row, update_params(row)),
            "delete": (self.sql.delete_row, (row.version,)),
        }[change]
        return first, (self.sql.insert_history, history_params(event))

    def write(self, statements: list[Write]) -> None:
        self.driver.write_batch(statements)

    def insert_row(self, row: AppliedRow, stored: StoredSql) -> None:
        self.driver.query(self.sql.insert_row, insert_params(row, stored))

    def stored_sql(self, versions: list[int]) -> dict[int, StoredSql]:
        """The SQL kept with these versions' rows (none in tables before format 4)."""
        self._readable()
        if not versions or not self._exists(0) or (self._format or FORMAT) < 4:
            return {}
        import json

        rows = self.driver.query(self.sql.select_stored, (json.dumps(versions),))
        return {int(v): StoredSql(up, down) for v, up, down in rows}

    def update_stored(self, version: int, stored: StoredSql) -> None:
        self.driver.query(self.sql.update_stored, (stored.up, stored.down, version))

    def update_row(self, row: AppliedRow) -> None:
        self.driver.query(self.sql.update_row, update_params(row))

    def delete_row(self, version: int) -> None:
        self.driver.query(self.sql.delete_row, (version,))

    def insert_history(self, event: HistoryEvent) -> None:
        self.driver.query(self.sql.insert_history, history_params(event))

    def history(
        self, limit: int | None, since: str | None = None, failed: bool = False
    ) -> list[HistoryEvent]:
        """Events newest first: at most ``limit``, at or after ``since`` (ISO UTC)."""
        self._readable()
        if not self._exists(1):
            return []
        before_3 = self._format is not None and self._format < 3
        sql, params = self.sql.history_query(limit, since, failed, before_3=before_3)
        return [_event(r) for r in self.driver.query(sql, params)]

    def after_restore(
        self, kept: list[HistoryEvent], event: HistoryEvent
    ) -> list[tuple[str, tuple[object, ...]]]:
        """The statements that end a restore, in its transaction: sqlmig's tables in this
        sqlmig's format (the backup may be from before a table or column existed), then
        the history as it was before the restore kept whole, and ``event``
        (bookkeeping.restore_statements)."""
        creates = (self.sql.create_versions, self.sql.create_history, self.sql.create_seeds)
        upgrade: list[tuple[str, tuple[object, ...]]] = [
            (self.meta.create, ()),
            (self.sql.add_variables, ()),
            *((add, ()) for add in self.sql.add_stored_sql),
            (self.meta.raise_format, (str(FORMAT),)),
        ]
        versions, history_table = self.qualified[0], self.qualified[1]
        history = restore_statements(self.driver.dialect, versions, history_table, kept, event)
        return [(sql, ()) for sql in creates] + upgrade + history

    def seeds(self) -> dict[str, str]:
        """Seed file name -> checksum of the version last applied."""
        self._readable()
        if not self._exists(2):
            return {}
        return dict(self.driver.query(self.sql.select_seeds))

    def record_seed(self, name: str, checksum: str, at: str, by: str, ms: int) -> None:
        self.driver.query(self.sql.upsert_seed, (name, checksum, at, by, ms))

    def event_counts(self) -> dict[str, int]:
        """Events of each kind in the whole history ('seed_fail' for failed seeds)."""
        self._readable()
        if not self._exists(1):
            return {}
        return {str(kind): int(n) for kind, n in self.driver.query(self.sql.history_counts)}

    def last_run(self) -> LastRun | None:
        """The newest run that ran files (migrations or seeds), all its events taken
        together; None before the first."""
        self._readable()
        if not self._exists(1):
            return None
        rows = self.driver.query(self.sql.last_run)
        if not rows:
            return None
        ends = [_aware(at) for at, _, _ in rows]
        # An event is written when its file is done: it began duration_ms before.
        starts = [
            end - timedelta(milliseconds=int(ms))
            for end, (_, ms, _) in zip(ends, rows, strict=True)
        ]
        return LastRun(
            seconds=(max(ends) - min(starts)).total_seconds(),
            ended_at=max(ends).timestamp(),
            success=all(bool(ok) for _, _, ok in rows),
        )

    def has_column(self, which: int, column: str) -> bool:
        """Whether table ``which`` (0: versions, 1: history) has ``column``: an upgrade
        from an older format may find it just created, by this sqlmig, with every column
        it knows."""
        probe = column_probe(self.driver.dialect, self.driver.home, self.names[which], column)
        return bool(self.driver.query(*probe))


# What each format added, as the statements that bring the one before up to it.
_UPGRADES = {
    1: lambda store: [store.meta.create],  # 2: the meta table with the format number
    # 3: the variables a history event's file used
    2: lambda store: [] if store.has_column(1, "variables") else [store.sql.add_variables],
    # 4: the up and down SQL as applied, kept with the version row
    3: lambda store: [
        add
        for add, column in zip(store.sql.add_stored_sql, SQL_COLUMNS, strict=True)
        if not store.has_column(0, column)
    ],
}


@dataclass(frozen=True, slots=True)
class LastRun:
    """The newest run for monitoring: from the start of its first file to the end of
    its last, when that ended (Unix time), and whether every file in it succeeded."""

    seconds: float
    ended_at: float
    success: bool


def _aware(value: Any) -> datetime:
    """A history time as an aware datetime: PostgreSQL's come as one, SQLite's as ISO text."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _iso(value: Any) -> str:
    """PostgreSQL returns timestamps as datetimes, SQLite as the ISO text stored."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _row(r: tuple[Any, ...]) -> AppliedRow:
    values = list(r)
    values[4], values[5], values[6] = RowStatus(values[4]), RowKind(values[5]), _iso(values[6])
    return AppliedRow(*values)


def _event(r: tuple[Any, ...]) -> HistoryEvent:
    values = list(r)
    values[0] = EventKind(values[0])
    values[4] = bool(values[4])  # SQLite stores 0/1
    values[6] = Direction(values[6]) if values[6] is not None else None
    values[10] = _iso(values[10])
    return HistoryEvent(*values)
