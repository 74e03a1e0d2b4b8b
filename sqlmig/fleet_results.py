"""What a fleet run gives back: each target's result, and the run's as a whole.

Values only, as the library returns them; sqlmig.fleet makes them, render_fleet shows
them. The exit code of a run is the most severe of its targets'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlmig.errors import EXIT_CHECK_FAILED, EXIT_INTERRUPTED, SqlmigError
from sqlmig.models import Direction, Migration, SeedStatus, Target

if TYPE_CHECKING:
    from sqlmig.lint import Finding
    from sqlmig.schema import Item
    from sqlmig.variables import Bindings

T = TypeVar("T")
# The most severe first: what the exit code of a whole fleet run is made of.
SEVERITY = (EXIT_INTERRUPTED, 5, 6, 4, 3, 2, EXIT_CHECK_FAILED)


@dataclass(slots=True)
class TargetResult(Generic[T]):
    """What one target's run gave: its value or its error, and where it stands."""

    target: Target
    database: str  # the URL, masked
    value: T | None = None
    error: SqlmigError | None = None
    interrupted: bool = False
    started: bool = False
    before: int | None = None  # newest applied version before the run
    after: int | None = None  # and after it
    duration_ms: int = 0
    check_failed: bool = False  # the command's own check: not ok, drift, problems

    def exit_code(self, *, checks: bool = True) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.error is not None:
            return self.error.exit_code
        return EXIT_CHECK_FAILED if checks and self.check_failed else 0

    @property
    def failed(self) -> bool:
        return self.interrupted or self.error is not None


@dataclass(slots=True)
class FleetResult(Generic[T]):
    """Every selected target's result, in selection order; ``stopped`` says why some
    were not started (a failure, a canary's failure, an interruption)."""

    command: str
    run_id: str
    targets: list[TargetResult[T]]
    interrupted: bool = False
    stopped: str | None = None

    def exit_code(self, *, checks: bool = True) -> int:
        """The most severe of the targets' codes: 130, then 5, 6, 4, 3, 2, 1."""
        codes = {r.exit_code(checks=checks) for r in self.targets}
        return next((code for code in SEVERITY if code in codes), 0)

    def causes(self, *, checks: bool = True) -> list[TargetResult[T]]:
        """The targets whose code is the run's."""
        worst = self.exit_code(checks=checks)
        return [r for r in self.targets if worst and r.exit_code(checks=checks) == worst]

    @property
    def not_started(self) -> list[TargetResult[T]]:
        return [r for r in self.targets if not r.started]


class FleetInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM (or cancel()) stopped the fleet; ``result`` holds what each
    target did, the running ones rolled back and recorded as interrupted."""

    def __init__(self, result: FleetResult[Any]) -> None:
        super().__init__("interrupted")
        self.result = result


@dataclass(frozen=True, slots=True)
class Validation:
    """validate on one target: the problems (lint errors among them), lint's findings,
    the warnings and the diffs of edited files."""

    problems: list[Item]
    lint: list[Finding] = field(default_factory=list)
    warnings: list[Item] = field(default_factory=list)  # down files edited since applied
    diffs: dict[int, list[str]] = field(default_factory=dict)  # of edited files


@dataclass(frozen=True, slots=True)
class Plan:
    """A dry run on one target: what it would run, and the values of its variables."""

    migrations: list[Migration]
    direction: Direction
    table: str  # the version table, which the plan names
    variables: Bindings | None
    whole: bool = False  # in one transaction (--single-transaction)
    seeds: list[SeedStatus] | None = None  # apply --seed: the seed files that would run after
