"""A fleet's schedule: which target runs when, on which thread, and when to stop.

At most ``parallel`` targets run at once, each a Migrator of its own on a pool thread;
canaries run first and any failure among them starts nothing else; without
``continue_on_error`` the first failure starts nothing more (the running ones finish).
Cancelling (cancel() from any thread, or Ctrl-C reaching the waiting main thread)
stops each running target's statement, waits for them to unwind, and raises
FleetInterrupted with the results so far. What each target does is the caller's
``work`` (fleet.py).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

from sqlmig.config import Settings, mask_url
from sqlmig.errors import ConnectError, SqlmigError
from sqlmig.fleet_results import FleetInterrupted, FleetResult, TargetResult
from sqlmig.migrator import Migrator
from sqlmig.models import RunResult, Target
from sqlmig.records import ms_since

OnDone = Callable[[TargetResult[Any], int, int], None]  # (result, finished so far, total)
Work = Callable[[Migrator, TargetResult[Any]], Any]


class Schedule:
    """Runs work on ``targets`` with ``settings`` (database_url and target set per
    target), all under ``run_id``; ``on_done`` is called, on the calling thread, as each
    target finishes."""

    def __init__(
        self,
        targets: list[Target],
        settings: Settings,
        run_id: str,
        *,
        parallel: int,
        continue_on_error: bool,
        canary: int,
        on_done: OnDone | None,
    ) -> None:
        self.targets, self.settings, self.run_id = targets, settings, run_id
        self.parallel, self.continue_on_error, self.canary = parallel, continue_on_error, canary
        self.on_done = on_done
        self._lock = threading.Lock()
        self._running: set[Migrator] = set()
        self._cancelled = False
        self._stop: str | None = None
        self._finished = 0

    def cancel(self) -> None:
        """From any thread: start no more targets, and stop the running ones as Ctrl-C
        would (their migration in progress rolled back, recorded as interrupted)."""
        self._cancelled = True
        self._stop = self._stop or "cancelled"
        with self._lock:
            running = list(self._running)
        for m in running:
            m.cancel()

    def run(self, command: str, work: Work, *, checks_fail: bool = False) -> FleetResult[Any]:
        """``work`` on every target as scheduled, into one FleetResult; ``checks_fail``:
        a target whose check failed stops the schedule as a failed one does."""
        results: list[TargetResult[Any]] = [TargetResult(t, mask_url(t.url)) for t in self.targets]
        fleet: FleetResult[Any] = FleetResult(command, self.run_id, results)
        self._cancelled, self._stop, self._finished = False, None, 0
        canary, rest = results[: self.canary], results[self.canary :]
        try:
            if canary:
                self._wave(canary, work, stop_on_failure=True, checks_fail=checks_fail)
                if any(_fails(r, checks_fail) for r in canary):
                    self._stop = f"a canary target failed: {len(rest)} target(s) not started"
            if not self._stop:
                stop = not self.continue_on_error
                self._wave(rest, work, stop_on_failure=stop, checks_fail=checks_fail)
        except KeyboardInterrupt:
            self._cancelled = True
        if self._cancelled:  # Ctrl-C here, or cancel() from another thread
            fleet.interrupted = True
            fleet.stopped = "interrupted"
            raise FleetInterrupted(fleet)
        fleet.stopped = self._stop
        return fleet

    def _wave(
        self,
        results: list[TargetResult[Any]],
        work: Work,
        *,
        stop_on_failure: bool,
        checks_fail: bool,
    ) -> None:
        queue = deque(results)
        running: dict[Future[None], TargetResult[Any]] = {}
        pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="sqlmig-target")
        try:
            while queue or running:
                while queue and len(running) < self.parallel and not self._stop:
                    r = queue.popleft()
                    running[pool.submit(self._one, r, work)] = r
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    r = running.pop(future)
                    future.result()  # a bug in a worker surfaces here, not silently
                    self._report(r)
                    if stop_on_failure and not self._stop and _fails(r, checks_fail):
                        self._stop = f"{r.target.name} failed: {len(queue)} target(s) not started"
        except KeyboardInterrupt:
            self.cancel()
            self._drain(running)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _drain(self, running: dict[Future[None], TargetResult[Any]]) -> None:
        """Wait for the cancelled targets to unwind; cancel again each second, for a
        statement that began just after a cancel request was sent."""
        while running:
            try:
                done, _ = wait(running, timeout=1.0)
            except KeyboardInterrupt:  # a second Ctrl-C: they are already unwinding
                continue
            for future in done:
                self._report(running.pop(future))
            self.cancel()

    def _report(self, r: TargetResult[Any]) -> None:
        self._finished += 1
        if self.on_done is not None:
            self.on_done(r, self._finished, len(self.targets))

    def _one(self, r: TargetResult[Any], work: Work) -> None:
        if self._cancelled:
            return
        r.started = True
        start = time.perf_counter()
        m: Migrator | None = None
        try:
            m = Migrator(
                settings=replace(self.settings, database_url=r.target.url, target=r.target),
                run_id=self.run_id,
            )
            with self._lock:
                self._running.add(m)
            if self._cancelled:  # cancel() came before it could see this target
                m.cancel()
            r.value = work(m, r)
            r.after = _after(r.value, r.before)
        except SqlmigError as exc:
            r.error = exc
        except KeyboardInterrupt:
            r.interrupted = True
        finally:
            if m is not None:
                with self._lock:
                    self._running.discard(m)
                if r.failed and not isinstance(r.error, ConnectError):
                    r.after = _version_now(m)
                m.close()
            r.duration_ms = ms_since(start)


def _fails(r: TargetResult[Any], checks_fail: bool) -> bool:
    return r.failed or (checks_fail and r.check_failed)


def stored_version(m: Migrator, *, write: bool = False) -> int | None:
    """The target's newest applied version, read from its version table."""
    rows = m.store(write=write).applied()
    return max((row.version for row in rows), default=None)


def _after(value: object, before: int | None) -> int | None:
    if isinstance(value, RunResult) and value.status is not None:
        return value.status.current_version
    return before


def _version_now(m: Migrator) -> int | None:
    """Where a failed target stands now, if it can still be asked."""
    try:
        return stored_version(m)
    except (SqlmigError, KeyboardInterrupt):
        return None
