"""`sqlmig lint`: lock-aware checks of the migration files, without touching a database
unless --pending asks what apply would run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from sqlmig.cli._common import Common, Json, command
from sqlmig.errors import EXIT_CHECK_FAILED

FORMATS = ("text", "json", "github")


@command(writes=False)
def lint(
    common: Common,
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Migration files to check [default: every up and down file].", show_default=False
        ),
    ] = None,
    pending: Annotated[
        bool,
        typer.Option("--pending", help="Only what apply would run now (reads the database)."),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only files added or changed since this git ref (e.g. origin/main).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str,
        typer.Option("--format", help="text, json, or github (GitHub Actions annotations)."),
    ] = "text",
    json: Json = False,
) -> None:
    """Check migrations for statements that lock or rewrite tables, break the running
    application, or cannot run the way sqlmig runs them; exit 1 on any finding."""
    from sqlmig.errors import ConfigError
    from sqlmig.lint import findings as formats
    from sqlmig.lint.scope import run

    chosen = "json" if json else output
    if chosen not in FORMATS:
        raise ConfigError(f"--format {output!r}: use one of {', '.join(FORMATS)}")
    found, checked = run(asdict(common), files or (), pending=pending, since=since)
    if chosen == "json":
        from sqlmig import documents
        from sqlmig.config import load_settings

        # Only --pending reads the database; the files alone are no database's.
        database = load_settings(asdict(common)).url.masked if pending else None
        documents.emit(
            "lint", {"ok": not found, "database": database, **formats.as_json(found, checked)}
        )
    else:
        render = {"text": formats.text, "github": formats.github}[chosen]
        typer.echo(render(found, checked), nl=False)
    if found:
        raise typer.Exit(EXIT_CHECK_FAILED)
