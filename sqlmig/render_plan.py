"""A dry run's output: the exact SQL a run of migrations or seed files would send, in
order, with the file and line each statement comes from."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlmig.config import Dialect, Settings
from sqlmig.models import Direction, Migration, SeedStatus, SqlFile

if TYPE_CHECKING:
    from sqlmig.variables import Bindings


def print_plan(
    plan: list[Migration],
    direction: Direction,
    settings: Settings,
    variables: Bindings | None = None,
    *,
    whole: bool = False,
    seeds: Sequence[SeedStatus] | None = None,
) -> None:
    dialect, table = settings.url.dialect, settings.table
    sys.stdout.write(
        plan_text(plan, direction, dialect, table, variables=variables, whole=whole, seeds=seeds)
    )


def plan_text(
    plan: list[Migration],
    direction: Direction,
    dialect: Dialect,
    table: str,
    *,
    variables: Bindings | None,
    whole: bool,
    seeds: Sequence[SeedStatus] | None,
) -> str:
    """A dry run's SQL; ``seeds`` (apply --seed): the seed files that would run after it."""
    text = dry_run(plan, direction, dialect, table, variables, whole=whole)
    if seeds is not None:
        if seeds:  # a blank line between the two parts, as between migrations
            text = (text if plan else "-- migrations: nothing to do\n") + "\n"
        text += seed_dry_run(seeds, dialect, table, variables)
    return text


def dry_run(
    plan: list[Migration],
    direction: Direction,
    dialect: Dialect,
    table: str,
    variables: Bindings | None = None,
    *,
    whole: bool = False,
) -> str:
    """The exact statements a run would send, in order, annotated with file and line,
    with ``variables`` substituted; ``whole``: all of them in one transaction
    (--single-transaction)."""
    if not plan:
        return "-- nothing to do\n"
    lines = ["-- --single-transaction: every migration below in one transaction", "BEGIN;", ""]
    lines = lines if whole else []
    for m in plan:
        file = m.file(direction)
        own = not (file.no_transaction or whole)  # a transaction of its own
        mode = (
            "no transaction: statements commit one by one"
            if file.no_transaction
            else "in the run's transaction"
            if whole
            else "one transaction"
        )
        lines.append(f"-- {file.path} (version {m.version}, {direction}, {mode})")
        if own:
            lines.append("BEGIN;")
        lines += _statement_lines(file, dialect, variables)
        action = "insert" if direction is Direction.UP else "delete"
        lines.append(
            f"-- sqlmig: {action} version {m.version} in {table} and append to {table}_history"
        )
        if own:
            lines.append("COMMIT;")
        lines.append("")
    if whole:
        lines += ["COMMIT;", ""]
    return "\n".join(lines)


def seed_dry_run(
    seeds: Sequence[SeedStatus], dialect: Dialect, table: str, variables: Bindings | None = None
) -> str:
    """The statements a seed run would send, as ``dry_run`` shows a migration's: each
    new or changed seed file in its own transaction."""
    if not seeds:
        return "-- seeds: nothing to do\n"
    lines = []
    for s in seeds:
        lines += [f"-- {s.file.path} (seed, {s.state}, one transaction)", "BEGIN;"]
        lines += _statement_lines(s.file, dialect, variables)
        lines += [
            f"-- sqlmig: record {s.name} in {table}_seeds and append to {table}_history",
            "COMMIT;",
            "",
        ]
    return "\n".join(lines)


def _statement_lines(file: SqlFile, dialect: Dialect, variables: Bindings | None) -> list[str]:
    lines = []
    for st in file.statements(dialect):
        lines.append(f"-- {file.path.name}:{st.line}")
        text = variables.substitute(st.text) if variables else st.text
        # A trailing `-- comment` would swallow a `;` written on the same line.
        ends_in_comment = "--" in text.rsplit("\n", 1)[-1]
        lines.append(text + ("\n;" if ends_in_comment else ";"))
    return lines
