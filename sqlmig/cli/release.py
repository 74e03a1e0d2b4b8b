"""Release commands: backup, backups, restore, seed, metrics, wait."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sqlmig.cli import _watch
from sqlmig.cli._common import (
    BackupDir,
    Common,
    DryRun,
    Json,
    Keep,
    Targets,
    Vars,
    Yes,
    command,
    variables,
)


@command(writes=False)
def backup(
    common: Common, backup_dir: BackupDir = None, keep: Keep = None, json: Json = False
) -> None:
    """Take a backup now: SQLite's backup API (integrity-checked) or pg_dump."""
    from sqlmig import documents, render

    with common.migrator(backup_dir=backup_dir, backup_keep=keep) as m:
        info = m.backup()
        database = m.settings.url.masked
    if json:
        body = {"ok": True, "database": database, "backup": documents.backup(info)}
        documents.emit("backup", body)
        return
    render.out.print(f"backup written: {info.path} ({info.size:,} bytes, version {info.version})")


@command(writes=False)
def backups(common: Common, backup_dir: BackupDir = None, json: Json = False) -> None:
    """List the backups in the backup folder, newest first, with size and version."""
    from sqlmig import documents, render_tables

    with common.migrator(backup_dir=backup_dir) as m:
        found = m.backups()
        folder = m.settings.backup_folder
        database = m.settings.url.masked
    if json:
        documents.emit("backups", documents.backups(found, str(folder), database))
    else:
        render_tables.backups_table(found, folder)


@command(writes=True)
def restore(
    common: Common,
    file: Annotated[Path, typer.Argument(help="A backup written by sqlmig backup or apply.")],
    yes: Yes = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Restore a backup of another database, or one without a manifest."
        ),
    ] = False,
    json: Json = False,
) -> None:
    """Put the database back as it was when FILE was taken, version table included; the
    history of what happened since is kept."""
    from rich.markup import escape

    from sqlmig import documents, render
    from sqlmig.cli.confirm import confirm

    with common.migrator() as m:
        _watch.header("restore", m, json=json)
        target = m.settings.url.masked
        confirm(
            f"Put {target} back as it was when {file} was taken? Changes made since are "
            "lost (their history is kept)",
            yes=yes,
            what=f"restore of {target}",
            nothing_done="restore cancelled; nothing was changed.",
        )
        done = m.restore(file, force=force)
    if json:
        status = documents.status(done.status)
        body = {"ok": True, "database": target, "file": str(file), "notes": done.notes}
        documents.emit("restore", body | {"status": status})
        return
    for note in done.notes:
        render.err.print(f"note: {escape(note)}")
    render.out.print(f"restored {escape(target)} from {escape(str(file))}.")
    render.out.print(escape(render.summary(done.status)))


@command(writes=True)
def seed(common: Common, dry_run: DryRun = False, var: Vars = None, json: Json = False) -> None:
    """Apply seeds/*.sql in name order: new and changed files only, each in a transaction."""
    from sqlmig import documents, render, render_plan

    with common.migrator(vars=variables(var)) as m:
        if dry_run:
            found = m.plan_seeds()
            if json:
                dialect = m.settings.url.dialect
                body = {"ok": True, "database": m.settings.url.masked, "dry_run": True}
                documents.emit(
                    "seed", body | {"seeds": documents.planned_seeds(found, dialect, m.bindings())}
                )
                return
            sys.stdout.write(
                render_plan.seed_dry_run(
                    found, m.settings.url.dialect, m.settings.table, m.bindings()
                )
            )
            return
        _watch.header("seed", m, json=json)
        with _watch.watching(m, json=json):
            done = m.seed()
        database = m.settings.url.masked
    if json:
        seeds = [documents.seed(s) for s in done]
        documents.emit("seed", {"ok": True, "database": database, "seeds": seeds})
    elif done:
        for s in done:
            render.out.print(
                f"  seeded {s.name} in {s.duration_ms} ms ({s.statements} statement(s))"
            )
    else:
        render.out.print("Nothing to do: every seed file is applied and unchanged.")


@command(writes=False, fleet=True)
def metrics(common: Common, targets: Targets, json: Json = False) -> None:
    """Print counters and gauges in the Prometheus text format (node exporter textfile)."""
    from sqlmig import documents, render_metrics

    if targets.chosen:
        from sqlmig.cli import fleets

        fleets.run(common, targets, lambda f: f.metrics(), json=json)
        return
    with common.migrator() as m:
        values = m.metrics()
    if json:
        documents.emit("metrics", documents.metrics(values))
        return
    typer.echo(render_metrics.prometheus(values), nl=False)


@command(writes=False)
def wait(
    common: Common,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Give up after this many seconds.")
    ] = 60,
    json: Json = False,
) -> None:
    """Wait until the database accepts connections (for CI jobs and containers)."""
    from dataclasses import asdict

    from sqlmig import documents, render
    from sqlmig.config import load_settings
    from sqlmig.release import wait_for

    settings = load_settings(asdict(common))
    waited = wait_for(settings, timeout)
    if json:
        body = {"ok": True, "database": settings.url.masked, "waited_seconds": round(waited, 3)}
        documents.emit("wait", body)
        return
    render.out.print(f"{settings.url.masked} accepts connections (waited {waited:.1f}s).")
