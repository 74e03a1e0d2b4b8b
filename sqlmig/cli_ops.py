"""Release operations: backup, backups, restore, seed, metrics, wait."""

from pathlib import Path
from typing import Annotated, Any

import typer

from sqlmig.cli import BackupDir, Json, Keep, _migrator, command


@command
def backup(opts: dict[str, Any], backup_dir: BackupDir = None, keep: Keep = None) -> None:
    """Take a backup now: SQLite's backup API (integrity-checked) or pg_dump."""
    from sqlmig import render

    with _migrator({**opts, "backup_dir": backup_dir, "backup_keep": keep}) as m:
        info = m.backup()
    render.out.print(f"backup written: {info.path} ({info.size:,} bytes, version {info.version})")


@command
def backups(opts: dict[str, Any], backup_dir: BackupDir = None, json: Json = False) -> None:
    """List the backups in the backup folder, newest first, with size and version."""
    from sqlmig import render

    with _migrator({**opts, "backup_dir": backup_dir}) as m:
        found = m.backups()
        folder = m.settings.backup_dir
    if json:
        render.emit_json(render.backups_json(found))
    else:
        render.backups_table(found, folder)


@command
def restore(
    opts: dict[str, Any],
    file: Annotated[Path, typer.Argument(help="A backup written by sqlmig backup or apply.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Put the database back as it was when FILE was taken, version table included."""
    from rich.markup import escape

    from sqlmig import render

    with _migrator(opts) as m:
        target = m.settings.url.masked
        if not yes and not typer.confirm(
            f"Replace everything in {target} with {file}? Changes made since are lost",
            default=False,
        ):
            render.err.print("restore cancelled; nothing was changed.")
            raise typer.Exit(1)
        st = m.restore(file)
    render.out.print(f"restored {escape(target)} from {escape(str(file))}.")
    render.out.print(escape(render.summary(st)))


@command
def seed(opts: dict[str, Any], json: Json = False) -> None:
    """Apply seeds/*.sql in name order: new and changed files only, each in a transaction."""
    from sqlmig import render

    with _migrator(opts) as m:
        done = m.seed()
    if json:
        render.emit_json([{"file": s.name, "duration_ms": s.duration_ms} for s in done])
    elif done:
        for s in done:
            render.out.print(
                f"  seeded {s.name} in {s.duration_ms} ms ({s.statements} statement(s))"
            )
    else:
        render.out.print("Nothing to do: every seed file is applied and unchanged.")


@command
def metrics(opts: dict[str, Any]) -> None:
    """Print counters and gauges in the Prometheus text format (node exporter textfile)."""
    from sqlmig import render

    with _migrator(opts) as m:
        values = m.metrics()
    typer.echo(render.prometheus(values), nl=False)


@command
def wait(
    opts: dict[str, Any],
    timeout: Annotated[
        float, typer.Option("--timeout", help="Give up after this many seconds.")
    ] = 60,
) -> None:
    """Wait until the database accepts connections (for CI jobs and containers)."""
    from sqlmig import render
    from sqlmig.config import load_settings
    from sqlmig.migrator import wait_for

    settings = load_settings(opts)
    waited = wait_for(settings, timeout)
    render.out.print(f"{settings.url.masked} accepts connections (waited {waited:.1f}s).")
