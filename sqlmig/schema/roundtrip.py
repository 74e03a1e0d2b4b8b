"""`sqlmig test`: prove in a scratch database that every down file undoes its up file,
and that the migrations build schema.sql; and the scratch database the up files alone
build, for `dump --from-migrations` and for `diff` of a database with migrations pending.

For each migration in order: up, record the schema, down, compare with the schema
before the up, up again; at the end compare with the baseline. The configured
database is never touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlmig.config import Settings
from sqlmig.engines.base import Engine
from sqlmig.errors import StatementError
from sqlmig.models import Migration
from sqlmig.schema import Baseline, Findings, Item, Schema, compare
from sqlmig.schema.scratch import ScratchDb, in_scratch, scratch
from sqlmig.scripts import execute_file
from sqlmig.variables import Bindings

REGENERATE = (
    "regenerate it from the migrations with `sqlmig dump --from-migrations` (`make schema`) "
    "and commit it"
)


@dataclass
class Trip:
    """What the round trip found: problems (with notes), and the down files that ran no
    statement without saying why (a warning: sets from other tools have many)."""

    problems: Findings
    empty_downs: list[str] = field(default_factory=list)


def _down_and_up(
    engine: Engine,
    m: Migration,
    schemas: tuple[Schema, Schema],
    trip: Trip,
    variables: Bindings | None,
) -> Schema:
    """Down, compare with ``schemas[0]`` (before the up); up, compare with ``schemas[1]``.
    Returns the schema after the second up: where the next migration really starts."""
    before, after_up = schemas
    if execute_file(engine, m.down, variables=variables) == 0 and m.down.empty is None:
        trip.empty_downs.append(m.label)
    undone = compare(engine.introspect(), before, "after down", "before up")
    trip.problems += [
        d.said(
            f"{m.label}: the down file does not undo the up file: {d}",
            "not_undone",
            f"{m.label}: {d.detail}",
        )
        for d in undone
    ]
    execute_file(engine, m.up, variables=variables)
    again = engine.introspect()
    trip.problems += [
        d.said(
            f"{m.label}: up again differs from the first up: {d}",
            "up_again_differs",
            f"{m.label}: {d.detail}",
        )
        for d in compare(again, after_up, "second up", "first up")
    ]
    return again


def roundtrip(
    settings: Settings,
    migrations: list[Migration],
    baseline: Path | None,
    scratch_url: str | None,
    *,
    downs: bool = True,
    variables: Bindings | None = None,
) -> Trip:
    """Every way the set fails the round trip, as readable lines; no problems when it
    passes. Without ``downs`` only the up files run: the baseline check alone."""
    # The baseline first: each version's schema is matched against it on the way, so that
    # a schema.sql left behind can be named as the version it is.
    base = None
    if baseline is not None and baseline.is_file():
        from sqlmig.schema.baseline import model

        base = model(settings, baseline, scratch_url)
    trip = Trip(Findings())
    matched: int | None = None  # the newest version whose schema the baseline is
    failed = False
    with scratch(settings, scratch_url) as db:
        engine = db.engine
        missing = _provide_roles(db, migrations)
        before = engine.introspect()
        if base and before == base.schema:
            matched = 0
        for m in migrations:
            try:
                execute_file(engine, m.up, variables=variables)
                after_up = engine.introspect()
                if downs and m.down.irreversible is None:
                    # What one round trip left behind is its problem, not the next one's:
                    # the next starts from where the second up really ended.
                    after_up = _down_and_up(engine, m, (before, after_up), trip, variables)
                before = after_up
            except StatementError as exc:
                # A file that fails, or a down that leaves the up unable to run again, ends
                # the trip: later migrations would start from a schema nobody wrote.
                failure = in_scratch(db, exc, missing)
                text = f"{m.label}: {failure}"
                where = f"{failure.path}:{failure.line}"
                trip.problems.append(Item(text, "failed", where, failure.db_message))
                failed = True
                break
            if base and before == base.schema:
                matched = m.version
    trip.problems.notes = db.notes + (base.notes if base else [])
    if base is not None and baseline is not None and not failed:
        trip.problems += baseline_problems(before, base, baseline.name, matched, migrations)
    return trip


def baseline_problems(
    built: Schema, base: Baseline, name: str, matched: int | None, migrations: list[Migration]
) -> list[Item]:
    """Where the schema the migrations build differs from the baseline's, led by what that
    means: a baseline left at an older version (a pull request that adds a migration
    without regenerating schema.sql), or one that no version of the migrations builds."""
    differences = compare(built, base.schema, "migrations", name)
    if not differences:
        return []
    if matched is not None:
        at = f"version {matched}" if matched else "no migration at all (an empty database)"
        newest = migrations[-1]
        verdict = (
            f"{name} is out of date: it is the schema at {at}, while the migrations go on to "
            f"version {newest.version} ({newest.label}): {REGENERATE}"
        )
    else:
        verdict = (
            f"{name} is not the schema the migrations build, at any version (differences "
            f"below): if the migrations are right, {REGENERATE}; if {name} is, fix the "
            "migrations"
        )
    kind = "baseline_out_of_date" if matched is not None else "baseline_differs"
    return [
        Item(verdict, kind, name),
        *(d.said(f"after all migrations: {d}", "baseline_difference") for d in differences),
    ]


@contextmanager
def built(
    settings: Settings,
    migrations: list[Migration],
    scratch_url: str | None,
    variables: Bindings | None = None,
) -> Iterator[ScratchDb]:
    """A scratch database that the up files of ``migrations`` ran in, in order, with
    ``variables`` substituted; a file that fails raises its error, said of the scratch
    database."""
    with scratch(settings, scratch_url) as db:
        missing = _provide_roles(db, migrations)
        for m in migrations:
            try:
                execute_file(db.engine, m.up, variables=variables)
            except StatementError as exc:
                raise in_scratch(db, exc, missing) from None
        yield db


def _provide_roles(db: ScratchDb, migrations: list[Migration]) -> set[str]:
    """Make the roles the migrations name and the scratch server lacks, where allowed;
    return those still missing."""
    if db.roles is None:
        return set()
    from sqlmig.schema import pgload

    texts = [f.full_text() for m in migrations for f in (m.up, m.down)]
    made = len(db.roles.made)
    missing, _ = db.roles.provide(pgload.roles_named(texts))
    db.notes += pgload.made_note(db.roles, made)
    return missing
