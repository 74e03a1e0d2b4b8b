"""Commands that migrate or look at migrations: status, apply, rollback, validate,
baseline, accept, resolve, history, new."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
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
    app,
    command,
    handled,
    report,
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
    from sqlmig import documents, render, render_stored

    if targets.chosen:
        from sqlmig.cli import fleets

        fleets.run(common, targets, lambda f: f.status(), json=json, checks=exit_code)
        return
    with common.migrator() as m:
        st = m.status()
        changes = m.changes(st) if diff else {}
    if json:
        doc = documents.status(st)
        if diff:
            doc["diffs"] = {str(v): "\n".join(lines) for v, lines in changes.items()}
        documents.emit("status", doc)
    else:
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


@command(writes=False, fleet=True)
def validate(common: Common, targets: Targets, var: Vars = None, json: Json = False) -> None:
    """Check the migration set and compare checksums with the database; exit 1 on any
    problem. Lint findings for what apply would run are shown as warnings."""
    from sqlmig import documents, render, render_stored
    from sqlmig.lint import findings as lint_formats
    from sqlmig.lint import lint_pending

    if targets.chosen:
        from sqlmig.cli import fleets

        fleets.run(
            common, targets, lambda f: f.validate(), json=json, settings={"vars": variables(var)}
        )
        return
    with common.migrator(vars=variables(var)) as m:
        st = m.status()
        found, warned, changes = m.validate(st), m.warnings(st), m.changes(st)
        linted = [] if found else lint_pending(m)  # a set at odds with the database first
        database = m.settings.url.masked
    if linted and not json:
        render.out.print(lint_formats.text(linted, len({f.path for f in linted})).rstrip())
    errors = [lint_formats.problem(f) for f in linted if f.severity == "error"]
    problems = [*(p.item() for p in found), *errors]
    if not json:
        render_stored.diffs(changes)
    document = None
    if json:
        warned_items = [p.item() for p in warned]
        body = documents.validation(problems, linted, database, warned_items, changes)
        document = ("validate", body)
    report(
        problems,
        document=document,
        failed="{n} problem(s):",
        ok="[green]ok[/]: the set is well-formed and matches the database.",
        warnings=[str(p) for p in warned],
    )


@command(writes=True)
def baseline(
    common: Common,
    version: Annotated[
        int,
        typer.Argument(
            help="The version the database is already at (0: none of the migrations, its "
            "objects are another's)."
        ),
    ],
    json: Json = False,
) -> None:
    """Mark an existing database as being at VERSION without running anything."""
    from sqlmig import documents, render

    with common.migrator() as m:
        _watch.header("baseline", m, json=json)
        chosen = m.baseline(version)
        database = m.settings.url.masked
    if json:
        marked = [mig.version for mig in chosen]
        body = {"ok": True, "database": database, "version": version, "marked": marked}
        documents.emit("baseline", body)
        return
    if not chosen:
        render.out.print(
            "baseline 0: recorded that none of the migrations is applied yet (nothing was "
            "run); apply runs them all, next to the objects already there."
        )
        return
    render.out.print(
        f"baseline: marked {len(chosen)} migration(s) up to version {version} as applied "
        "(nothing was run)."
    )


@command(writes=True)
def accept(
    common: Common,
    versions: Annotated[
        list[int] | None,
        typer.Argument(help="Versions whose edited files are right (default: all edited)."),
    ] = None,
    json: Json = False,
) -> None:
    """Record the new checksum of edited applied files, after a human decided the edit is right."""
    from sqlmig import documents, render

    with common.migrator() as m:
        _watch.header("accept", m, json=json)
        done = m.accept(versions or None)
        database = m.settings.url.masked
    if json:
        documents.emit("accept", {"ok": True, "database": database, "accepted": done})
    elif done:
        render.out.print(
            f"accepted the edited files of version(s) {', '.join(map(str, done))}; "
            "logged in the history."
        )
    else:
        render.out.print("nothing to accept: no applied file was edited.")


@command(writes=True)
def resolve(
    common: Common,
    version: Annotated[int, typer.Argument(help="The dirty version.")],
    applied: Annotated[
        bool, typer.Option("--applied", help="The change is complete: mark it applied.")
    ] = False,
    rolled_back: Annotated[
        bool, typer.Option("--rolled-back", help="The change is undone: remove its row.")
    ] = False,
    json: Json = False,
) -> None:
    """Clear a dirty version after a failed no-transaction migration was fixed by hand."""
    from sqlmig import documents, render
    from sqlmig.errors import ConfigError

    if applied == rolled_back:
        raise ConfigError("say what you found: exactly one of --applied or --rolled-back")
    with common.migrator() as m:
        _watch.header("resolve", m, json=json)
        m.resolve(version, applied=applied)
        database = m.settings.url.masked
    if json:
        resolution = "applied" if applied else "rolled_back"
        body = {"ok": True, "database": database, "version": version, "resolution": resolution}
        documents.emit("resolve", body)
        return
    render.out.print(
        f"version {version} marked {'applied' if applied else 'rolled back'}; "
        "logged in the history."
    )


@command(writes=False, fleet=True)
def history(
    common: Common,
    targets: Targets,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=0, help="Show at most this many events (0 = all)."),
    ] = 50,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only events at or after this UTC time (2026-11-24, 2026-11-24T10:00), "
            "since midnight UTC today or yesterday (today, yesterday), or this long ago "
            "(30m, 12h, 7d).",
            show_default=False,
        ),
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only failures.")] = False,
    json: Json = False,
) -> None:
    """Show the event log (applies, rollbacks, failures, manual fixes), newest first."""
    from sqlmig import documents, render_tables

    start = _parse_since(since) if since else None
    if targets.chosen:
        from sqlmig.cli import fleets

        fleets.run(
            common,
            targets,
            lambda f: f.history(limit or None, since=start, failed=failed),
            json=json,
        )
        return
    with common.migrator() as m:
        events = m.history(limit or None, since=start, failed=failed)
        database = m.settings.url.masked
    if json:
        documents.emit("history", documents.history(events, database))
    else:
        render_tables.history_table(events)


def _parse_since(text: str) -> datetime:
    import re
    from datetime import UTC, timedelta

    from sqlmig.errors import ConfigError

    ago = re.fullmatch(r"(\d+)([smhd])", text.strip())
    days_back = {"today": 0, "yesterday": 1}.get(text.strip().lower())
    try:
        if days_back is not None:  # calendar days in UTC, as every time history shows
            midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            return midnight - timedelta(days=days_back)
        if ago:
            unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[ago.group(2)]
            return datetime.now(UTC) - timedelta(**{unit: int(ago.group(1))})
        return datetime.fromisoformat(text)
    except (ValueError, OverflowError) as exc:
        raise ConfigError(
            f"--since {text!r}: use an ISO date or time (UTC), today, yesterday, or 30m, 12h, 7d"
        ) from exc


@app.command("new")
def new(
    name: Annotated[
        list[str],
        typer.Argument(
            help="What the migration does, e.g. add_accounts_email_index; several words "
            "become one name, joined by _ (new create users: 0007_create_users.sql).",
            show_default=False,
        ),
    ],
    dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Migration folder [default: sql].", show_default=False),
    ] = None,
    json: Json = False,
) -> None:
    """Write the next numbered up/down pair, ready to edit."""
    from sqlmig import documents
    from sqlmig.config import load_settings
    from sqlmig.discovery import new_migration

    with handled(json=json, command="new"):
        up, down = new_migration(load_settings({"dir": dir}).dir, " ".join(name))
    if json:
        documents.emit("new", {"ok": True, "up": str(up), "down": str(down)})
    else:
        typer.echo(f"created {up}\ncreated {down}")
