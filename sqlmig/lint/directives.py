"""``-- sqlmig: allow RULE-ID reason``: which findings a directive silences.

- In the header (the comment lines at the top of the file, where discovery reads the
  other directives) it covers the whole file.
- Below the header it covers one statement: the one it sits in, the one that ends on
  its line when it trails code, or, on a line of its own, the statement that starts on
  the next line (comment lines in between are fine).

Other directives below the header are reported: discovery never reads them there, so
a misplaced ``no-transaction`` would silently do nothing.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

from sqlmig.lint.findings import Finding
from sqlmig.lint.rules import RULES
from sqlmig.splitter import Dialect, Statement
from sqlmig.sqlkind import Token, tokens

DIRECTIVE_RE = re.compile(r"^--\s*sqlmig:\s*(.*?)\s*$")  # as discovery reads them


@dataclass
class Allow:
    rule: str
    line: int
    col: int
    statement: int | None  # None: the whole file
    used: bool = False

    def covers(self, finding: Finding) -> bool:
        return self.rule == finding.rule and self.statement in (None, finding.statement)


def header_lines(text: str) -> int:
    """How many lines discovery reads as the header: blank lines and ``--`` lines."""
    count = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break
        count += 1
    return count


def read_allows(
    path: Path, text: str, statements: list[Statement], dialect: Dialect
) -> tuple[list[Allow], list[Finding]]:
    """The file's allow directives, and a bad-directive finding for each broken one."""
    lines = text.split("\n")
    starts = _line_starts(text)
    header = header_lines(text)
    allows: list[Allow] = []
    problems: list[Finding] = []
    for token in tokens(text, dialect, comments=True):
        match = DIRECTIVE_RE.match(token.text) if token.kind == "comment" else None
        if match is None:
            continue
        line = _line_of(starts, token.start)
        col = token.start - starts[line - 1] + 1
        word, _, rest = match.group(1).partition(" ")

        def bad(message: str, line: int = line, col: int = col) -> None:
            problems.append(Finding.of("bad-directive", path, line, col, message))

        if word != "allow":
            if line > header:
                bad(
                    f"'{match.group(1)}' has no effect below the header: directives other than "
                    "allow belong in the comment lines at the top of the file"
                )
            continue
        rule_id, _, reason = rest.strip().partition(" ")
        problem = _check(rule_id, reason.strip())
        if problem:
            bad(problem)
            continue
        if line <= header:
            allows.append(Allow(rule_id, line, col, None))
            continue
        target = _target(token, line, lines, starts, statements)
        if target is None:
            bad(f"allow {rule_id} is on no statement's line nor the line before one")
        else:
            allows.append(Allow(rule_id, line, col, target))
    return allows, problems


def _check(rule_id: str, reason: str) -> str | None:
    if not rule_id:
        return "allow needs a rule id and a reason: -- sqlmig: allow RULE-ID why it is safe"
    rule = RULES.get(rule_id)
    if rule is None:
        return f"allow {rule_id}: unknown rule (known: {', '.join(RULES)})"
    if not rule.silenceable:
        return f"allow {rule_id}: this rule cannot be silenced"
    if not reason:
        return f"allow {rule_id} needs a reason after the rule id: why is it safe here?"
    return None


def _line_starts(text: str) -> list[int]:
    return [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]


def _line_of(starts: list[int], offset: int) -> int:
    return bisect.bisect_right(starts, offset)


def _target(
    token: Token, line: int, lines: list[str], starts: list[int], statements: list[Statement]
) -> int | None:
    for i, st in enumerate(statements):
        if st.offset <= token.start < st.offset + len(st.text):
            return i  # inside a statement spanning several lines
    before = lines[line - 1][: token.start - starts[line - 1]]
    if before.strip():  # trails code: the statement that ends on this line
        ending = [
            i
            for i, st in enumerate(statements)
            if st.offset < token.start and _line_of(starts, st.offset + len(st.text) - 1) == line
        ]
        return ending[-1] if ending else None
    for i, st in enumerate(statements):
        if st.offset > token.start:
            between = lines[line : st.line - 1]
            return i if all(x.strip().startswith("--") for x in between) else None
    return None
