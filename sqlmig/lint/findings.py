"""A finding, and the three ways to print findings: text, JSON and GitHub annotations."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmig.lint.rules import RULES, Severity

if TYPE_CHECKING:
    from sqlmig.schema import Item


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at ``path:line:col`` (1-based; the line is the one apply reports)."""

    path: Path
    line: int
    col: int
    rule: str
    severity: Severity
    message: str
    lock: str = ""
    why: str = ""
    fix: str = ""
    statement: int = field(default=-1, compare=False, repr=False)  # index in its file

    @classmethod
    def of(cls, rule_id: str, path: Path, line: int, col: int, message: str, **kw: Any) -> Finding:
        """A finding of ``rule_id`` with the rule's severity, lock, why and fix by default."""
        rule = RULES[rule_id]
        values: dict[str, Any] = {
            "severity": rule.severity,
            "lock": rule.lock,
            "why": rule.why,
            "fix": rule.fix,
        }
        values.update(kw)
        return cls(path, line, col, rule_id, message=message, **values)


def problem(f: Finding) -> Item:
    """A lint error as one of validate's problems."""
    from sqlmig.schema import Item

    where = f"{f.path}:{f.line}"
    return Item(f"{where}: {f.rule}: {f.message}", "lint", where, f"{f.rule}: {f.message}")


def shown(path: Path) -> str:
    """The path relative to the current folder when it is below it (as CI annotations need)."""
    try:
        return os.path.relpath(path) if path.is_absolute() else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


def sort_key(f: Finding) -> tuple[str, int, int, str]:
    return (str(f.path), f.line, f.col, f.rule)


def text(findings: list[Finding], files: int) -> str:
    """``file:line:col: RULE-ID severity: message`` per finding, then lock, why and fix."""
    lines = []
    for f in findings:
        lines.append(f"{shown(f.path)}:{f.line}:{f.col}: {f.rule} {f.severity}: {f.message}")
        lines += [f"    {label}: {value}" for label, value in _details(f) if value]
    lines.append(summary(findings, files))
    return "\n".join(lines) + "\n"


def _details(f: Finding) -> Iterable[tuple[str, str]]:
    return (("lock", f.lock), ("why", f.why), ("fix", f.fix))


def summary(findings: list[Finding], files: int) -> str:
    if not findings:
        return f"lint ok: {files} file(s), no findings."
    errors = sum(1 for f in findings if f.severity == "error")
    paths = len({f.path for f in findings})
    return (
        f"lint: {errors} error(s) and {len(findings) - errors} warning(s) "
        f"in {paths} of {files} file(s)."
    )


def as_json(findings: list[Finding], files: int) -> dict[str, Any]:
    return {
        "ok": not findings,
        "files": files,
        "findings": [
            {
                "file": shown(f.path),
                "line": f.line,
                "column": f.col,
                "rule": f.rule,
                "severity": f.severity,
                "message": f.message,
                "lock": f.lock,
                "why": f.why,
                "fix": f.fix,
            }
            for f in findings
        ],
    }


def github(findings: list[Finding], files: int) -> str:
    """GitHub Actions workflow commands: one ``::error`` or ``::warning`` annotation each."""
    lines = []
    for f in findings:
        props = ",".join(
            f"{key}={_escape_property(value)}"
            for key, value in (
                ("file", shown(f.path)),
                ("line", str(f.line)),
                ("col", str(f.col)),
                ("title", f"sqlmig lint: {f.rule}"),
            )
        )
        details = [f"{label}: {value}" for label, value in _details(f) if value]
        body = "\n".join([f.message, *details])
        lines.append(f"::{f.severity} {props}::{_escape_data(body)}")
    lines.append(summary(findings, files))
    return "\n".join(lines) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")
