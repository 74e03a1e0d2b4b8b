"""Asking before a command that cannot be taken back (restore, a rollback of several
migrations): on a terminal a person answers; anywhere else --yes must say it up front,
since an answer piped in, or none at all, is no decision."""

from __future__ import annotations

import sys

import typer

from sqlmig.errors import ConfigError, StateError
from sqlmig.models import Migration


def confirm(question: str, *, yes: bool, what: str, nothing_done: str) -> None:
    """Return if ``yes`` or the person at the terminal agrees to ``question``; on no,
    raise StateError saying ``nothing_done`` (exit 1). Without a terminal, refuse (exit
    2) naming --yes, with ``what`` (the action, "restore sqlite:///app.db") in it."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(
            f"{what} needs confirmation and there is no terminal to ask on: pass --yes "
            "(-y) to go ahead without asking"
        )
    # The question on stderr: stdout may be a --json document.
    if not typer.confirm(question, default=False, err=True):
        # An error, not a quiet exit: --json then prints its document, and exit 1 says
        # that what was asked for did not happen.
        raise StateError(nothing_done)


def confirm_rollback(chosen: list[Migration], target: str) -> None:
    """Ask before undoing the several migrations ``chosen`` on ``target`` (masked)."""
    names = ", ".join(f"{c.version} ({c.name})" for c in chosen)
    confirm(
        f"Roll back {len(chosen)} migrations on {target}: {names}? What their up files "
        "made, and the data in it, is dropped as their down files say",
        yes=False,
        what=f"rollback of {len(chosen)} migrations on {target}",
        nothing_done="rollback cancelled; nothing was changed.",
    )
