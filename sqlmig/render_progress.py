"""Progress a person can trust: which migration of how many, for how long, and what the
database is doing when a step takes a while.

The runner says when each step starts and ends (sqlmig.progress.Progress). A
``Reporter`` shows that, and a thread of its own asks the engine (``probe``,
Migrator.activity) what the run's connection waits for, or how far the server is with
its statement, once nothing has happened for ``QUIET`` seconds. On a terminal the
running step is one line redrawn with a live elapsed counter; anywhere else (a pipe, a
CI log) every event is a line of its own and nothing is redrawn.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from sqlmig.models import Direction, Migration, StepResult
from sqlmig.progress import Activity

QUIET = 1.0  # seconds without an event before the counter shows and the engine is asked
TICK = 0.2  # how often the live counter is redrawn
ASK_EVERY = 1.0  # seconds between two questions to the engine
_CLEAR = "\r\x1b[2K"  # back to the start of the line and erase it


Probe = Callable[[], Activity | None]


def took(ms: int) -> str:
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


class Reporter:
    """Shows a run's progress on ``stream``: redrawn in place when ``live`` (a terminal),
    one line per event otherwise."""

    def __init__(self, stream: TextIO, probe: Probe, *, live: bool) -> None:
        self.stream, self.probe, self.live = stream, probe, live
        self._lock = threading.Lock()  # the main thread and the watcher both write
        self._label: str | None = None  # the step running now
        self._plain_label = ""
        self._since = time.monotonic()  # of the last event
        self._shown: str | None = None  # kind of the activity last shown
        self._server: Activity | None = None  # the server's progress, on the live line
        self._drawn = False  # the live line is on the screen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sqlmig-progress", daemon=True)

    def started(self, m: Migration, direction: Direction, n: int, total: int) -> None:
        verb = "applying" if direction is Direction.UP else "rolling back"
        with self._lock:
            self._label = f"{verb} {m.label} ({n} of {total})"
            self._plain_label = f"{m.label} ({n} of {total})"
            self._event()
            clear = _CLEAR if self._drawn else ""  # a live "waiting" line before the step
            self._write(clear + f"  {self._label} ..." + ("" if self.live else "\n"))
            self._drawn = self.live

    def done(self, m: Migration, direction: Direction, result: StepResult) -> None:
        said = f"done in {took(result.duration_ms)} ({result.statements} statement(s))"
        with self._lock:
            if self.live:
                self._write(f"{_CLEAR}  {self._label} ... {said}\n")
            else:
                self._write(f"  {self._plain_label} {said}\n")
            self._label, self._drawn = None, False
            self._event()

    def _event(self) -> None:
        self._since, self._shown, self._server = time.monotonic(), None, None

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _watch(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the reader went away (`| head`)
            self._watch_until_stopped()

    def _watch_until_stopped(self) -> None:
        asked = 0.0
        while not self._stop.wait(TICK):
            now = time.monotonic()
            if now - self._since < QUIET:
                continue
            if now - asked >= ASK_EVERY:
                asked = now
                found = self._ask()
                with self._lock:
                    self._show(found)
            if self.live:
                with self._lock:
                    self._redraw()

    def _ask(self) -> Activity | None:
        try:
            return self.probe()
        except Exception:  # progress is a courtesy: it must never end the run
            return None

    def _show(self, found: Activity | None) -> None:
        if found is None:
            self._server = None
            return
        if self.live and not found.waiting:
            self._server, self._shown = found, found.kind  # redrawn as its numbers change
            return
        if found.kind == self._shown:
            return
        self._shown = found.kind
        self._write((_CLEAR if self._drawn else "") + f"  {found.text}\n")
        self._drawn = False

    def _redraw(self) -> None:
        if self._label is None and not self._shown:
            return  # between steps with nothing to say: no line to keep alive
        line = f"  {self._label or 'waiting'} ... {time.monotonic() - self._since:.1f}s"
        if self._server is not None:
            line += f" · {self._server.text}"
        width = shutil.get_terminal_size().columns - 1
        self._write(_CLEAR + (line if len(line) <= width else line[: width - 1] + "…"))
        self._drawn = True

    def start(self) -> None:
        self._thread.start()

    def close(self, ended: BaseException | None) -> None:
        """Stop watching; a step still open ends its line, so what follows (the error)
        starts on a line of its own."""
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            if self._label is not None:
                ms = int((time.monotonic() - self._since) * 1000)
                how = "stopped" if isinstance(ended, KeyboardInterrupt) else "failed"
                said = f"{how} after {took(ms)}"
                if self.live:
                    self._write(f"{_CLEAR}  {self._label} ... {said}\n")
                else:
                    self._write(f"  {self._plain_label} {said}\n")
            elif self._drawn:
                self._write(_CLEAR)
            self._label, self._drawn = None, False


@contextlib.contextmanager
def reporting(stream: TextIO, probe: Probe) -> Iterator[Reporter]:
    """A Reporter on ``stream`` (live if it is a terminal) for the block's run."""
    reporter = Reporter(stream, probe, live=stream.isatty())
    reporter.start()
    try:
        yield reporter
    except BaseException as exc:
        reporter.close(exc)
        raise
    reporter.close(None)
