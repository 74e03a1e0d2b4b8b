"""Commands that change only sqlmig's own tables: baseline, accept, resolve.

Each is a planner rule (planner.plan_*) and one transaction of the store, under the
run lock, logged in the history. And baseline's counterpart in apply: the refusal of a
database that needs a baseline first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlmig.models import EventKind, Migration, RowKind, RowStatus
from sqlmig.planrules import (
    plan_accept,
    plan_baseline,
    plan_resolve,
    refuse_resolve_with_invalid,
    refuse_unadopted,
)

if TYPE_CHECKING:
    from sqlmig.config import Settings
    from sqlmig.engines.base import Engine
    from sqlmig.engines.store import Store
    from sqlmig.migrator import Migrator
    from sqlmig.planner import ApplyPlan


def baseline(m: Migrator, version: int) -> list[Migration]:
    migrations = m.migrations()
    with m.locked() as (engine, store):
        chosen = plan_baseline(migrations, store.applied(), version)
        ctx = m.context(engine)
        with engine.transaction():
            for mig in chosen:
                row = ctx.row(mig, RowStatus.APPLIED, kind=RowKind.BASELINE)
                store.insert_row(row, ctx.stored(mig))
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
        ctx = m.context(engine)
        with engine.transaction():
            for e in chosen:
                assert e.migration and e.row
                up, down = e.migration.up.checksum, e.migration.down.checksum
                store.update_row(replace(e.row, checksum=up, down_checksum=down))
                store.update_stored(e.version, ctx.stored(e.migration))  # diffs start anew
                detail = f"{e.detail}; checksum was {e.row.checksum[:12]}"
                store.insert_history(ctx.event(EventKind.ACCEPT, e.migration, detail=detail))
        return [e.version for e in chosen]


def resolve(m: Migrator, version: int, *, applied: bool) -> None:
    migrations = m.migrations()
    with m.locked() as (engine, store):
        mig, row = plan_resolve(migrations, store.applied(), version, m.settings.dir)
        refuse_resolve_with_invalid(version, engine.invalid_indexes(mig), applied=applied)
        ctx = m.context(engine)
        with engine.transaction():
            if applied:
                store.update_row(ctx.row(mig, RowStatus.APPLIED, kind=row.kind))
            else:
                store.delete_row(version)
            detail = "marked applied" if applied else "marked rolled back"
            store.insert_history(ctx.event(EventKind.RESOLVE, mig, detail=detail))


def refuse_unadopted_database(
    settings: Settings, plan: ApplyPlan, engine: Engine, store: Store
) -> None:
    """Refuse to migrate a database that sqlmig's tables are missing from but that
    already holds objects of its own. The objects are read before the tables are looked
    for again: a SQLite runner that made them meanwhile and then migrated (it holds no
    lock we would wait for) is not taken for another tool."""
    if store.format() is not None or not engine.exists():
        return
    from sqlmig.engines.adoption import user_objects

    objects = user_objects(engine, settings.own_tables)
    if objects and store.format() is None:
        refuse_unadopted(plan.steps([], 0), objects)
