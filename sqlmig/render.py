"""Turn library results into rich output for people and JSON for machines."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlmig.errors import Interrupted, SqlmigError
from sqlmig.models import (
    BackupInfo,
    Direction,
    MigrationStatus,
    PartialRun,
    RunResult,
    SeedState,
    State,
    Status,
)

if TYPE_CHECKING:
    from rich.console import Console

    from sqlmig.schema import Findings
    from sqlmig.schemaops import DumpResult


def __getattr__(name: str) -> Console:
    """``render.out`` and ``render.err``, made on first use: rich costs ~15 ms to import,
    and `sqlmig status` piped into a file never needs it."""
    if name not in ("out", "err"):
        raise AttributeError(name)
    from rich.console import Console

    # soft_wrap: long paths and SQL stay on one line instead of being cut at the width.
    console = Console(stderr=name == "err", highlight=False, soft_wrap=True)
    globals()[name] = console
    return console


def _con(name: str) -> Console:
    found = globals().get(name)
    return found if found is not None else __getattr__(name)


def _plain_stdout() -> bool:
    """stdout is not a terminal, as rich would judge it, told without importing rich."""
    if "out" in globals():
        return not _con("out").is_terminal
    forced = os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE") == "1"
    return not forced and not sys.stdout.isatty()


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


STYLE = {
    State.APPLIED: "green",
    State.PENDING: "yellow",
    State.CHANGED: "bold red",
    State.DOWN_CHANGED: "yellow",
    State.MISSING: "bold red",
    State.DIRTY: "bold red",
}


def failure(
    exc: SqlmigError | Interrupted,
    *,
    mask_with: str | None,
    json: bool,
    label: str = "error",
    command: str = "sqlmig",
    database: str | None = None,
) -> None:
    """The error on stderr, with what its run had already done; with ``json`` also as
    ``command``'s one document on stdout, naming ``database`` (masked)."""
    message = _masked(str(exc), mask_with)
    _con("err").print(f"[bold red]{label}[/]: {escape(message)}")
    for line in _partial_lines(exc.partial):
        _con("err").print(f"  {escape(line)}")
    if json:
        from sqlmig import documents  # and json with it: only --json needs them

        documents.emit(command, documents.failure(exc, message, database))


def _masked(message: str, url: str | None) -> str:
    """Errors are masked where they are raised; this is the net under that."""
    import contextlib
    import os

    from sqlmig.config import parse_url

    for candidate in (url, os.environ.get("DATABASE_URL")):
        if candidate:
            with contextlib.suppress(SqlmigError):  # a bad URL has its own message
                message = parse_url(candidate).redact(message)
    return message


def _partial_lines(partial: PartialRun | None) -> list[str]:
    if partial is None:
        return []
    lines = []
    if partial.backup is not None:
        lines.append(f"backup taken before the first migration: {partial.backup.path}")
    for direction in Direction:
        done = [s for s in partial.applied if s.direction is direction]
        if done:
            verb = "applied" if direction is Direction.UP else "rolled back"
            names = ", ".join(f"{s.version} ({s.name})" for s in done)
            lines.append(f"{verb} before the failure, and committed: {names}")
    if partial.seeds:
        lines.append(
            "seeded before the failure, and committed: " + ", ".join(s.name for s in partial.seeds)
        )
    return lines


def summary(status: Status) -> str:
    counts = [f"{status.count(s)} {s.value.replace('_', ' ')}" for s in State if status.count(s)]
    at = status.current_version
    where = f"database at version {at}" if at is not None else "database has no migrations applied"
    where += "".join(f", version {v} dirty" for v in status.dirty_versions)
    seeds = [s for s in status.seeds if s.state is not SeedState.APPLIED]
    todo = f"; {len(seeds)} seed file(s) to apply (sqlmig seed)" if seeds else ""
    return f"{len(status.entries)} migration(s): {', '.join(counts) or 'none'}; {where}{todo}."


def status_table(status: Status) -> None:
    header = ("version", "name", "state", "applied at (UTC)", "took", "note")
    rows = [_status_cells(e) for e in status.entries]
    styles = [STYLE[e.state] for e in status.entries]
    for s in status.seeds:
        rows.append(("seed", s.name, s.state, "", "", ""))
        styles.append("green" if s.state is SeedState.APPLIED else "yellow")
    footer_style = "green" if status.ok else "yellow"
    columns(
        f"sqlmig status: {status.database}",
        header,
        rows,
        styles,
        state_column=2,
        right={0, 4},
        footer=(summary(status), footer_style),
    )
    if status.wrong_database:
        line = f"warning: {status.wrong_database}"
        if _plain_stdout():
            sys.stdout.write(line + "\n")
        else:
            _con("out").print(f"[yellow]{escape(line)}[/]")


def columns(
    title: str,
    header: tuple[str, ...],
    rows: Sequence[tuple[str, ...]],
    styles: list[str],
    *,
    state_column: int,
    right: set[int],
    footer: tuple[str, str] | None = None,
) -> None:
    """Aligned columns, last one unpadded; one column coloured per row.

    Built by hand rather than with rich's Table: that takes ~0.5 s for 1,000 rows and
    wraps long notes into unreadable boxes in an 80-column terminal.
    """
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines: list[list[str]] = []
    for row in [header, *rows]:
        used = max((i for i, cell in enumerate(row) if cell), default=0) + 1
        lines.append(
            [
                cell
                if i == used - 1
                else cell.rjust(widths[i])
                if i in right
                else cell.ljust(widths[i])
                for i, cell in enumerate(row[:used])
            ]
        )
    if _plain_stdout():  # piped or captured: no styles to show, so no rich at all
        body = ["  ".join(cells) for cells in lines]
        sys.stdout.write("\n".join([title, *body, *([footer[0]] if footer else [])]) + "\n")
        return
    from rich.text import Text

    text = Text(title + "\n", style="bold")
    for n, (cells, style) in enumerate(zip(lines, ["bold", *styles], strict=True)):
        for i, cell in enumerate(cells):
            text.append(cell, style=style if i == state_column or n == 0 else None)
            text.append("\n" if i == len(cells) - 1 else "  ")
    if footer:
        text.append(footer[0], style=footer[1])
    text.rstrip()
    _con("out").print(text, soft_wrap=True)


def _status_cells(e: MigrationStatus) -> tuple[str, str, str, str, str, str]:
    row = e.row
    took = f"{row.execution_ms} ms" if row and row.execution_ms is not None else ""
    applied_at = row.applied_at[:19].replace("T", " ") if row else ""
    return (str(e.version), e.name, e.state.value.replace("_", " "), applied_at, took, e.detail)


def backup_line(json: bool, before: str = "migrating") -> Callable[[BackupInfo], None]:
    """Says where the backup went before the first migration runs: on stderr with
    ``json``, where stdout is the document, which a killed run never prints."""

    def show(b: BackupInfo) -> None:
        _con("err" if json else "out").print(
            f"backup before {before}: {escape(str(b.path))} ({b.size:,} bytes)"
        )

    return show


def run_summary(result: RunResult, direction: Direction) -> None:
    status = result.status
    for s in result.seeds:
        _con("out").print(
            f"  seeded {escape(s.name)} in {s.duration_ms} ms ({s.statements} statement(s))"
        )
    if not result.steps:
        _con("out").print(
            "Nothing to do: " + escape(summary(status) if status else "no migrations to run.")
        )
        return
    verb = "applied" if direction is Direction.UP else "rolled back"
    _con("out").print(
        f"[green]{verb} {len(result.steps)} migration(s) in {result.duration_ms} ms.[/]"
    )
    for step in result.steps:
        if direction is Direction.DOWN and step.statements == 0:
            _con("out").print(
                f"[yellow]note[/]: rolling back {step.version} ({escape(step.name)}) undid "
                "nothing: its down file has no statements; only its version row was removed."
            )
    if status is not None:
        _con("out").print(escape(summary(status)))


def run_report(
    result: RunResult, direction: Direction, *, json: bool, command: str, database: str
) -> None:
    if json:
        from sqlmig import documents

        documents.emit(command, documents.run(result, direction, database))
        return
    run_summary(result, direction)
    if result.drift is not None:
        drift_report(result.drift)


def drift_report(drift: Findings) -> None:
    findings(
        drift,
        failed="schema drift: {n} difference(s)",
        ok="[green]schema matches schema.sql[/]",
        notes=drift.notes,
    )


_STYLE_TAG = re.compile(r"\[/?[a-z ]*\]")  # [green] and [/] in a verdict sqlmig wrote


def findings(
    lines: Sequence[str],
    *,
    failed: str,
    ok: str,
    notes: Sequence[str] = (),
    warnings: Sequence[str] = (),
) -> None:
    """A check's verdict: ``failed`` (with {n}, their count) and each finding on its
    line, or ``ok`` when there is none; then warnings, and the notes on how it was made."""
    if _plain_stdout():  # piped or captured: no styles to show, so no rich at all
        said = [failed.format(n=len(lines)), *(f"  - {line}" for line in lines)]
        said = said if lines else [_STYLE_TAG.sub("", ok)]
        said += [f"warning: {warning}" for warning in warnings]
        sys.stdout.write("\n".join([*said, *(f"note: {note}" for note in notes)]) + "\n")
        return
    if lines:
        _con("out").print(f"[red]{failed.format(n=len(lines))}[/]")
        for line in lines:
            _con("out").print(f"  - {escape(line)}")
    else:
        _con("out").print(ok)
    for warning in warnings:
        _con("out").print(f"[yellow]warning[/]: {escape(warning)}")
    for note in notes:
        _con("out").print(f"[yellow]note[/]: {escape(note)}")


def dump_report(done: DumpResult) -> None:
    # On stderr: stdout may be the file written (-o /dev/stdout).
    _con("err").print(f"wrote {done.path} ({done.statements} statements)")
    for note in done.notes:
        _con("err").print(f"[yellow]note[/]: {escape(note)}")
    if done.left_out:
        _con("err").print(
            f"[yellow]warning[/]: {len(done.left_out)} object(s) of kinds sqlmig does not dump; "
            f"listed at the top of {done.path}: {', '.join(done.left_out)}"
        )
