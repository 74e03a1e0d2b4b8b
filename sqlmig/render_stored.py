"""Output of stored SQL and of redo and goto: diffs of edited files, rollback notes."""

from __future__ import annotations

import sys

from sqlmig.models import Direction, RunResult


def diffs(changes: dict[int, list[str]]) -> None:
    """Each edited version's unified diff against the SQL it was applied with."""
    from sqlmig import render

    for version, lines in changes.items():
        if render._plain_stdout():  # a diff piped into a file or `patch` stays plain
            sys.stdout.write(f"version {version}:\n" + "\n".join(lines) + "\n")
            continue
        render.out.print(f"[bold]version {version}:[/]")
        for line in lines:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else None
            render.out.print(render.escape(line), style=style)


def step_notes(result: RunResult) -> None:
    """What a rollback step said beside its result (its down file changed since apply,
    or came from the database)."""
    from sqlmig import render

    for step in result.steps:
        if step.note:
            render.out.print(
                f"[yellow]note[/]: {step.version} ({render.escape(step.name)}): "
                f"{render.escape(step.note)}"
            )


def redo_report(result: RunResult, *, json: bool, database: str) -> None:
    from sqlmig import documents, render

    if json:
        documents.emit(
            "redo", documents.run(result, Direction.UP, database) | {"direction": "redo"}
        )
        return
    step = result.steps[-1] if result.steps else None
    if step is not None:
        took = sum(s.duration_ms for s in result.steps)
        render.out.print(
            f"[green]redid {step.version} ({render.escape(step.name)}): rolled back and "
            f"applied again in {took} ms.[/]"
        )
    step_notes(result)
    if result.status is not None:
        render.out.print(render.escape(render.summary(result.status)))
