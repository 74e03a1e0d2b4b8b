"""The SQL a version row keeps of its files as applied: what is kept, how it differs from
the files now, and migrations made from it for a checkout that no longer has the files.

No database here: the store reads and writes the text (Store.stored_sql), this module
only works with it (tests/test_storedsql.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlmig.models import AppliedRow, Migration, MigrationStatus, SqlFile, State, StoredSql

DEFAULT_LIMIT = 1024 * 1024  # bytes: the stored_sql_limit setting's default
# The folder a stored file is shown in: no real path, so that no one takes it for a file.
STORED = Path("<database>")
NOT_KEPT = (
    "the SQL as applied is not kept in the database (the file was larger than "
    "stored_sql_limit, or it was applied before sqlmig kept it): only its checksum is"
)


def kept_text(file: SqlFile, limit: int) -> str | None:
    """The text a new version row keeps of ``file``; None when it is larger than
    ``limit`` bytes (then only its checksum is kept)."""
    size = file.path.stat().st_size if file.streamed else len(file.text.encode("utf-8"))
    if size > limit:
        return None
    return file.full_text() if file.streamed else file.text


def kept(m: Migration, limit: int) -> StoredSql:
    return StoredSql(kept_text(m.up, limit), kept_text(m.down, limit))


def is_stored(file: SqlFile) -> bool:
    """Whether ``file`` was made from a version row's SQL rather than read from disk."""
    return file.path.parts[:1] == STORED.parts


def differences(e: MigrationStatus, stored: StoredSql, limit: int) -> list[str]:
    """A unified diff, as lines, of each file of a changed entry against the SQL it was
    applied with; where that is not kept, a line saying so instead."""
    if e.state not in (State.CHANGED, State.DOWN_CHANGED) or not (e.migration and e.row):
        return []
    import difflib

    m, r = e.migration, e.row
    out: list[str] = []
    pairs = ((m.up, r.checksum, stored.up), (m.down, r.down_checksum, stored.down))
    for file, recorded, before in pairs:
        if recorded is None or recorded == file.checksum:
            continue
        if before is None:
            out.append(f"{file.path}: {NOT_KEPT}")
            continue
        now = kept_text(file, limit)
        if now is None:
            out.append(f"{file.path}: larger than stored_sql_limit now, so no diff is shown")
            continue
        out += difflib.unified_diff(
            before.splitlines(),
            now.splitlines(),
            f"{file.path} (as applied)",
            str(file.path),
            lineterm="",
        )
    return out


def from_database(
    migrations: list[Migration], rows: list[AppliedRow], stored: Mapping[int, StoredSql]
) -> list[Migration]:
    """The migrations as the database keeps them: every applied version whose down SQL
    is kept is made from it (a file of the same version, if any, set aside); the others
    stay as the files have them, or missing (the planner then refuses, saying so)."""
    from sqlmig.discovery import checksum, parse_directives

    made: dict[int, Migration] = {}
    for r in rows:
        sql = stored.get(r.version, StoredSql())
        if sql.down is None:
            continue
        name = f"{r.version:04d}_{r.name}.sql"
        down_path = STORED / "down" / name
        d = parse_directives(sql.down, down_path, [])
        up = SqlFile(STORED / "up" / name, sql.up or "", r.checksum)
        down = SqlFile(
            down_path, sql.down, checksum(sql.down), d.no_transaction, d.irreversible, empty=d.empty
        )
        made[r.version] = Migration(r.version, r.name, up, down)
    kept_files = [m for m in migrations if m.version not in made]
    return sorted([*kept_files, *made.values()], key=lambda m: m.version)


def missing_hint(entries: list[MigrationStatus], stored: Mapping[int, StoredSql]) -> str:
    """What a rollback refused for versions whose files are missing can do instead."""
    missing = [e.version for e in entries if e.state is State.MISSING]
    if not missing:
        return ""
    without = [v for v in missing if stored.get(v, StoredSql()).down is None]
    if not without:
        return (
            "Their down SQL is kept in the database: `sqlmig rollback --from-database` "
            "undoes them with it, without the files."
        )
    shown = ", ".join(map(str, without))
    return (
        f"The database keeps no down SQL for version(s) {shown}: run the rollback from "
        "a checkout that has their files, or restore a backup taken before them."
    )
