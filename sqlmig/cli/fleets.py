"""What a command does when it runs on targets: build the Fleet, call it, render, exit.

Commands stay thin: each hands this module the Fleet method to call, the way its
result is shown is render_fleet's, and the exit code the most severe of the targets'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from sqlmig.cli._common import Common, Targets


def run(
    common: Common,
    targets: Targets,
    call: Callable[[Any], Any],
    *,
    json: bool,
    checks: bool = True,
    progress: bool = False,
    settings: dict[str, Any] | None = None,
    command: str | None = None,
) -> None:
    """Run ``call(fleet)`` on the selected targets and show its FleetResult. ``checks``:
    whether a target's failed check (not ok, drift, problems) counts in the exit code;
    ``progress``: a line as each target finishes (not with --json); ``settings``: more
    settings than ``common``'s (None meaning unset); ``command``: the name its document
    has, when not the fleet's own (a dry run is the fleet's "plan", the user's apply)."""
    from sqlmig import render_fleet
    from sqlmig.fleet_results import FleetInterrupted

    on_done = render_fleet.progress if progress and not json else None
    fleet = targets.fleet(common, on_done, **(settings or {}))
    try:
        result = call(fleet)
    except FleetInterrupted as exc:
        result = exc.result
    render_fleet.report(result, json=json, checks=checks, command=command)
    code = result.exit_code(checks=checks)
    if code:
        raise typer.Exit(code)
