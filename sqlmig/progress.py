"""What a run tells about itself as it goes, for whoever shows it (render_progress.py
for the CLI): when each migration starts and ends (``Progress``, which the runner
calls), and what its connection is doing when a step takes a while (``Activity``,
which the engines answer from another thread: engine.activity, Migrator.activity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlmig.models import Direction, Migration, StepResult


@dataclass(frozen=True, slots=True)
class Activity:
    """What a session is doing beyond running its statement: waiting (for a lock, a busy
    file, old snapshots) or the server's own progress report. ``kind`` stays the same
    while the same thing goes on: a new line is shown when it changes."""

    kind: str
    text: str
    waiting: bool


class Progress(Protocol):
    """Told by the runner as each migration starts (the ``n``-th of ``total`` this run
    expects to take) and as it is done."""

    def started(self, m: Migration, direction: Direction, n: int, total: int) -> None: ...

    def done(self, m: Migration, direction: Direction, result: StepResult) -> None: ...
