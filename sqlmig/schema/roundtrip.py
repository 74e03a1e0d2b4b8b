"""`sqlmig test`: prove in a scratch database that every down file undoes its up file.

For each migration in order: up, record the schema, down, compare with the schema
before the up, up again; at the end compare with the baseline. The configured
database is never touched.
"""

from __future__ import annotations

from pathlib import Path

from sqlmig.config import Settings
from sqlmig.engines.base import Engine
from sqlmig.errors import StatementError
from sqlmig.models import Migration
from sqlmig.schema import Findings, Schema, compare
from sqlmig.schema.scratch import ScratchDb, in_scratch, scratch
from sqlmig.scripts import execute_file


def _down_and_up(
    engine: Engine,
    m: Migration,
    schemas: tuple[Schema, Schema],
    problems: list[str],
) -> Schema:
    """Down, compare with ``schemas[0]`` (before the up); up, compare with ``schemas[1]``.
    Returns the schema after the second up: where the next migration really starts."""
    before, after_up = schemas
    execute_file(engine, m.down)
    undone = compare(engine.introspect(), before, "after down", "before up")
    problems += [f"{m.label}: the down file does not undo the up file: {d}" for d in undone]
    execute_file(engine, m.up)
    again = engine.introspect()
    problems += [
        f"{m.label}: up again differs from the first up: {d}"
        for d in compare(again, after_up, "second up", "first up")
    ]
    return again


def roundtrip(
    settings: Settings, migrations: list[Migration], baseline: Path | None, scratch_url: str | None
) -> Findings:
    """Every way the set fails the round trip, as readable lines; [] when it passes."""
    problems: list[str] = []
    with scratch(settings, scratch_url) as db:
        engine = db.engine
        missing = _provide_roles(db, migrations)
        before = engine.introspect()
        for m in migrations:
            try:
                execute_file(engine, m.up)
                after_up = engine.introspect()
                if m.down.irreversible is None:
                    # What one round trip left behind is its problem, not the next one's:
                    # the next starts from where the second up really ended.
                    after_up = _down_and_up(engine, m, (before, after_up), problems)
                before = after_up
            except StatementError as exc:
                # A file that fails, or a down that leaves the up unable to run again, ends
                # the trip: later migrations would start from a schema nobody wrote.
                problems.append(f"{m.label}: {in_scratch(db, exc, missing)}")
                return Findings(problems, db.notes)
    notes = db.notes
    if baseline is not None and baseline.is_file():
        from sqlmig.schema.baseline import model

        base = model(settings, baseline, scratch_url)
        notes += base.notes
        problems += [
            f"after all migrations: {d}"
            for d in compare(before, base.schema, "migrations", baseline.name)
        ]
    return Findings(problems, notes)


def _provide_roles(db: ScratchDb, migrations: list[Migration]) -> set[str]:
    """Make the roles the migrations name and the scratch server lacks, where allowed;
    return those still missing."""
    if db.roles is None:
        return set()
    from sqlmig.schema import pgload

    texts = [f.text for m in migrations for f in (m.up, m.down)]
    made = len(db.roles.made)
    missing, _ = db.roles.provide(pgload.roles_named(texts))
    db.notes += pgload.made_note(db.roles, made)
    return missing
