"""The JSON documents sqlmig prints with --json: exactly one per command, on stdout,
for success and for failure alike.

One naming scheme throughout (sqlmig.docschema checks it): snake_case keys, times as
ISO 8601 UTC (``2026-12-01T10:00:00.000Z``) under keys ending in ``_at``, a database
with nothing applied at ``current_version`` null, and every finding of a check as an
object (``kind``, ``object``, ``detail``) that keeps the line people read as ``text``.
Each builder returns a command's body; ``emit`` adds ``command`` and prints it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlmig.errors import Interrupted, LintError, SqlmigError, StatementError, ValidationError
from sqlmig.models import (
    BackupInfo,
    Direction,
    HistoryEvent,
    Metrics,
    Migration,
    MigrationStatus,
    PartialRun,
    RunResult,
    SeedResult,
    SeedStatus,
    State,
    Status,
    StepResult,
)
from sqlmig.schema import Item

if TYPE_CHECKING:
    from sqlmig.config import Dialect
    from sqlmig.lint import Finding
    from sqlmig.schemaops import Drift, DumpResult, RoundTripResult
    from sqlmig.variables import Bindings

Doc = dict[str, Any]


def emit(command: str, body: Doc) -> None:
    """Print ``body`` as ``command``'s document: the one thing on stdout."""
    sys.stdout.write(json.dumps({"command": command, **body}, indent=2) + "\n")


def utc(value: str | float | None) -> str | None:
    """A time (ISO text as a database or a file name gave it, or Unix seconds) as ISO
    8601 in UTC with milliseconds: one shape, whatever the engine or session zone."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        at = datetime.fromtimestamp(value, UTC)
    else:
        at = datetime.fromisoformat(value)
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def finding(found: str) -> Doc:
    """One problem or difference as an object; a plain line is one about the whole check."""
    if isinstance(found, Item):
        text = str(found)
        return {"kind": found.kind, "object": found.object, "detail": found.detail, "text": text}
    return {"kind": "other", "object": None, "detail": str(found), "text": str(found)}


def findings(found: Iterable[str]) -> list[Doc]:
    return [finding(f) for f in found]


def failure(exc: SqlmigError | Interrupted, message: str, database: str | None) -> Doc:
    """What failed (the error with its file, line and the database's own message where a
    statement failed) and what the run had already done, which stays done."""
    statement = exc if isinstance(exc, StatementError) else None
    problems = [p.item() for p in exc.problems] if isinstance(exc, ValidationError) else []
    error: Doc = {
        "kind": type(exc).__name__,
        "exit_code": exc.exit_code,
        "message": message,
        "file": str(statement.path) if statement else None,
        "line": statement.line if statement else None,
        "statement": statement.statement if statement else None,
        "db_message": statement.db_message if statement else None,
        "code": statement.code if statement else None,
        "problems": findings(problems),
    }
    if isinstance(exc, LintError):
        from sqlmig.lint import findings as lint_formats

        shown = [f for f in exc.findings if isinstance(f, lint_formats.Finding)]
        error["lint"] = lint_formats.as_json(shown, len({f.path for f in shown}))["findings"]
    return {
        "ok": False,
        "database": database,
        "exit_code": exc.exit_code,
        "error": error,
        **partial(exc.partial),
    }


def partial(done: PartialRun | None) -> Doc:
    """A failed run's steps that committed, its backup, and the file it was running."""
    failed = done.failed if done else None
    return {
        "applied": [step(s) for s in done.applied] if done else [],
        "seeds": [seed(s) for s in done.seeds] if done else [],
        "backup": backup(done.backup) if done and done.backup else None,
        "failed": (
            {
                "file": str(failed.path),
                "name": failed.name,
                "version": failed.version,
                "direction": failed.direction,
            }
            if failed
            else None
        ),
    }


def status(status: Status) -> Doc:
    return {
        "ok": status.ok,
        "database": status.database,
        "current_version": status.current_version,
        "dirty_versions": status.dirty_versions,
        "wrong_database": status.wrong_database,
        "counts": {s.value: status.count(s) for s in State},
        "migrations": [_entry(e) for e in status.entries],
        "seeds": [{"file": s.name, "state": s.state.value} for s in status.seeds],
    }


def _entry(e: MigrationStatus) -> Doc:
    return {
        "version": e.version,
        "name": e.name,
        "state": e.state.value,
        "detail": e.detail,
        "invalid_indexes": list(e.invalid_indexes),
        "file": str(e.migration.up.path) if e.migration else None,
        "applied_at": utc(e.row.applied_at) if e.row else None,
        "execution_ms": e.row.execution_ms if e.row else None,
        "applied_by": e.row.applied_by if e.row else None,
    }


def step(s: StepResult) -> Doc:
    return {**asdict(s), "direction": s.direction.value}


def seed(s: SeedResult) -> Doc:
    return {"file": s.name, "duration_ms": s.duration_ms, "statements": s.statements}


def run(result: RunResult, direction: Direction, database: str) -> Doc:
    """apply or rollback: the steps, seeds and backup, where the database stands after,
    and with apply --verify the differences found then (null without --verify)."""
    drift = result.drift
    return {
        "ok": not drift,
        "database": database,
        "direction": direction.value,
        "duration_ms": result.duration_ms,
        "steps": [step(s) for s in result.steps],
        "seeds": [seed(s) for s in result.seeds],
        "backup": backup(result.backup) if result.backup else None,
        "status": status(result.status) if result.status else None,
        "differences": None if drift is None else findings(drift),
        "notes": [] if drift is None else list(drift.notes),
    }


def event(e: HistoryEvent) -> Doc:
    renamed = {"at": "occurred_at"}  # every time's key ends in _at
    doc = {renamed.get(key, key): value for key, value in asdict(e).items()}
    doc["occurred_at"] = utc(e.at)
    doc["variables"] = json.loads(e.variables) if e.variables else None
    doc["event"], doc["direction"] = e.event.value, e.direction.value if e.direction else None
    return doc


def history(events: list[HistoryEvent], database: str) -> Doc:
    return {"ok": True, "database": database, "events": [event(e) for e in events]}


def backup(b: BackupInfo) -> Doc:
    doc = asdict(b)
    source = doc["source"]
    if source is not None:
        source["schemas"], source["left_out"] = list(source["schemas"]), list(source["left_out"])
    return doc | {"path": str(b.path), "taken_at": utc(b.taken_at)}


def backups(found: list[BackupInfo], folder: str, database: str) -> Doc:
    return {
        "ok": True,
        "database": database,
        "backup_dir": folder,
        "backups": [backup(b) for b in found],
    }


def metrics(m: Metrics) -> Doc:
    """The values `sqlmig metrics` exports. Unlike the gauge, which has to be a number,
    ``current_version`` is null when nothing is applied, as in every other document."""
    doc = asdict(m)
    doc["last_run_at"] = utc(m.last_run_at)
    return {"ok": True, **doc}


def validation(
    problems: Sequence[str],
    linted: list[Finding],
    database: str,
    warnings: Sequence[str] = (),
    diffs: dict[int, list[str]] | None = None,
) -> Doc:
    """validate: its problems (lint's errors among them), every lint finding, the
    warnings (down files edited since applied) and the diffs of edited files."""
    from sqlmig.lint import findings as lint_formats

    lint = lint_formats.as_json(linted, len({f.path for f in linted}))["findings"]
    return {
        "ok": not problems,
        "database": database,
        "problems": findings(problems),
        "lint": lint,
        "warnings": findings(warnings),
        "diffs": {str(v): "\n".join(lines) for v, lines in (diffs or {}).items()},
    }


def drift(found: Drift, database: str) -> Doc:
    """diff: what the database was compared with, and every difference."""
    return {
        "ok": not found,
        "database": database,
        "compared_with": found.compared_with,
        "version": found.version,
        "pending": found.pending,
        "differences": findings(found),
        "notes": list(found.notes),
    }


def roundtrip(trip: RoundTripResult, database: str) -> Doc:
    return {
        "ok": not trip.problems,
        "database": database,
        "migrations": trip.migrations,
        "irreversible": trip.irreversible,
        "compared_with_schema_sql": trip.compared_with_schema_sql,
        "problems": findings(trip.problems),
        "warnings": trip.warnings,
        "notes": trip.notes,
    }


def plan(
    migrations: list[Migration],
    direction: Direction,
    dialect: Dialect,
    variables: Bindings | None,
    *,
    whole: bool,
    database: str,
) -> Doc:
    """A dry run: each file that would run, and its statements as they would be sent."""
    files = [m.file(direction) for m in migrations]
    return {
        "ok": True,
        "database": database,
        "dry_run": True,
        "direction": direction.value,
        "single_transaction": whole,
        "migrations": [
            {
                "version": m.version,
                "name": m.name,
                "direction": direction.value,
                "file": str(f.path),
                "no_transaction": f.no_transaction,
                "statements": [
                    {"line": st.line, "sql": _bound(st.text, variables)}
                    for st in f.statements(dialect)
                ],
            }
            for m, f in zip(migrations, files, strict=True)
        ],
    }


def planned_seeds(
    seeds: Sequence[SeedStatus], dialect: Dialect, variables: Bindings | None
) -> list[Doc]:
    """The seed files a run would apply (new or changed), each with the statements it
    would send, as a plan's migrations have theirs."""
    return [
        {
            "file": s.name,
            "state": str(s.state),
            "statements": [
                {"line": st.line, "sql": _bound(st.text, variables)}
                for st in s.file.statements(dialect)
            ],
        }
        for s in seeds
    ]


def _bound(text: str, variables: Bindings | None) -> str:
    return variables.substitute(text) if variables else text


def dump(done: DumpResult, database: str, *, from_migrations: bool, inline: bool) -> Doc:
    """``inline``: the SQL itself is the ``sql`` key (``-o -``), not only written."""
    return {
        "ok": True,
        "database": database,
        "from_migrations": from_migrations,
        "file": None if done.path is None else str(done.path),
        "statements": done.statements,
        "left_out": done.left_out,
        "notes": done.notes,
        "sql": done.text if inline else None,
    }
