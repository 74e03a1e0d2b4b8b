"""What every command shares: the app, the common options, the one error handler.

A command is a function whose first parameter is a ``Common`` (the options every
database command takes); ``@command`` appends those options to its signature for typer
and hands the function one ``Common`` value, then maps any SqlmigError to its message
on stderr and its documented exit code.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sqlmig.errors import EXIT_CHECK_FAILED, SqlmigError

if TYPE_CHECKING:  # the real imports are lazy: `sqlmig --help` must not pay for them
    from sqlmig.fleet import Fleet
    from sqlmig.fleet_schedule import OnDone
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


@dataclass(frozen=True, slots=True)
class Targets:
    """The options of the commands that run on a fleet; None means "not given"."""

    target: list[str] | None = None
    all_targets: bool | None = None
    parallel: int | None = None
    continue_on_error: bool | None = None
    canary: int | None = None
    shard: str | None = None

    @property
    def chosen(self) -> bool:
        """Whether this run is for targets of sqlmig.toml rather than one database."""
        if self.target or self.all_targets:
            return True
        given = [f"--{f.name.replace('_', '-')}" for f in fields(self) if getattr(self, f.name)]
        if given:
            from sqlmig.errors import ConfigError

            raise ConfigError(f"{', '.join(given)}: name targets with --target or --all-targets")
        return False

    def fleet(self, common: Common, on_done: OnDone | None = None, **more: Any) -> Fleet:
        """The Fleet these options select, with ``common`` and ``more`` settings."""
        from sqlmig.fleet import Fleet

        return Fleet.from_config(
            select=self.target or (),
            all_targets=bool(self.all_targets),
            shard=self.shard,
            parallel=self.parallel or 1,
            continue_on_error=bool(self.continue_on_error),
            canary=self.canary or 0,
            on_done=on_done,
            **asdict(common),
            **more,
        )


_TARGET_OPTIONS: dict[str, Any] = {
    "target": Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="Run on this target of sqlmig.toml (repeatable; a glob such as 'eu-*'; "
            "a group's name selects its members, 'tenants/a*' some of them).",
            show_default=False,
        ),
    ],
    "all_targets": Annotated[
        bool, typer.Option("--all-targets", help="Run on every target of sqlmig.toml.")
    ],
    "parallel": Annotated[
        int | None,
        typer.Option(
            "--parallel", min=1, help="Targets run at once [default: 1].", show_default=False
        ),
    ],
    "continue_on_error": Annotated[
        bool,
        typer.Option(
            "--continue-on-error",
            help="Go on past a failed target (default: start no more after one failed).",
        ),
    ],
    "canary": Annotated[
        int | None,
        typer.Option(
            "--canary",
            min=0,
            help="Run the first K targets alone first; stop if any of them fails.",
            show_default=False,
        ),
    ],
    "shard": Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="Take slice I of N of the targets (I/N, by a stable hash of each name).",
            show_default=False,
        ),
    ],
}
assert list(_TARGET_OPTIONS) == [f.name for f in fields(Targets)]


def command(
    *, writes: bool, fleet: bool = False
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``fn(common, ...)`` as the command named like ``fn``. ``writes`` says
    whether it may change the configured database (for what Ctrl-C reports); with
    ``fleet`` it also takes the target options, as ``fn(common, targets, ...)``."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        sig = inspect.signature(fn, eval_str=True)
        own = list(sig.parameters.values())[2 if fleet else 1 :]
        added = {**_OPTIONS, **(_TARGET_OPTIONS if fleet else {})}
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=ann, default=None)
            for name, ann in added.items()
        ]

        name = fn.__name__.rstrip("_").replace("_", "-")

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> None:
            common = Common(**{key: kwargs.pop(key) for key in _OPTIONS})
            chosen = Targets(**{key: kwargs.pop(key) for key in _TARGET_OPTIONS if fleet})
            one = None if chosen.target or chosen.all_targets else common
            json = kwargs.get("json", False)
            with handled(common.database_url, writes=writes, json=json, command=name, common=one):
                if fleet:
                    fn(common, chosen, **kwargs)
                else:
                    fn(common, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *extra]}
        app.command(name)(wrapper)
        return wrapper

    return register


@contextmanager
def handled(
    url: str | None = None,
    *,
    writes: bool = False,
    json: bool = False,
    command: str = "sqlmig",
    common: Common | None = None,
) -> Iterator[None]:
    """Map what a command raises to a message on stderr (and with ``json`` its failure
    document on stdout, naming ``common``'s database) and an exit code."""
    try:
        yield
    except SqlmigError as exc:
        fail(exc, url, json=json, command=command, database=_database(common) if json else None)
    except KeyboardInterrupt as exc:
        from sqlmig import render
        from sqlmig.errors import Interrupted

        partial = exc.partial if isinstance(exc, Interrupted) else None
        stopped = Interrupted(partial, _interrupted(writes))
        render.failure(
            stopped,
            mask_with=url,
            json=json,
            label="interrupted",
            command=command,
            database=_database(common) if json else None,
        )
        raise typer.Exit(stopped.exit_code) from None


def _database(common: Common | None) -> str | None:
    """The masked URL of the database a failed command was for; None for a run on targets
    (each target's document names its own) or when the settings themselves are wrong."""
    if common is None:
        return None
    from sqlmig.config import load_settings

    try:
        return load_settings(asdict(common)).url.masked
    except SqlmigError:
        return None


def _interrupted(writes: bool) -> str:
    if not writes:
        return "nothing in the configured database was changed."
    return (
        "a migration in progress was rolled back, or marked dirty if it was "
        "a no-transaction one; see `sqlmig status`."
    )


def fail(
    exc: SqlmigError,
    url: str | None = None,
    *,
    json: bool = False,
    command: str = "sqlmig",
    database: str | None = None,
) -> None:
    """Print ``exc`` (and what its run had already done) and exit with its code."""
    from sqlmig import render

    render.failure(exc, mask_with=url, json=json, command=command, database=database)
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
    typer.Option(
        "--backup-dir",
        help="Folder for backups [default: backups next to the SQLite file, else ./backups].",
        show_default=False,
    ),
]
Yes = Annotated[
    bool,
    typer.Option(
        "--yes", "-y", help="Do not ask for confirmation (needed where there is no terminal)."
    ),
]
BackupFlag = Annotated[
    bool | None,
    typer.Option(
        "--backup/--no-backup",
        help="Take a checked backup before changing anything "
        "[default: on for SQLite, off for PostgreSQL].",
        show_default=False,
    ),
]
Keep = Annotated[
    int | None,
    typer.Option(
        "--keep", help="Keep only the newest K backups of this database.", show_default=False
    ),
]
Vars = Annotated[
    list[str] | None,
    typer.Option(
        "--var",
        help="NAME=VALUE for :'NAME' and :\"NAME\" in migration and seed files (repeatable).",
        show_default=False,
    ),
]


def variables(given: list[str] | None) -> dict[str, str] | None:
    """--var options as the vars setting (added to the config file's), None if none."""
    if not given:
        return None
    from sqlmig.variables import parse_assignments

    return parse_assignments(given)


DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Print the exact SQL that would run, in order, and change nothing."
    ),
]


def report(
    findings: Sequence[str],
    *,
    document: tuple[str, dict[str, Any]] | None,
    failed: str,
    ok: str,
    notes: list[str] | None = None,
    warnings: list[str] | None = None,
) -> None:
    """A check's verdict: with ``document`` (its command and body, for --json) that alone;
    else each finding on its line (``failed`` above them, with {n} for their count), or
    ``ok``, then any warnings (which do not fail it) and notes on how it was made (never
    findings). Exits with the check-failed code when there is any finding."""
    from sqlmig import documents, render

    if document is not None:
        documents.emit(*document)
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
