"""Commands that move a database between versions: redo, goto."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sqlmig.cli import _watch
from sqlmig.cli._common import (
    BackupDir,
    Common,
    DryRun,
    Json,
    Keep,
    Vars,
    Yes,
    command,
    variables,
)
from sqlmig.models import Direction, Migration

if TYPE_CHECKING:
    from sqlmig.migrator import Migrator

Backup = Annotated[
    bool | None,
    typer.Option(
        "--backup/--no-backup",
        help="Take a checked backup before changing anything, as apply does "
        "[default: on for SQLite, off for PostgreSQL].",
        show_default=False,
    ),
]


@command(writes=True)
def redo(
    common: Common,
    dry_run: DryRun = False,
    backup: Backup = None,
    backup_dir: BackupDir = None,
    keep: Keep = None,
    var: Vars = None,
    json: Json = False,
) -> None:
    """Roll back the newest applied migration and apply it again (iterating on it)."""
    from sqlmig import render, render_plan, render_stored

    settings = {"backup_dir": backup_dir, "backup_keep": keep, "vars": variables(var)}
    with common.migrator(**settings) as m:
        if dry_run:
            chosen = m.plan_redo()
            if json:
                _emit_plan("redo", m, [([chosen], Direction.DOWN), ([chosen], Direction.UP)])
                return
            for direction in (Direction.DOWN, Direction.UP):
                render_plan.print_plan([chosen], direction, m.settings, m.bindings())
            return
        _watch.header("redo", m, json=json)
        with _watch.watching(m, json=json) as progress:
            result = m.redo(progress=progress, backup=backup, on_backup=render.backup_line(json))
        database = m.settings.url.masked
    render_stored.redo_report(result, json=json, database=database)


@command(writes=True)
def goto(
    common: Common,
    version: Annotated[
        int, typer.Argument(help="The version to be at (0: no migration applied).", min=0)
    ],
    dry_run: DryRun = False,
    allow_out_of_order: Annotated[
        bool,
        typer.Option(
            "--allow-out-of-order",
            help="On the way up, apply pending migrations numbered below the newest applied.",
        ),
    ] = False,
    yes: Yes = False,
    backup: Backup = None,
    backup_dir: BackupDir = None,
    keep: Keep = None,
    var: Vars = None,
    json: Json = False,
) -> None:
    """Apply or roll back until the database is at VERSION: an apply up to it, or a
    rollback down to it (of more than one migration only when confirmed, as rollback)."""
    from sqlmig import render, render_plan, render_stored

    settings = {"backup_dir": backup_dir, "backup_keep": keep, "vars": variables(var)}
    with common.migrator(**settings) as m:
        if dry_run:
            direction, plan = m.plan_goto(version, allow_out_of_order=allow_out_of_order)
            if json:
                _emit_plan("goto", m, [(plan, direction)])
                return
            render_plan.print_plan(plan, direction, m.settings, m.bindings())
            return
        way, chosen = m.plan_goto(version, allow_out_of_order=allow_out_of_order)
        expected = None
        if way is Direction.DOWN and len(chosen) > 1 and not yes:
            from sqlmig.cli.confirm import confirm_rollback

            confirm_rollback(chosen, m.settings.url.masked)
            expected = [c.version for c in chosen]
        _watch.header("goto", m, json=json)
        with _watch.watching(m, json=json) as progress:
            direction, result = m.goto(
                version,
                allow_out_of_order=allow_out_of_order,
                progress=progress,
                backup=backup,
                on_backup=render.backup_line(
                    json, before="rolling back" if way is Direction.DOWN else "migrating"
                ),
                expected=expected,
            )
        database = m.settings.url.masked
    render.run_report(result, direction, json=json, command="goto", database=database)
    if not json:
        render_stored.step_notes(result)


def _emit_plan(command: str, m: Migrator, parts: list[tuple[list[Migration], Direction]]) -> None:
    """A dry run's document: the files of each part in order, each with its direction
    (redo's is its rollback, then its apply)."""
    from sqlmig import documents

    dialect, database = m.settings.url.dialect, m.settings.url.masked
    docs = [
        documents.plan(plan, way, dialect, m.bindings(), whole=False, database=database)
        for plan, way in parts
    ]
    doc = docs[0] | {"migrations": [e for d in docs for e in d["migrations"]]}
    if len(parts) > 1:
        doc["direction"] = command
    documents.emit(command, doc)
