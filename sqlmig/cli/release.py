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
def backup(common: Common, backup_dir: BackupDir = None, keep: Keep = None) -> None:
    """Take a backup now: SQLite's backup API (integrity-checked) or pg_dump."""
    from sqlmig import render

    with common.migrator(backup_dir=backup_dir, backup_keep=keep) as m:
        info = m.backup()
    render.out.print(f"backup written: {info.path} ({info.size:,} bytes, version {info.version})")


@command(writes=False)
def backups(common: Common, backup_dir: BackupDir = None, json: Json = False) -> None:
    """List the backups in the backup folder, newest first, with size and version."""
    from sqlmig import documents, render

    with common.migrator(backup_dir=backup_dir) as m:
        found = m.backups()
        folder = m.settings.backup_folder
    if json:
        documents.emit(documents.backups(found))
    else:
        render.backups_table(found, folder)


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
) -> None:
    """Put the database back as it was when FILE was taken, version table included; the
    history of what happened since is kept."""
    from rich.markup import escape

    from sqlmig import render
    from sqlmig.cli.confirm import confirm

    with common.migrator() as m:
        _watch.header("restore", m)
        target = m.settings.url.masked
        confirm(
            f"Put {target} back as it was when {file} was taken? Changes made since are "
            "lost (their history is kept)",
            yes=yes,
            what=f"restore of {target}",
            nothing_done="restore cancelled; nothing was changed.",
        )
        done = m.restore(file, force=force)
    for note in done.notes:
        render.err.print(f"note: {escape(note)}")
    render.out.print(f"restored {escape(target)} from {escape(str(file))}.")
    render.out.print(escape(render.summary(done.status)))


@command(writes=True)
def seed(common: Common, dry_run: DryRun = False, var: Vars = None, json: Json = False) -> None:
    """Apply seeds/*.sql in name order: new and changed files only, each in a transaction."""
    from sqlmig import documents, render

    with common.migrator(vars=variables(var)) as m:
        if dry_run:
            found = m.plan_seeds()
            sys.stdout.write(
                render.seed_dry_run(found, m.settings.url.dialect, m.settings.table, m.bindings())
            )
            return
        _watch.header("seed", m, json=json)
        with _watch.watching(m, json=json):
            done = m.seed()
    if json:
        documents.emit([{"file": s.name, "duration_ms": s.duration_ms} for s in done])
    elif done:
        for s in done:
            render.out.print(
                f"  seeded {s.name} in {s.duration_ms} ms ({s.statements} statement(s))"
            )
    else:
        render.out.print("Nothing to do: every seed file is applied and unchanged.")


@command(writes=False, fleet=True)
def metrics(common: Common, targets: Targets) -> None:
    """Print counters and gauges in the Prometheus text format (node exporter textfile)."""
    from sqlmig import render

    if targets.chosen:
        from sqlmig.cli import fleets

        fleets.run(common, targets, lambda f: f.metrics(), json=False)
        return
    with common.migrator() as m:
        values = m.metrics()
    typer.echo(render.prometheus(values), nl=False)


@command(writes=False)
def wait(
    common: Common,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Give up after this many seconds.")
    ] = 60,
) -> None:
    """Wait until the database accepts connections (for CI jobs and containers)."""
    from dataclasses import asdict

    from sqlmig import render
    from sqlmig.config import load_settings
    from sqlmig.release import wait_for

    settings = load_settings(asdict(common))
    waited = wait_for(settings, timeout)
    render.out.print(f"{settings.url.masked} accepts connections (waited {waited:.1f}s).")
