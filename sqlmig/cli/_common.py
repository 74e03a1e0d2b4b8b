"""What every command shares: the app, the common options, the one error handler.

A command is a function whose first parameter is a ``Common`` (the options every
database command takes); ``@command`` appends those options to its signature for typer
and hands the function one ``Common`` value, then maps any SqlmigError to its message
on stderr and its documented exit code.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sqlmig.errors import EXIT_CHECK_FAILED, SqlmigError

if TYPE_CHECKING:  # the real imports are lazy: `sqlmig --help` must not pay for them
    from sqlmig.migrator import Migrator

app = typer.Typer(
    help="Plain-SQL schema migrations for PostgreSQL and SQLite.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass(frozen=True, slots=True)
class Common:
    """The options every database command takes; None means "not given"."""

    database_url: str | None = None
    dir: Path | None = None
    table: str | None = None
    schema: str | None = None
    lock_timeout: float | None = None
    statement_timeout: float | None = None

    def migrator(self, **more: Any) -> Migrator:
        """The Migrator these options (and ``more`` settings, None meaning unset) describe."""
        from sqlmig.migrator import Migrator

        return Migrator.from_config(**asdict(self), **more)


# Each field of Common as a typer option, appended to every database command.
_OPTIONS: dict[str, Any] = {
    "database_url": Annotated[
        str | None,
        typer.Option(
            "--database-url",
            "-d",
            help="Database URL (else DATABASE_URL, sqlmig.toml, sqlite:///sqlmig.db).",
            show_default=False,
        ),
    ],
    "dir": Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Migration folder holding up/ and down/ [default: sql].",
            show_default=False,
        ),
    ],
    "table": Annotated[
        str | None,
        typer.Option(
            "--table", help="Version table name [default: schema_version].", show_default=False
        ),
    ],
    "schema": Annotated[
        str | None,
        typer.Option(
            "--schema",
            help="PostgreSQL schema for sqlmig's tables [default: current schema].",
            show_default=False,
        ),
    ],
    "lock_timeout": Annotated[
        float | None,
        typer.Option(
            "--lock-timeout",
            help="Seconds to wait for any lock: another runner, a busy SQLite file, "
            "a PostgreSQL table lock (0 = forever) [default: 30].",
            show_default=False,
        ),
    ],
    "statement_timeout": Annotated[
        float | None,
        typer.Option(
            "--statement-timeout",
            help="Cancel any single statement running longer than this many seconds.",
            show_default=False,
        ),
    ],
}
assert list(_OPTIONS) == [f.name for f in fields(Common)]


def command(*, writes: bool) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``fn(common, ...)`` as the command named like ``fn``. ``writes`` says
    whether it may change the configured database (for what Ctrl-C reports)."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        sig = inspect.signature(fn, eval_str=True)
        own = list(sig.parameters.values())[1:]
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=ann, default=None)
            for name, ann in _OPTIONS.items()
        ]

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> None:
            common = Common(**{name: kwargs.pop(name) for name in _OPTIONS})
            with handled(common.database_url, writes=writes, json=kwargs.get("json", False)):
                fn(common, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *extra]}
        app.command(fn.__name__.rstrip("_").replace("_", "-"))(wrapper)
        return wrapper

    return register


@contextmanager
def handled(url: str | None = None, *, writes: bool = False, json: bool = False) -> Iterator[None]:
    """Map what a command raises to a message on stderr (and with ``json`` a document on
    stdout) and an exit code."""
    try:
        yield
    except SqlmigError as exc:
        fail(exc, url, json=json)
    except KeyboardInterrupt as exc:
        from sqlmig import render
        from sqlmig.errors import Interrupted

        partial = exc.partial if isinstance(exc, Interrupted) else None
        stopped = Interrupted(partial, _interrupted(writes))
        render.failure(stopped, mask_with=url, json=json, label="interrupted")
        raise typer.Exit(stopped.exit_code) from None


def _interrupted(writes: bool) -> str:
    if not writes:
        return "nothing in the configured database was changed."
    return (
        "a migration in progress was rolled back, or marked dirty if it was "
        "a no-transaction one; see `sqlmig status`."
    )


def fail(exc: SqlmigError, url: str | None = None, *, json: bool = False) -> None:
    """Print ``exc`` (and what its run had already done) and exit with its code."""
    from sqlmig import render

    render.failure(exc, mask_with=url, json=json)
    raise typer.Exit(exc.exit_code)


ScratchUrl = Annotated[
    str | None,
    typer.Option(
        "--scratch-url",
        help="PostgreSQL server to create the temporary database on [default: the same].",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
BackupDir = Annotated[
    Path | None,
    typer.Option("--backup-dir", help="Folder for backups [default: backups].", show_default=False),
]
Keep = Annotated[
    int | None,
    typer.Option(
        "--keep", help="Keep only the newest K backups of this database.", show_default=False
    ),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Print the exact SQL that would run, in order, and change nothing."
    ),
]


def report(
    findings: list[str],
    *,
    json: bool,
    key: str,
    failed: str,
    ok: str,
    extra: dict[str, object] | None = None,
    notes: list[str] | None = None,
    warnings: list[str] | None = None,
) -> None:
    """A check's verdict: each finding on its line (``failed`` above them, with {n} for
    their count), or ``ok``, then any warnings (which do not fail it) and notes on how it
    was made (never findings); exits with the check-failed code when there is any finding."""
    from sqlmig import documents, render

    if json:
        noted = {} if notes is None else {"notes": notes}
        warned = {} if warnings is None else {"warnings": warnings}
        documents.emit({"ok": not findings, **(extra or {}), key: findings, **warned, **noted})
    else:
        render.findings(findings, failed=failed, ok=ok, notes=notes or (), warnings=warnings or ())
    if findings:
        raise typer.Exit(EXIT_CHECK_FAILED)


SingleTransaction = Annotated[
    bool,
    typer.Option(
        "--single-transaction",
        help="Run every migration in range in one transaction: all of them or none.",
    ),
]
