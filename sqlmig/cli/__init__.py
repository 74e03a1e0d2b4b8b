"""The `sqlmig` command: thin typer commands over sqlmig.Migrator.

Each command parses its options, calls one library method and renders the result;
one handler (_common.handled) turns SqlmigError into a message on stderr and its
documented exit code. Commands live in migrate.py, moves.py, schema.py, release.py and lint.py.
"""

from __future__ import annotations

from typing import Annotated

import typer

from sqlmig._version import __version__
from sqlmig.cli import lint, migrate, moves, release, schema
from sqlmig.cli._common import app

__all__ = ["app", "lint", "main", "migrate", "moves", "release", "schema"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sqlmig {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Plain-SQL schema migrations for PostgreSQL and SQLite."""


def main() -> None:
    from sqlmig import interrupts

    interrupts.install()
    app()
