"""The `sqlmig` command: thin typer commands over sqlmig.Migrator.

Each command parses its options, calls one library method and renders the result;
one handler turns SqlmigError into a message on stderr and its documented exit code.
"""

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sqlmig import __version__
from sqlmig.errors import EXIT_CHECK_FAILED, SqlmigError

if TYPE_CHECKING:  # the real imports are lazy: `sqlmig --help` must not pay for them
    from datetime import datetime

    from sqlmig.migrator import Migrator
    from sqlmig.models import Migration, RunResult

app = typer.Typer(
    help="Plain-SQL schema migrations for PostgreSQL and SQLite.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Options every database command takes; collected by @command into `opts`.
_COMMON: dict[str, Any] = {
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


# Commands that never write to the configured database (scratch databases aside).
_READ_ONLY = {
    "status",
    "validate",
    "history",
    "diff",
    "test",
    "dump",
    "backups",
    "metrics",
    "wait",
    "lint",
}


def command(fn: Callable[..., None]) -> Callable[..., None]:
    """Register ``fn(opts, ...)`` as a command with the common options appended."""
    sig = inspect.signature(fn, eval_str=True)
    own = list(sig.parameters.values())[1:]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=ann, default=None)
        for name, ann in _COMMON.items()
    ]

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        opts = {name: kwargs.pop(name) for name in _COMMON}
        try:
            fn(opts, **kwargs)
        except SqlmigError as exc:
            _fail(exc, opts.get("database_url"))
        except KeyboardInterrupt:
            from sqlmig import render

            render.err.print(
                "[red]interrupted[/]: "
                + (
                    "nothing in the configured database was changed."
                    if fn.__name__ in _READ_ONLY
                    else "a migration in progress was rolled back, or marked dirty if it was "
                    "a no-transaction one; see `sqlmig status`."
                )
            )
            raise typer.Exit(130) from None

    wrapper.__signature__ = sig.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *extra]}
    app.command(fn.__name__.rstrip("_").replace("_", "-"))(wrapper)
    return wrapper


def _fail(exc: SqlmigError, url: str | None = None) -> None:
    import contextlib
    import os

    from rich.markup import escape

    from sqlmig import render
    from sqlmig.config import parse_url

    message = str(exc)
    # Errors are masked where they are raised; this is the net under that.
    for candidate in (url, os.environ.get("DATABASE_URL")):
        if candidate:
            with contextlib.suppress(SqlmigError):  # a bad URL has its own message
                message = parse_url(candidate).redact(message)
    render.err.print(f"[bold red]error[/]: {escape(message)}")
    raise typer.Exit(exc.exit_code)


def _migrator(opts: dict[str, Any]) -> "Migrator":
    from sqlmig.migrator import Migrator

    return Migrator.from_config(**opts)


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


@command
def status(
    opts: dict[str, Any],
    json: Json = False,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code",
            help="Exit 1 when anything is pending, changed, missing or dirty (CI gate).",
        ),
    ] = False,
) -> None:
    """Show every migration and its state: applied, pending, changed, missing or dirty."""
    from sqlmig import render

    with _migrator(opts) as m:
        st = m.status()
    if json:
        render.emit_json(render.status_json(st))
    else:
        render.status_table(st)
    if exit_code and not st.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


@command
def apply(
    opts: dict[str, Any],
    to: Annotated[int | None, typer.Option("--to", help="Stop after this version.")] = None,
    dry_run: DryRun = False,
    allow_out_of_order: Annotated[
        bool,
        typer.Option(
            "--allow-out-of-order",
            help="Apply pending migrations numbered below the newest applied one.",
        ),
    ] = False,
    backup: Annotated[
        bool | None,
        typer.Option(
            "--backup/--no-backup",
            help="Take a checked backup before changing anything "
            "[default: on for SQLite, off for PostgreSQL].",
            show_default=False,
        ),
    ] = None,
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
    json: Json = False,
) -> None:
    """Apply pending migrations in order, each in its own transaction."""
    from sqlmig import render
    from sqlmig.errors import ConfigError

    if verify and to is not None:
        raise ConfigError("--verify compares with schema.sql, the newest version: drop --to")
    with _migrator({**opts, "backup_dir": backup_dir, "backup_keep": keep}) as m:
        if dry_run:
            _print_plan(m, m.plan_apply(to, allow_out_of_order=allow_out_of_order), "up")
            return
        if verify:
            m.check_scratch(scratch_url)  # before migrating: an error after would mislead
        progress = None if json else render.step_line
        result = m.apply(
            to,
            allow_out_of_order=allow_out_of_order,
            on_step=progress,
            backup=backup,
            seed=seed,
        )
        drift = m.diff(scratch_url=scratch_url) if verify else None
    if json and drift is not None:  # one JSON document: the run, and the check after it
        render.emit_json({**render.run_json(result, "up"), "differences": drift})
        if drift:
            raise typer.Exit(EXIT_CHECK_FAILED)
        return
    _print_run(result, "up", json)
    if drift is not None:
        _report_drift(drift, json=False)


@command
def rollback(
    opts: dict[str, Any],
    count: Annotated[
        int, typer.Argument(help="How many applied migrations to undo, newest first.")
    ] = 1,
    to: Annotated[
        int | None, typer.Option("--to", help="Undo every applied migration above this version.")
    ] = None,
    dry_run: DryRun = False,
    json: Json = False,
) -> None:
    """Run the down files of the last COUNT applied migrations, newest first."""
    from sqlmig import render

    with _migrator(opts) as m:
        if dry_run:
            _print_plan(m, m.plan_rollback(count, to=to), "down")
            return
        result = m.rollback(count, to=to, on_step=None if json else render.step_line)
    _print_run(result, "down", json)


def _report(
    findings: list[str],
    *,
    json: bool,
    key: str,
    failed: str,
    ok: str,
    extra: dict[str, object] | None = None,
) -> None:
    """A check's verdict: each finding on its line (``failed`` above them, with {n} for
    their count), or ``ok``; exits with the check-failed code when there is any."""
    from rich.markup import escape

    from sqlmig import render

    if json:
        render.emit_json({"ok": not findings, **(extra or {}), key: findings})
    elif findings:
        render.out.print(f"[red]{failed.format(n=len(findings))}[/]")
        for line in findings:
            render.out.print(f"  - {escape(line)}")
    else:
        render.out.print(ok)
    if findings:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _report_drift(drift: list[str], *, json: bool) -> None:
    _report(
        drift,
        json=json,
        key="differences",
        failed="schema drift: {n} difference(s)",
        ok="[green]schema matches schema.sql[/]",
    )


@command
def diff(
    opts: dict[str, Any],
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Schema file to compare with [default: DIR/schema.sql].",
            show_default=False,
        ),
    ] = None,
    scratch_url: ScratchUrl = None,
    json: Json = False,
) -> None:
    """Drift check: list every difference between the database and schema.sql; exit 1 on any."""
    with _migrator(opts) as m:
        drift = m.diff(baseline, scratch_url=scratch_url)
    _report_drift(drift, json=json)


@command
def dump(
    opts: dict[str, Any],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write, or - for standard output [default: DIR/schema.sql].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the database's schema as deterministic SQL (the baseline `diff` compares with)."""
    from sqlmig import render
    from sqlmig.schema import LEFT_OUT

    with _migrator(opts) as m:
        if output == "-":
            typer.echo(m.dump(), nl=False)
            return
        path = Path(output) if output else m.settings.dir / "schema.sql"
        text = m.dump(path)
    statements = sum(1 for line in text.splitlines() if line.endswith(";"))
    render.err.print(f"wrote {path} ({statements} statements)")  # stdout may be the file
    left_out = [
        line.removeprefix(LEFT_OUT) for line in text.splitlines() if line.startswith(LEFT_OUT)
    ]
    if left_out:
        render.err.print(
            f"[yellow]warning[/]: {len(left_out)} object(s) of kinds sqlmig does not dump; "
            f"listed at the top of {path}: {', '.join(left_out)}"
        )


@command
def test(
    opts: dict[str, Any],
    scratch_url: ScratchUrl = None,
    json: Json = False,
) -> None:
    """Round trip in a scratch database: up, down, up for every migration, then schema.sql."""
    with _migrator(opts) as m:
        migrations = m.migrations()
        baseline = m.settings.dir / "schema.sql"
        problems = m.test_roundtrip(scratch_url=scratch_url)
    one_way = [m.label for m in migrations if m.down.irreversible is not None]
    done = f"{len(migrations) - len(one_way)} migration(s) up, down and up again"
    if one_way:
        done += f", {len(one_way)} irreversible one(s) up only"
    done += (
        "; the result matches schema.sql."
        if baseline.is_file()
        else "; no schema.sql to compare the result with."
    )
    _report(
        problems,
        json=json,
        key="problems",
        failed="round trip failed: {n} problem(s)",
        ok=f"[green]round trip ok[/]: {done}",
        extra={
            "migrations": len(migrations),
            "irreversible": one_way,
            "compared_with_schema_sql": baseline.is_file(),
        },
    )


def _print_plan(m: "Migrator", plan: "list[Migration]", direction: str) -> None:
    from sqlmig import render

    typer.echo(render.dry_run(plan, direction, m.settings.url.dialect, m.settings.table), nl=False)


def _print_run(result: "RunResult", direction: str, json: bool) -> None:
    from sqlmig import render

    if json:
        render.emit_json(render.run_json(result, direction))
    else:
        render.run_summary(result, direction)


@command
def validate(opts: dict[str, Any], json: Json = False) -> None:
    """Check the migration set and compare checksums with the database; exit 1 on any problem."""
    with _migrator(opts) as m:
        found = m.validate()
    _report(
        [str(p) for p in found],
        json=json,
        key="problems",
        failed="{n} problem(s):",
        ok="[green]ok[/]: the set is well-formed and matches the database.",
    )


@command
def baseline(
    opts: dict[str, Any],
    version: Annotated[int, typer.Argument(help="The version the database is already at.")],
) -> None:
    """Mark an existing database as being at VERSION without running anything."""
    from sqlmig import render

    with _migrator(opts) as m:
        chosen = m.baseline(version)
    render.out.print(
        f"baseline: marked {len(chosen)} migration(s) up to version {version} as applied "
        "(nothing was run)."
    )


@command
def accept(
    opts: dict[str, Any],
    versions: Annotated[
        list[int] | None,
        typer.Argument(help="Versions whose edited files are right (default: all edited)."),
    ] = None,
) -> None:
    """Record the new checksum of edited applied files, after a human decided the edit is right."""
    from sqlmig import render

    with _migrator(opts) as m:
        done = m.accept(versions or None)
    if done:
        render.out.print(
            f"accepted the edited files of version(s) {', '.join(map(str, done))}; "
            "logged in the history."
        )
    else:
        render.out.print("nothing to accept: no applied file was edited.")


@command
def resolve(
    opts: dict[str, Any],
    version: Annotated[int, typer.Argument(help="The dirty version.")],
    applied: Annotated[
        bool, typer.Option("--applied", help="The change is complete: mark it applied.")
    ] = False,
    rolled_back: Annotated[
        bool, typer.Option("--rolled-back", help="The change is undone: remove its row.")
    ] = False,
) -> None:
    """Clear a dirty version after a failed no-transaction migration was fixed by hand."""
    from sqlmig import render
    from sqlmig.errors import ConfigError

    if applied == rolled_back:
        raise ConfigError("say what you found: exactly one of --applied or --rolled-back")
    with _migrator(opts) as m:
        m.resolve(version, applied=applied)
    render.out.print(
        f"version {version} marked {'applied' if applied else 'rolled back'}; "
        "logged in the history."
    )


@command
def history(
    opts: dict[str, Any],
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=0, help="Show at most this many events (0 = all)."),
    ] = 50,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only events at or after this UTC time (2026-11-24, 2026-11-24T10:00) "
            "or this long ago (30m, 12h, 7d).",
            show_default=False,
        ),
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only failures.")] = False,
    json: Json = False,
) -> None:
    """Show the event log (applies, rollbacks, failures, manual fixes), newest first."""
    from sqlmig import render

    start = _parse_since(since) if since else None
    with _migrator(opts) as m:
        events = m.history(limit or None, since=start, failed=failed)
    if json:
        render.emit_json(render.history_json(events))
    else:
        render.history_table(events)


def _parse_since(text: str) -> "datetime":
    import re
    from datetime import UTC, datetime, timedelta

    from sqlmig.errors import ConfigError

    ago = re.fullmatch(r"(\d+)([smhd])", text.strip())
    try:
        if ago:
            unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[ago.group(2)]
            return datetime.now(UTC) - timedelta(**{unit: int(ago.group(1))})
        return datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ConfigError(f"--since {text!r}: use an ISO date or time, or 30m, 12h, 7d") from None


@app.command("new")
def new(
    name: Annotated[
        str, typer.Argument(help="What the migration does, e.g. add_accounts_email_index.")
    ],
    dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Migration folder [default: sql].", show_default=False),
    ] = None,
) -> None:
    """Write the next numbered up/down pair, ready to edit."""
    from sqlmig.config import load_settings
    from sqlmig.discovery import new_migration

    try:
        folder = load_settings({"dir": dir}).dir
        up, down = new_migration(folder, name)
    except SqlmigError as exc:
        _fail(exc)
    typer.echo(f"created {up}\ncreated {down}")


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


# Command groups that live in their own modules register themselves on `app` on import.
from sqlmig import cli_lint, cli_ops  # noqa: E402, F401


def _terminated(signum: int, _frame: object) -> None:
    # A cancelled CI job sends SIGTERM: unwind like Ctrl-C, so that the migration in
    # progress is rolled back and recorded and scratch databases are dropped.
    raise KeyboardInterrupt


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    app()
