"""The read-only side of the library API: status, validate, changes.

Nothing here takes the run lock or writes: they compare the folder with the version
rows, and are what `sqlmig status` runs, so this imports only what status needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmig.errors import Problem
from sqlmig.models import RowStatus, State, Status, StoredSql
from sqlmig.planner import foreign_set, problems, statuses

if TYPE_CHECKING:
    from sqlmig.migrator import Migrator


def status(m: Migrator) -> Status:
    from sqlmig.seeding import load_seeds

    migrations = m.migrations()
    store = m.store()
    seeds = load_seeds(m.settings.seeds_dir, store.seeds(), m.settings.url.dialect)
    rows = store.applied()
    files = {mig.version: mig for mig in migrations}
    invalid = {  # asked only about dirty versions: none, in the normal case
        r.version: m.engine().invalid_indexes(files[r.version])
        for r in rows
        if r.status is RowStatus.DIRTY and r.version in files
    }
    entries = statuses(migrations, rows, invalid)
    masked = m.settings.url.masked
    foreign = foreign_set(entries, m.settings.dir, masked)
    return Status(entries, masked, seeds, str(foreign) if foreign else None)


def validate(m: Migrator, status: Status) -> list[Problem]:
    from sqlmig import variables

    files = [f for e in status.entries if e.migration for f in (e.migration.up, e.migration.down)]
    names = variables.declared(m.settings)
    unknown = variables.problems(files, m.settings.url.dialect, names)
    foreign = foreign_set(status.entries, m.settings.dir, status.database)
    found = problems(status.entries, allow_out_of_order=False, include_dirty=True)
    return ([foreign] if foreign else []) + found + unknown


def changes(m: Migrator, status: Status) -> dict[int, list[str]]:
    from sqlmig.storedsql import differences

    edited = [e for e in status.entries if e.state in (State.CHANGED, State.DOWN_CHANGED)]
    stored = m.store().stored_sql([e.version for e in edited])
    limit = m.settings.stored_sql_limit
    found = {e.version: differences(e, stored.get(e.version, StoredSql()), limit) for e in edited}
    return {v: lines for v, lines in found.items() if lines}
