"""A fleet's results for people (a line per target as it finishes, a summary table, the
failed targets last) and for machines (one JSON document).

Every URL shown is masked, and every error message has its target's password removed.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.markup import escape

from sqlmig import documents
from sqlmig.config import parse_url
from sqlmig.fleet_results import FleetResult, Plan, TargetResult, Validation
from sqlmig.models import Direction, HistoryEvent, Metrics, RunResult, State, Status
from sqlmig.render import _partial_lines, columns, err, findings, out
from sqlmig.render_metrics import prometheus_text
from sqlmig.render_plan import plan_text
from sqlmig.render_tables import HISTORY_HEADER, history_cells
from sqlmig.schema import Findings
from sqlmig.schemaops import Drift

_MEANING = {
    130: "interrupted",
    5: "a migration or seed failed",
    6: "a backup failed",
    4: "a lock was not acquired",
    3: "cannot connect",
    2: "a usage or configuration error",
    1: "a check failed",
}


def message(r: TargetResult[Any]) -> str:
    """The target's error, without its password."""
    assert r.error is not None
    return parse_url(r.target.url).redact(str(r.error))


def result_text(r: TargetResult[Any]) -> str:
    """What happened to one target, in a few words (an error's first line)."""
    if r.interrupted:
        return "interrupted: the migration in progress was rolled back"
    if r.error is not None:
        return "error: " + message(r).splitlines()[0]
    if not r.started:
        return "not started"
    return _value_text(r.value)


def _value_text(value: object) -> str:
    if isinstance(value, RunResult):
        done = value.steps
        verb = "rolled back" if done and done[0].direction is Direction.DOWN else "applied"
        text = f"{verb} {len(done)} migration(s)" if done else "nothing to do"
        if value.drift:
            text += f"; {len(value.drift)} difference(s) from schema.sql"
        return text
    if isinstance(value, Status):
        counts = [f"{value.count(s)} {s.value}" for s in State if s is not State.APPLIED]
        wrong = [c for c in counts if not c.startswith("0 ")]
        return "ok" if value.ok else ", ".join(wrong) or "seeds to apply"
    if isinstance(value, Validation):
        warnings = len(value.lint) - sum(f.severity == "error" for f in value.lint)
        text = f"{len(value.problems)} problem(s)" if value.problems else "ok"
        return text + (f", {warnings} lint warning(s)" if warnings else "")
    if isinstance(value, list):  # diff
        return f"{len(value)} difference(s)" if value else "matches schema.sql"
    return "ok"


def progress(r: TargetResult[Any], done: int, total: int) -> None:
    versions = ""
    if r.started and (r.before, r.after) != (None, None):
        versions = f", version {_version(r.before)} -> {_version(r.after)}"
    out.print(
        f"[{done}/{total}] {escape(r.target.name)}: {escape(result_text(r))}{versions} "
        f"({r.duration_ms} ms)"
    )


def _version(v: int | None) -> str:
    return "-" if v is None else str(v)


def _order(r: TargetResult[Any]) -> int:
    """Failed targets last: ok, a failed check, not started, failed."""
    return 3 if r.failed else 2 if not r.started else 1 if r.check_failed else 0


def report(
    result: FleetResult[Any], *, json: bool, checks: bool, command: str | None = None
) -> None:
    if json:
        doc = document(result, checks=checks)
        doc.pop("command")
        documents.emit(command or result.command, doc)
        return
    if result.command == "metrics":
        labelled = [
            ({"database": r.database, "target": r.target.name}, r.value)
            for r in result.targets
            if isinstance(r.value, Metrics)
        ]
        sys.stdout.write(prometheus_text(labelled))
        _errors(result, checks=checks, table=False)
        return
    if result.command == "plan":
        for r in result.targets:
            if isinstance(r.value, Plan):
                url = parse_url(r.target.url)
                sys.stdout.write(f"-- target {r.target.name} ({r.database})\n")
                p = r.value
                sys.stdout.write(
                    plan_text(
                        p.migrations,
                        p.direction,
                        url.dialect,
                        p.table,
                        variables=p.variables,
                        whole=p.whole,
                        seeds=p.seeds,
                    )
                )
        _errors(result, checks=checks, table=False)
        return
    if result.command == "history":
        _history(result)
        _errors(result, checks=checks, table=False)
        return
    _details(result)
    summary(result, checks=checks)


def summary(result: FleetResult[Any], *, checks: bool) -> None:
    """The table of every target, failed ones last, and what the exit code is made of."""
    writes = result.command in ("apply", "rollback")
    header = ("target", "database", *(("before", "after") if writes else ("version",)))
    rows, styles = [], []
    for r in sorted(result.targets, key=_order):
        versions = (_version(r.before), _version(r.after)) if writes else (_version(r.before),)
        took = f"{r.duration_ms} ms" if r.started else ""
        rows.append((r.target.name, r.database, *versions, took, result_text(r)))
        styles.append(["green", "yellow", "yellow", "red"][_order(r)])
    right = {2, 3, 4} if writes else {2, 3}
    title = f"sqlmig {result.command}: {len(result.targets)} target(s), run {result.run_id}"
    columns(
        title, (*header, "took", "result"), rows, styles, state_column=len(header) + 1, right=right
    )
    _errors(result, checks=checks, table=True)


def _errors(result: FleetResult[Any], *, checks: bool, table: bool) -> None:
    for r in result.targets:
        if r.error is not None:
            text = message(r)
            if table and "\n" not in text:
                continue  # the table showed it whole
            err.print(f"[bold red]error[/]: {escape(r.target.name)}: {escape(text)}")
            for line in _partial_lines(r.error.partial):
                err.print(f"  {escape(line)}")
    counts = {
        "ok": sum(not r.failed and r.started and not r.check_failed for r in result.targets),
        "failed a check": sum(r.check_failed and not r.failed for r in result.targets),
        "failed": sum(r.error is not None for r in result.targets),
        "interrupted": sum(r.interrupted for r in result.targets),
        "not started": len(result.not_started),
    }
    shown = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    code = result.exit_code(checks=checks)
    line = f"{len(result.targets)} target(s): {shown or 'none selected'}."
    if result.stopped:
        line += f" Stopped: {result.stopped}."
    if code:
        names = ", ".join(r.target.name for r in result.causes(checks=checks))
        line += f" Exit {code} ({_MEANING.get(code, 'failed')}): {names}."
    if table:
        out.print(escape(line), style="red" if code else "green")
    elif code:  # beside a document that must stay clean (metrics, a plan): only failures
        err.print(escape(line), style="red")


def _details(result: FleetResult[Any]) -> None:
    """What each target's check found, by target: problems, differences."""
    for r in result.targets:
        if isinstance(r.value, Validation) and r.value.problems:
            findings(r.value.problems, failed=f"{r.target.name}: {{n}} problem(s):", ok="")
        elif isinstance(r.value, Findings) and (r.value or r.value.notes):
            failed = f"{r.target.name}: schema drift: {{n}} difference(s)"
            ok = f"{r.target.name}: matches schema.sql"
            findings(r.value, failed=failed, ok=ok, notes=r.value.notes)


def _history(result: FleetResult[Any]) -> None:
    rows, styles = [], []
    for r in result.targets:
        events: list[HistoryEvent] = r.value or []
        rows += [(r.target.name, *history_cells(ev)) for ev in events]
        styles += ["green" if ev.success else "red" for ev in events]
    title = "sqlmig history, by target (newest first)"
    columns(title, ("target", *HISTORY_HEADER), rows, styles, state_column=2, right={3, 5})


def document(result: FleetResult[Any], *, checks: bool) -> dict[str, Any]:
    code = result.exit_code(checks=checks)
    return {
        "command": result.command,
        "run_id": result.run_id,
        "ok": code == 0,
        "exit_code": code,
        "caused_by": [r.target.name for r in result.causes(checks=checks)],
        "interrupted": result.interrupted,
        "stopped": result.stopped,
        "targets": [_target(r, result.command, checks=checks) for r in result.targets],
    }


def _target(r: TargetResult[Any], command: str, *, checks: bool) -> dict[str, Any]:
    return {
        "target": r.target.name,
        "database": r.database,
        "tenant": r.target.tenant,
        "state": (
            "interrupted"
            if r.interrupted
            else "failed"
            if r.error
            else "not_started"
            if not r.started
            else "ok"
        ),
        "exit_code": r.exit_code(checks=checks),
        "version_before": r.before,
        "version_after": r.after,
        "duration_ms": r.duration_ms,
        "result": None if r.value is None else _value_doc(r, command),
        "error": documents.failure(r.error, message(r), r.database) if r.error else None,
    }


def _value_doc(r: TargetResult[Any], command: str) -> dict[str, Any]:
    """A target's result: the body its command's own document has on one database."""
    value, database = r.value, r.database
    if isinstance(value, RunResult):
        direction = Direction.DOWN if command == "rollback" else Direction.UP
        return documents.run(value, direction, database)
    if isinstance(value, Status):
        return documents.status(value)
    if isinstance(value, Validation):
        return documents.validation(
            value.problems, value.lint, database, value.warnings, value.diffs
        )
    if isinstance(value, Metrics):
        return documents.metrics(value)
    if isinstance(value, Drift):
        return documents.drift(value, database)
    if isinstance(value, Plan):
        dialect = parse_url(r.target.url).dialect
        return documents.plan(
            value.migrations,
            value.direction,
            dialect,
            value.variables,
            whole=value.whole,
            database=database,
        )
    if isinstance(value, list):
        return documents.history(value, database)
    raise TypeError(f"no document for a {type(value).__name__}")
