"""Commands that change only sqlmig's own tables: baseline, accept, resolve.

Each is a planner rule (planner.plan_*) and one transaction of the store, under the
run lock, logged in the history.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlmig.models import EventKind, Migration, RowKind, RowStatus
from sqlmig.planner import (
    plan_accept,
    plan_baseline,
    plan_resolve,
    refuse_resolve_with_invalid,
)
from sqlmig.records import RunContext

if TYPE_CHECKING:
    from sqlmig.migrator import Migrator


def baseline(m: Migrator, version: int) -> list[Migration]:
    migrations = m.migrations()
    with m.locked() as (engine, store):
        chosen = plan_baseline(migrations, store.applied(), version)
        ctx = RunContext(engine.db_user())
        with engine.transaction():
            for mig in chosen:
                store.insert_row(ctx.row(mig, RowStatus.APPLIED, kind=RowKind.BASELINE))
            if chosen:
                detail = f"versions {chosen[0].version}..{version} marked applied without running"
            else:
                detail = "none of the migrations is applied; the objects there are not theirs"
            store.insert_history(
                ctx.event(EventKind.BASELINE, chosen[-1] if chosen else None, detail=detail)
            )
        return chosen


def accept(m: Migrator, versions: list[int] | None) -> list[int]:
    migrations = m.migrations()
    with m.locked() as (engine, store):
        chosen = plan_accept(migrations, store.applied(), versions)
        ctx = RunContext(engine.db_user())
        with engine.transaction():
            for e in chosen:
                assert e.migration and e.row
                up, down = e.migration.up.checksum, e.migration.down.checksum
                store.update_row(replace(e.row, checksum=up, down_checksum=down))
                detail = f"{e.detail}; checksum was {e.row.checksum[:12]}"
                store.insert_history(ctx.event(EventKind.ACCEPT, e.migration, detail=detail))
        return [e.version for e in chosen]


def resolve(m: Migrator, version: int, *, applied: bool) -> None:
    migrations = m.migrations()
    with m.locked() as (engine, store):
        mig, row = plan_resolve(migrations, store.applied(), version, m.settings.dir)
        refuse_resolve_with_invalid(version, engine.invalid_indexes(mig), applied=applied)
        ctx = RunContext(engine.db_user())
        with engine.transaction():
            if applied:
                store.update_row(ctx.row(mig, RowStatus.APPLIED, kind=row.kind))
            else:
                store.delete_row(version)
            detail = "marked applied" if applied else "marked rolled back"
            store.insert_history(ctx.event(EventKind.RESOLVE, mig, detail=detail))
