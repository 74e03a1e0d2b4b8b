"""Where a run is: the plan it follows, the step in flight, and the steps left as
planned from the version table's rows last read. The runner (runner.py) moves them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from sqlmig.engines.store import Store
from sqlmig.models import AppliedRow, Direction, FailedStep, Migration, SqlFile, StepResult
from sqlmig.outcomes import At, failed_step


class Plan(Protocol):
    @property
    def direction(self) -> Direction: ...

    @property
    def migrations(self) -> list[Migration]: ...

    def steps(self, rows: list[AppliedRow], done: int) -> list[Migration]: ...


@dataclass(slots=True)
class InFlight:
    """The step being run: its migration once claimed, and where it is."""

    direction: Direction
    m: Migration | None = None
    at: At = At.CLAIM
    start: float = field(default_factory=time.perf_counter)
    done: StepResult | None = None  # its result, once all that is left is to commit it

    @property
    def file(self) -> SqlFile:
        assert self.m is not None
        return self.m.file(self.direction)

    @property
    def failed(self) -> FailedStep | None:
        return failed_step(self.m, self.direction) if self.m is not None else None


class Cursor:
    """Where a run is in its plan: the steps left, as planned from the rows last read."""

    _UNREAD = object()

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.queue: list[Migration] = []
        self.token: object = self._UNREAD
        # As last read: a version still queued keeps its row until this run changes it.
        self.rows: dict[int, AppliedRow] = {}

    def next(self, token: object, store: Store, done: int) -> Migration | None:
        if self.token is self._UNREAD or token != self.token:
            rows = store.applied()
            self.queue = self.plan.steps(rows, done)
            self.rows = {r.version: r for r in rows}
            self.token = token
        return self.queue.pop(0) if self.queue else None
