"""The JSON documents sqlmig prints with --json: one per command, on stdout."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

from sqlmig.errors import Interrupted, SqlmigError, StatementError
from sqlmig.models import (
    BackupInfo,
    Direction,
    HistoryEvent,
    MigrationStatus,
    RunResult,
    State,
    Status,
)


def emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def failure(exc: SqlmigError | Interrupted, message: str) -> dict[str, Any]:
    partial = exc.partial
    error: dict[str, Any] = {
        "kind": type(exc).__name__,
        "exit_code": exc.exit_code,
        "message": message,
    }
    if isinstance(exc, StatementError):
        error |= {
            "file": str(exc.path),
            "line": exc.line,
            "statement": exc.statement,
            "db_message": exc.db_message,
            "code": exc.code,
        }
    return {
        "ok": False,
        "error": error,
        "applied": [asdict(s) for s in partial.applied] if partial else [],
        "seeds": [s.name for s in partial.seeds] if partial else [],
        "backup": str(partial.backup.path) if partial and partial.backup else None,
        "failed": (
            {**asdict(partial.failed), "path": str(partial.failed.path)}
            if partial and partial.failed
            else None
        ),
    }


def status(status: Status) -> dict[str, Any]:
    return {
        "database": status.database,
        "current_version": status.current_version,
        "ok": status.ok,
        "counts": {s.value: status.count(s) for s in State},
        "migrations": [_entry(e) for e in status.entries],
        "seeds": [{"file": s.name, "state": s.state} for s in status.seeds],
    }


def _entry(e: MigrationStatus) -> dict[str, Any]:
    return {
        "version": e.version,
        "name": e.name,
        "state": e.state.value,
        "detail": e.detail,
        "invalid_indexes": list(e.invalid_indexes),
        "file": str(e.migration.up.path) if e.migration else None,
        "applied_at": e.row.applied_at if e.row else None,
        "execution_ms": e.row.execution_ms if e.row else None,
        "applied_by": e.row.applied_by if e.row else None,
    }


def run(result: RunResult, direction: Direction) -> dict[str, Any]:
    doc = {
        "direction": direction,
        "duration_ms": result.duration_ms,
        "steps": [asdict(s) for s in result.steps],
        "status": status(result.status) if result.status else None,
        "backup": str(result.backup.path) if result.backup else None,
        "seeds": [s.name for s in result.seeds],
    }
    if result.drift is not None:  # apply --verify: the run and the check after it, together
        doc["differences"] = result.drift
        doc["notes"] = result.drift.notes
    return doc


def history(events: list[HistoryEvent]) -> list[dict[str, Any]]:
    return [asdict(e) for e in events]


def backups(found: list[BackupInfo]) -> list[dict[str, Any]]:
    return [asdict(b) | {"path": str(b.path)} for b in found]
