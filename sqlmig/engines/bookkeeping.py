"""SQL for sqlmig's own tables, written once for both dialects.

The version table holds one row per applied version; the history table is append-only
and records every event, including failures that left no version row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, Literal

from sqlmig.config import Dialect
from sqlmig.models import AppliedRow, HistoryEvent, StoredSql
from sqlmig.records import RAN

RowChange = Literal["insert", "update", "delete"]
Write = tuple[str, tuple[object, ...]]  # one of sqlmig's own statements and its parameters
ROW_COLUMNS = tuple(f.name for f in fields(AppliedRow))
# Written with a new row only, read only when asked for (Store.stored_sql): a status of
# hundreds of versions reads none of that text, and an update never loses it.
SQL_COLUMNS = ("up_sql", "down_sql")
HISTORY_COLUMNS = tuple(f.name for f in fields(HistoryEvent) if f.name != "id")

_TYPES = {
    "sqlite": {
        "bigint": "INTEGER",
        "ts": "TEXT",
        "bool": "INTEGER",
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
    },
    "postgres": {
        "bigint": "BIGINT",
        "ts": "TIMESTAMPTZ",
        "bool": "BOOLEAN",
        "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    },
}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualify(home: str | None, name: str) -> str:
    """A table of sqlmig's, quoted, in ``home`` (a PostgreSQL schema) if there is one."""
    return f"{quote_ident(home)}.{quote_ident(name)}" if home else quote_ident(name)


def table_probe(dialect: Dialect, home: str | None, name: str) -> tuple[str, tuple[object, ...]]:
    """A query that returns a row if sqlmig's table ``name`` exists, and its parameters."""
    if dialect == "sqlite":
        return "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    return "SELECT 1 WHERE to_regclass(%s) IS NOT NULL", (qualify(home, name),)


def schema_probe(home: str | None) -> tuple[str, tuple[object, ...]]:
    """A query that returns a row if the PostgreSQL schema ``home`` exists."""
    return "SELECT 1 FROM pg_namespace WHERE nspname = %s", (home,)


def column_probe(
    dialect: Dialect, home: str | None, table: str, column: str
) -> tuple[str, tuple[object, ...]]:
    """A query that returns a row if sqlmig's table ``table`` has ``column``."""
    if dialect == "sqlite":
        return "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", (table, column)
    return (
        "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s "
        "AND NOT attisdropped",
        (qualify(home, table), column),
    )


@dataclass(frozen=True, slots=True)
class BookkeepingSql:
    create_versions: str
    create_history: str
    select_rows: str
    insert_row: str
    update_row: str
    delete_row: str
    insert_history: str
    select_history: str
    select_history_2: str  # the same from tables in format 2 or older, without variables
    create_seeds: str
    select_seeds: str
    upsert_seed: str
    history_counts: str
    last_run: str
    placeholder: str
    add_variables: str  # format 3: the history's variables column
    add_stored_sql: tuple[str, str]  # format 4: the version table's up_sql and down_sql
    select_stored: str  # version, up_sql, down_sql of the versions in a JSON list
    update_stored: str  # up_sql, down_sql of one version (accept)

    def history_query(
        self, limit: int | None, since: str | None, failed: bool, *, before_3: bool = False
    ) -> tuple[str, tuple[object, ...]]:
        """The history, newest first, optionally only failures and only since a time;
        ``before_3``: from tables of an older format, read as they are."""
        where, params = [], []
        if since is not None:
            where.append(f"at >= {self.placeholder}")
            params.append(since)
        if failed:
            where.append("NOT success")
        select = self.select_history_2 if before_3 else self.select_history
        head, order = select.split(" ORDER BY ")
        sql = head + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY " + order
        return sql + (f" LIMIT {int(limit)}" if limit else ""), tuple(params)


def bookkeeping_sql(dialect: Dialect, versions: str, history: str, seeds: str) -> BookkeepingSql:
    """Build the statements; the table names come already quoted (and schema-qualified)."""
    t = _TYPES[dialect]
    p = "?" if dialect == "sqlite" else "%s"
    create_versions = f"""CREATE TABLE IF NOT EXISTS {versions} (
    version        {t["bigint"]} PRIMARY KEY,
    name           TEXT NOT NULL,
    checksum       TEXT NOT NULL,
    down_checksum  TEXT,
    status         TEXT NOT NULL CHECK (status IN ('applied', 'dirty')),
    kind           TEXT NOT NULL CHECK (kind IN ('migration', 'baseline')),
    applied_at     {t["ts"]} NOT NULL,
    applied_by     TEXT NOT NULL,
    db_user        TEXT NOT NULL,
    execution_ms   {t["bigint"]},
    sqlmig_version TEXT NOT NULL,
    up_sql         TEXT,
    down_sql       TEXT
)"""
    create_history = _create_history(dialect, history)
    row_cols = ", ".join(ROW_COLUMNS)
    insert_cols = ", ".join(ROW_COLUMNS + SQL_COLUMNS)
    row_marks = ", ".join([p] * (len(ROW_COLUMNS) + len(SQL_COLUMNS)))
    hist_marks = ", ".join([p] * len(HISTORY_COLUMNS))
    hist_cols = ", ".join(HISTORY_COLUMNS)
    sets = ", ".join(f"{c} = {p}" for c in ROW_COLUMNS[1:])
    return BookkeepingSql(
        create_versions=create_versions,
        create_history=create_history,
        select_rows=f"SELECT {row_cols} FROM {versions} ORDER BY version",
        insert_row=f"INSERT INTO {versions} ({insert_cols}) VALUES ({row_marks})",
        update_row=f"UPDATE {versions} SET {sets} WHERE version = {p}",
        delete_row=f"DELETE FROM {versions} WHERE version = {p}",
        insert_history=(f"INSERT INTO {history} ({hist_cols}) VALUES ({hist_marks})"),
        select_history=f"SELECT {hist_cols}, id FROM {history} ORDER BY id DESC",
        select_history_2=(
            f"SELECT {', '.join(c if c != 'variables' else 'NULL' for c in HISTORY_COLUMNS)}, id "
            f"FROM {history} ORDER BY id DESC"
        ),
        create_seeds=f"""CREATE TABLE IF NOT EXISTS {seeds} (
    name           TEXT PRIMARY KEY,
    checksum       TEXT NOT NULL,
    applied_at     {t["ts"]} NOT NULL,
    applied_by     TEXT NOT NULL,
    execution_ms   {t["bigint"]} NOT NULL
)""",
        select_seeds=f"SELECT name, checksum FROM {seeds}",
        upsert_seed=(
            f"INSERT INTO {seeds} (name, checksum, applied_at, applied_by, execution_ms) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT (name) DO UPDATE SET "
            "checksum = excluded.checksum, applied_at = excluded.applied_at, "
            "applied_by = excluded.applied_by, execution_ms = excluded.execution_ms"
        ),
        # A failure with no version is a seed file's: counted apart from migrations.
        history_counts=(
            f"SELECT CASE WHEN event = 'fail' AND version IS NULL THEN 'seed_fail' ELSE event END,"
            f" count(*) FROM {history} GROUP BY 1"
        ),
        # The newest run that ran files: a later accept or resolve is bookkeeping, and
        # neither ends nor replaces the deploy that monitoring reports on.
        last_run=(
            f"SELECT at, duration_ms, success FROM {history} WHERE run_id = (SELECT run_id "
            f"FROM {history} WHERE event IN ({', '.join(repr(str(e)) for e in RAN)}) "
            "ORDER BY id DESC LIMIT 1) ORDER BY id"
        ),
        placeholder=p,
        add_variables=_add_column(dialect, history, "variables"),
        add_stored_sql=(
            _add_column(dialect, versions, SQL_COLUMNS[0]),
            _add_column(dialect, versions, SQL_COLUMNS[1]),
        ),
        select_stored=f"SELECT version, up_sql, down_sql FROM {versions} WHERE version IN "
        + (
            f"(SELECT value FROM json_each({p}))"
            if dialect == "sqlite"
            else f"(SELECT CAST(jsonb_array_elements_text(CAST({p} AS jsonb)) AS bigint))"
        ),
        update_stored=f"UPDATE {versions} SET up_sql = {p}, down_sql = {p} WHERE version = {p}",
    )


def _add_column(dialect: Dialect, table: str, column: str) -> str:
    # SQLite has no IF NOT EXISTS here: the store asks first (a restore's staging copy
    # takes a duplicate column as already done).
    exists = "IF NOT EXISTS " if dialect == "postgres" else ""
    return f"ALTER TABLE {table} ADD COLUMN {exists}{column} TEXT"


def _create_history(dialect: Dialect, history: str) -> str:
    t = _TYPES[dialect]
    return f"""CREATE TABLE IF NOT EXISTS {history} (
    id             {t["id"]},
    event          TEXT NOT NULL,
    version        {t["bigint"]},
    name           TEXT NOT NULL,
    checksum       TEXT,
    success        {t["bool"]} NOT NULL,
    duration_ms    {t["bigint"]} NOT NULL,
    direction      TEXT,
    error          TEXT,
    detail         TEXT,
    run_id         TEXT NOT NULL,
    at             {t["ts"]} NOT NULL,
    applied_by     TEXT NOT NULL,
    db_user        TEXT NOT NULL,
    sqlmig_version TEXT NOT NULL,
    variables      TEXT
)"""


# The enums in these rows are StrEnums: both drivers bind them as the strings they are.
# Not dataclasses.astuple, which deep-copies every field: attrgetter reads them all in C,
# a measurable share of what each migration's bookkeeping costs.
_ROW_VALUES: Any = attrgetter(*ROW_COLUMNS)
_HISTORY_VALUES: Any = attrgetter(*HISTORY_COLUMNS)


def row_params(row: AppliedRow) -> tuple[object, ...]:
    return tuple(_ROW_VALUES(row))


def insert_params(row: AppliedRow, stored: StoredSql) -> tuple[object, ...]:
    return (*row_params(row), stored.up, stored.down)


def update_params(row: AppliedRow) -> tuple[object, ...]:
    values = row_params(row)
    return (*values[1:], values[0])


def history_params(event: HistoryEvent) -> tuple[object, ...]:
    return tuple(_HISTORY_VALUES(event))


@dataclass(frozen=True, slots=True)
class MetaSql:
    """sqlmig's notes about its own tables: for now, the format they are in."""

    create: str
    select_format: str
    set_format: str
    raise_format: str  # set_format, unless the tables are in a newer format already


def meta_sql(dialect: Dialect, meta: str) -> MetaSql:
    p = "?" if dialect == "sqlite" else "%s"
    return MetaSql(
        create=f"CREATE TABLE IF NOT EXISTS {meta} (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        select_format=f"SELECT value FROM {meta} WHERE name = 'format'",
        set_format=(
            f"INSERT INTO {meta} (name, value) VALUES ('format', {p}) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        ),
        raise_format=(
            f"INSERT INTO {meta} AS old (name, value) VALUES ('format', {p}) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value "
            "WHERE CAST(old.value AS INTEGER) < CAST(excluded.value AS INTEGER)"
        ),
    )


def restore_statements(
    dialect: Dialect, versions: str, history: str, kept: list[HistoryEvent], event: HistoryEvent
) -> list[tuple[str, tuple[object, ...]]]:
    """What follows a restore in its transaction: the history rows of the database as it
    was (``kept``, oldest first) that the backup does not have, after the ones it has,
    then ``event``, whose version is the one restored to and whose detail, which says
    the version restored from, gains " to version N".

    A history row is known by its run, time, event, name and version: the same row in
    the backup and in the database agrees on all five.
    """
    p = "?" if dialect == "sqlite" else "%s"
    temp = qualify("temp" if dialect == "sqlite" else "pg_temp", "sqlmig_history_kept")
    cols = ", ".join(HISTORY_COLUMNS)
    out: list[tuple[str, tuple[object, ...]]] = [(_create_history(dialect, temp), ())]
    marks = "(" + ", ".join([p] * len(HISTORY_COLUMNS)) + ")"
    for start in range(0, len(kept), _ROWS_PER_INSERT):
        rows = kept[start : start + _ROWS_PER_INSERT]
        values = ", ".join([marks] * len(rows))
        params = tuple(v for e in rows for v in history_params(e))
        out.append((f"INSERT INTO {temp} ({cols}) VALUES {values}", params))
    same = " AND ".join(
        [f"h.{c} = k.{c}" for c in ("run_id", "at", "event", "name")]
        + ["coalesce(h.version, -1) = coalesce(k.version, -1)"]
    )
    out.append(
        (
            f"INSERT INTO {history} ({cols}) SELECT {', '.join(f'k.{c}' for c in HISTORY_COLUMNS)}"
            f" FROM {temp} k WHERE NOT EXISTS (SELECT 1 FROM {history} h WHERE {same})"
            " ORDER BY k.id",
            (),
        )
    )
    restored_to = f"coalesce((SELECT max(version) FROM {versions}), 0)"
    exprs = {
        "version": restored_to,
        "detail": f"{p} || ' to version ' || CAST({restored_to} AS TEXT)",
    }
    values = ", ".join(exprs.get(c, p) for c in HISTORY_COLUMNS)
    given = zip(HISTORY_COLUMNS, history_params(event), strict=True)
    params = tuple(v for c, v in given if c != "version")
    out.append((f"INSERT INTO {history} ({cols}) VALUES ({values})", params))
    out.append((f"DROP TABLE {temp}", ()))
    return out


# 14 columns a row: 50 rows stay under the 999 parameters an older SQLite allows.
_ROWS_PER_INSERT = 50
