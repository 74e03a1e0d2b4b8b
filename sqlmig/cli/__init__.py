"""The `sqlmig` command: thin typer commands over sqlmig.Migrator.

Each command parses its options, calls one library method and renders the result;
one handler (_common.handled) turns SqlmigError into a message on stderr and its
documented exit code. Commands live in migrate.py, migrations.py, moves.py, schema.py,
release.py and lint.py.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sqlmig._version import __version__
from sqlmig.cli import _common

if TYPE_CHECKING:
    app: typer.Typer

__all__ = ["app", "main"]

# `sqlmig --help` lists commands in the order these modules register them: migrate.py's
# status, apply, rollback before migrations.py's validate ... new.
_MODULES = ("lint", "migrate", "migrations", "moves", "release", "schema")
# The module each command is in: `sqlmig status` imports migrate.py alone, and typer
# builds status's parameters alone instead of all 21 commands' (~15 ms of every run).
# tests/test_cli.py holds this to the commands the modules register.
HOMES = {
    "lint": "lint",
    **dict.fromkeys(("status", "apply", "rollback"), "migrate"),
    **dict.fromkeys(("validate", "baseline", "accept", "resolve", "history", "new"), "migrations"),
    **dict.fromkeys(("redo", "goto"), "moves"),
    **dict.fromkeys(("backup", "backups", "restore", "seed", "metrics", "wait"), "release"),
    **dict.fromkeys(("diff", "dump", "test"), "schema"),
}


def __getattr__(name: str) -> Any:
    """``app``, with every command: what `from sqlmig.cli import app` (tests, embedding)
    expects; main() registers only the commands the command line can reach."""
    if name != "app":
        raise AttributeError(f"module 'sqlmig.cli' has no attribute {name!r}")
    _register(_MODULES)
    return _common.app


def _register(modules: tuple[str, ...]) -> None:
    import importlib

    for module in modules:
        importlib.import_module(f"sqlmig.cli.{module}")


def _named(args: list[str]) -> str | None:
    """The command a command line runs when it names one first; None when it needs them
    all (--help lists them, a misspelt name gets its suggestions, completion offers them)."""
    completing = any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ)
    return args[0] if args and args[0] in HOMES and not completing else None


@contextmanager
def _only(name: str | None) -> Iterator[None]:
    """With ``name``, the app holds that command alone while it runs: typer builds the
    click parameters of every registered command at every call."""
    commands = _common.app.registered_commands
    kept = commands[:]
    commands[:] = [c for c in kept if name is None or c.name == name]
    try:
        yield
    finally:  # with any registered meanwhile (a module imported by the command)
        commands[:] = kept + [c for c in commands if c not in kept]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sqlmig {__version__}")
        raise typer.Exit()


@_common.app.callback()
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
    # The interpreter's last collections walk whatever is alive at exit (typer, the
    # driver, a run's migrations) for a process that is ending anyway: frozen then, they
    # are left to the exit. A few percent of a `status`, more of a large `apply`.
    atexit.register(gc.freeze)
    named = _named(sys.argv[1:])
    _register((HOMES[named],) if named else _MODULES)
    with _only(named):
        if "--json" not in sys.argv[1:]:
            _common.app()
            return
        sys.exit(_with_json_usage_errors())


def _with_json_usage_errors() -> int:
    """Run the command line, where an option or argument typer refuses (exit 2) also gets
    its failure document: with --json, stdout always has exactly one."""
    try:
        code = _common.app(standalone_mode=False)
    except Exception as exc:
        show, text = getattr(exc, "show", None), getattr(exc, "format_message", None)
        if show is None or text is None:
            raise  # not a usage error: a bug, shown as one
        from sqlmig import documents
        from sqlmig.errors import ConfigError

        show()  # the usage line and the message, on stderr, as without --json
        message = str(text())
        known = {c.name for c in _common.app.registered_commands}
        named = next((a for a in sys.argv[1:] if a in known), "sqlmig")
        doc = documents.failure(ConfigError(message), message, None)
        doc["error"]["kind"] = "UsageError"
        documents.emit(named, doc)
        return int(getattr(exc, "exit_code", 2))
    return code if isinstance(code, int) else 0
