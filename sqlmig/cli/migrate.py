"""The commands of the everyday loop: status, apply, rollback (and their dry runs).

validate, baseline, accept, resolve, history and new are in migrations.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sqlmig.cli import _watch
from sqlmig.cli._common import (
    BackupDir,
    BackupFlag,
    Common,
    DryRun,
    Json,
    Keep,
    ScratchUrl,
    SingleTransaction,
    Targets,
    Vars,
    Yes,
    command,
    variables,
)
from sqlmig.errors import EXIT_CHECK_FAILED
from sqlmig.models import Direction, Migration
from sqlmig.planrules import refuse_outside_transaction

if TYPE_CHECKING:
    from sqlmig.migrator import Migrator
    from sqlmig.models import SeedStatus


@command(writes=False, fleet=True)
def status(
    common: Common,
    targets: Targets,
    json: Json = False,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code",
            help="Exit 1 when anything is pending, changed, missing or dirty (CI gate; a "
            "changed down file alone passes).",
        ),
    ] = False,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Under the table, a unified diff of each edited file against the SQL it "
            "was applied with (kept in the database).",
        ),
    ] = False,
) -> None:
    """Show every migration and its state: applied, pending, changed, down changed,
    missing or dirty."""
    if targets.chosen:
        from sqlmig.cli import fleets

        fleets.run(common, targets, lambda f: f.status(), json=json, checks=exit_code)
        return
    with common.migrator() as m:
        st = m.status()
        changes = m.changes(st) if diff else {}
    if json:
        from sqlmig import documents

        doc = documents.status(st)
        if diff:
            doc["diffs"] = {str(v): "\n".join(lines) for v, lines in changes.items()}
        documents.emit("status", doc)
    else:
        from sqlmig import render, render_stored

        render.status_table(st)
        render_stored.diffs(changes)
    if exit_code and not st.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


@command(writes=True, fleet=True)
def apply(
    common: Common,
    targets: Targets,
    to: Annotated[int | None, typer.Option("--to", help="Stop after this version.")] = None,
    dry_run: DryRun = False,
    allow_out_of_order: Annotated[
        bool,
        typer.Option(
            "--allow-out-of-order",
            help="Apply pending migrations numbered below the newest applied one.",
        ),
    ] = False,
    backup: BackupFlag = None,
    backup_dir: BackupDir = None,
    keep: Keep = None,
    seed: Annotated[
        bool, typer.Option("--seed", help="Apply new or changed seeds after the migrations.")
    ] = False,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Afterwards, check the schema against DIR/schema.sql."),
    ] = False,
    scratch_url: ScratchUrl = None,
    lint: Annotated[
        bool,
        typer.Option(
            "--lint", help="First lint what would run; on any finding, run nothing (exit 1)."
        ),
    ] = False,
    single_transaction: SingleTransaction = False,
    var: Vars = None,
    json: Json = False,
) -> None:
    """Apply pending migrations in order, each in its own transaction."""
    from sqlmig import render

    settings = {"backup_dir": backup_dir, "backup_keep": keep, "vars": variables(var)}
    if targets.chosen:
        from sqlmig.cli import fleets

        if dry_run:
            fleets.run(
                common,
                targets,
                lambda f: f.plan_apply(
                    to, allow_out_of_order=allow_out_of_order, whole=single_transaction, seed=seed
                ),
                json=json,
                settings=settings,
                command="apply",
            )
            return
        fleets.run(
            common,
            targets,
            lambda f: f.apply(
                to,
                allow_out_of_order=allow_out_of_order,
                backup=backup,
                seed=seed,
                verify=verify,
                scratch_url=scratch_url,
                lint=lint,
                single_transaction=single_transaction,
            ),
            json=json,
            progress=True,
            settings=settings,
        )
        return
    with common.migrator(**settings) as m:
        if dry_run:
            plan = m.plan_apply(to, allow_out_of_order=allow_out_of_order)
            if single_transaction:
                refuse_outside_transaction(plan, Direction.UP)
            seeds = m.plan_seeds() if seed else None
            _show_plan(
                "apply", m, plan, Direction.UP, whole=single_transaction, json=json, seeds=seeds
            )
            return
        _watch.header("apply", m, json=json)
        with _watch.watching(m, json=json) as progress:
            result = m.apply(
                to,
                allow_out_of_order=allow_out_of_order,
                progress=progress,
                backup=backup,
                seed=seed,
                verify=verify,
                scratch_url=scratch_url,
                lint=lint,
                single_transaction=single_transaction,
                on_backup=render.backup_line(json),
            )
        database = m.settings.url.masked
    render.run_report(result, Direction.UP, json=json, command="apply", database=database)
    if result.drift:  # --verify found drift
        raise typer.Exit(EXIT_CHECK_FAILED)


@command(writes=True, fleet=True)
def rollback(
    common: Common,
    targets: Targets,
    count: Annotated[
        int, typer.Argument(help="How many applied migrations to undo, newest first.")
    ] = 1,
    to: Annotated[
        int | None, typer.Option("--to", help="Undo every applied migration above this version.")
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    backup: BackupFlag = None,
    backup_dir: BackupDir = None,
    keep: Keep = None,
    single_transaction: SingleTransaction = False,
    from_database: Annotated[
        bool,
        typer.Option(
            "--from-database",
            help="Run the down SQL kept in the database when each migration was applied, "
            "not the files (an older checkout downgrading a newer database).",
        ),
    ] = False,
    var: Vars = None,
    json: Json = False,
) -> None:
    """Run the down files of the last COUNT applied migrations, newest first; more than
    one only when confirmed (asked on a terminal, else --yes)."""
    from sqlmig import render, render_stored

    settings = {"backup_dir": backup_dir, "backup_keep": keep, "vars": variables(var)}
    if targets.chosen:
        from sqlmig.cli import fleets
        from sqlmig.cli.confirm import confirm

        if dry_run:
            fleets.run(
                common,
                targets,
                lambda f: f.plan_rollback(
                    count, to=to, whole=single_transaction, from_database=from_database
                ),
                json=json,
                settings=settings,
                command="rollback",
            )
            return
        if count > 1 or to is not None:  # each target's plan is its own: ask about the rule
            rule = (
                f"every migration above version {to}" if to is not None else f"{count} migrations"
            )
            confirm(
                f"Roll back {rule} on each chosen target?",
                yes=yes,
                what=f"rollback of {rule} on the chosen targets",
                nothing_done="rollback cancelled; nothing was changed.",
            )
        fleets.run(
            common,
            targets,
            lambda f: f.rollback(
                count,
                to=to,
                single_transaction=single_transaction,
                backup=backup,
                from_database=from_database,
            ),
            json=json,
            progress=True,
            settings=settings,
        )
        return
    with common.migrator(**settings) as m:
        if dry_run:
            plan = m.plan_rollback(count, to=to, from_database=from_database)
            if single_transaction:
                refuse_outside_transaction(plan, Direction.DOWN)
            _show_plan("rollback", m, plan, Direction.DOWN, whole=single_transaction, json=json)
            return
        expected = None
        if (count > 1 or to is not None) and not yes:
            from sqlmig.cli.confirm import confirm_rollback

            chosen = m.plan_rollback(count, to=to, from_database=from_database)
            if len(chosen) > 1:
                confirm_rollback(chosen, m.settings.url.masked)
                expected = [c.version for c in chosen]
        _watch.header("rollback", m, json=json)
        with _watch.watching(m, json=json) as progress:
            result = m.rollback(
                count,
                to=to,
                progress=progress,
                single_transaction=single_transaction,
                backup=backup,
                on_backup=render.backup_line(json, before="rolling back"),
                expected=expected,
                from_database=from_database,
            )
        database = m.settings.url.masked
    render.run_report(result, Direction.DOWN, json=json, command="rollback", database=database)
    if not json:
        render_stored.step_notes(result)


def _show_plan(
    command: str,
    m: Migrator,
    plan: list[Migration],
    direction: Direction,
    *,
    whole: bool,
    json: bool,
    seeds: list[SeedStatus] | None = None,
) -> None:
    """A dry run: the SQL itself, or with ``json`` the plan document (``seeds``: those
    ``apply --seed`` would run after the migrations)."""
    from sqlmig import documents, render_plan

    if not json:
        render_plan.print_plan(plan, direction, m.settings, m.bindings(), whole=whole, seeds=seeds)
        return
    dialect, database = m.settings.url.dialect, m.settings.url.masked
    doc = documents.plan(plan, direction, dialect, m.bindings(), whole=whole, database=database)
    if seeds is not None:
        doc["seeds"] = documents.planned_seeds(seeds, dialect, m.bindings())
    documents.emit(command, doc)
