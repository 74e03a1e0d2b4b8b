"""The `sqlmig` command: thin typer commands over sqlmig.Migrator.

Each command parses its options, calls one library method and renders the result;
one handler (_common.handled) turns SqlmigError into a message on stderr and its
documented exit code. Commands live in migrate.py, migrations.py, moves.py, schema.py,
release.py and lint.py.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sqlmig._version import __version__

# `sqlmig --help` lists commands in the order these (sorted) imports register them: the
# names keep migrate.py's status, apply, rollback before migrations.py's validate ... new.
from sqlmig.cli import lint, migrate, migrations, moves, release, schema
from sqlmig.cli._common import app

__all__ = ["app", "lint", "main", "migrate", "migrations", "moves", "release", "schema"]


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
    if "--json" not in sys.argv[1:]:
        app()
        return
    sys.exit(_with_json_usage_errors())


def _with_json_usage_errors() -> int:
    """Run the command line, where an option or argument typer refuses (exit 2) also gets
    its failure document: with --json, stdout always has exactly one."""
    try:
        code = app(standalone_mode=False)
    except Exception as exc:
        show, text = getattr(exc, "show", None), getattr(exc, "format_message", None)
        if show is None or text is None:
            raise  # not a usage error: a bug, shown as one
        from sqlmig import documents
        from sqlmig.errors import ConfigError

        show()  # the usage line and the message, on stderr, as without --json
        message = str(text())
        known = {c.name for c in app.registered_commands}
        named = next((a for a in sys.argv[1:] if a in known), "sqlmig")
        doc = documents.failure(ConfigError(message), message, None)
        doc["error"]["kind"] = "UsageError"
        documents.emit(named, doc)
        return int(getattr(exc, "exit_code", 2))
    return code if isinstance(code, int) else 0
