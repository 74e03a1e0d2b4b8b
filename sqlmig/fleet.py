"""Fleets: one migration set against many databases and tenant schemas, in parallel.

Each target keeps its own version table, history and lock: a fleet is many ordinary
runs (one Migrator each, on a thread of its own) that share a run id, a schedule and a
result. Running the same command again touches only what is behind or failed, since
each target's state is its own. Nothing here prints: callers get a FleetResult.

Here is what each command does on a target; fleet_schedule.py runs that on the targets
in parallel, with canaries, stop on failure and cancelling. Ctrl-C or SIGTERM reaches
only the main thread, which waits there: it cancels the statement each running target
is executing (each then rolls back and records the migration as interrupted, as a
single run does), waits for them, and raises FleetInterrupted with the results so far.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmig.config import Settings, load_settings, parse_url
from sqlmig.errors import ConfigError
from sqlmig.fleet_results import FleetResult, Plan, TargetResult, Validation
from sqlmig.fleet_schedule import OnDone, Schedule, stored_version
from sqlmig.migrator import Migrator
from sqlmig.models import Direction, HistoryEvent, Metrics, RunResult, Status, Target
from sqlmig.planrules import refuse_outside_transaction
from sqlmig.records import new_run_id

if TYPE_CHECKING:
    from sqlmig.schemaops import Drift


class Fleet:
    """``targets`` with ``settings`` (database_url and target are set per target).

    ``parallel``: how many run at once. Without ``continue_on_error``, no target starts
    after one failed (the running ones finish). ``canary``: the first K targets run
    first, and nothing else starts if any of them fails. ``on_done`` is called, on the
    calling thread, as each target finishes.
    """

    def __init__(
        self,
        targets: Iterable[Target],
        settings: Settings | None = None,
        *,
        parallel: int = 1,
        continue_on_error: bool = False,
        canary: int = 0,
        run_id: str | None = None,
        on_done: OnDone | None = None,
    ) -> None:
        if parallel < 1 or canary < 0:
            raise ConfigError("parallel must be 1 or more, canary 0 or more")
        self.targets = list(targets)
        self.settings = settings or Settings()
        self.run_id = run_id or new_run_id()
        self._schedule = Schedule(
            self.targets,
            self.settings,
            self.run_id,
            parallel=parallel,
            continue_on_error=continue_on_error,
            canary=canary,
            on_done=on_done,
        )

    @classmethod
    def from_config(
        cls,
        cwd: Path | None = None,
        *,
        select: Iterable[str] = (),
        all_targets: bool = False,
        shard: str | None = None,
        parallel: int = 1,
        continue_on_error: bool = False,
        canary: int = 0,
        on_done: OnDone | None = None,
        **overrides: Any,
    ) -> Fleet:
        """The targets ``select`` names (globs; a group name selects its members) or all
        of them, from sqlmig.toml; ``shard`` "I/N" keeps this runner's slice."""
        from sqlmig import targets as found

        if overrides.get("database_url"):
            raise ConfigError(
                "--database-url names one database; with --target or --all-targets the "
                "databases are the targets in sqlmig.toml"
            )
        patterns = list(select)
        if bool(patterns) == all_targets:
            raise ConfigError("name targets with --target NAME (repeatable) or --all-targets")
        slice_ = found.parse_shard(shard) if shard else None
        settings = load_settings(overrides, cwd)
        chosen = found.select(found.read_groups(cwd), patterns, settings, every=all_targets)
        if slice_:
            chosen = found.shard(chosen, *slice_)
        return cls(
            chosen,
            settings,
            parallel=parallel,
            continue_on_error=continue_on_error,
            canary=canary,
            on_done=on_done,
        )

    # -- the commands ----------------------------------------------------------------

    def apply(
        self,
        target: int | None = None,
        *,
        allow_out_of_order: bool = False,
        backup: bool | None = None,
        seed: bool = False,
        verify: bool = False,
        scratch_url: str | None = None,
        lint: bool = False,
        single_transaction: bool = False,
    ) -> FleetResult[RunResult]:
        """Migrator.apply on every target; a target whose --verify found drift counts
        as failed, for stopping and canaries."""
        self._preflight(seeds=seed)

        def work(m: Migrator, r: TargetResult[Any]) -> RunResult:
            r.before = stored_version(m, write=True)
            result = m.apply(
                target,
                allow_out_of_order=allow_out_of_order,
                backup=backup,
                seed=seed,
                verify=verify,
                scratch_url=scratch_url,
                lint=lint,
                single_transaction=single_transaction,
            )
            r.check_failed = bool(result.drift)
            return result

        return self._schedule.run("apply", work, checks_fail=True)

    def rollback(
        self,
        count: int = 1,
        *,
        to: int | None = None,
        single_transaction: bool = False,
        backup: bool | None = None,
        from_database: bool = False,
    ) -> FleetResult[RunResult]:
        self._preflight()

        def work(m: Migrator, r: TargetResult[Any]) -> RunResult:
            r.before = stored_version(m, write=True)
            return m.rollback(
                count,
                to=to,
                single_transaction=single_transaction,
                backup=backup,
                from_database=from_database,
            )

        return self._schedule.run("rollback", work)

    def plan_apply(
        self,
        target: int | None = None,
        *,
        allow_out_of_order: bool = False,
        whole: bool = False,
        seed: bool = False,
    ) -> FleetResult[Plan]:
        """What apply would run on each target (changing nothing); ``whole``: as
        --single-transaction would, refused where it cannot; ``seed``: and the seed
        files after."""
        self._preflight(seeds=seed)

        def work(m: Migrator, r: TargetResult[Any]) -> Plan:
            r.before = stored_version(m)
            found = m.plan_apply(target, allow_out_of_order=allow_out_of_order)
            if whole:
                refuse_outside_transaction(found, Direction.UP)
            seeds = m.plan_seeds() if seed else None
            return Plan(found, Direction.UP, m.settings.table, m.bindings(), whole, seeds)

        return self._schedule.run("plan", work)

    def plan_rollback(
        self,
        count: int = 1,
        *,
        to: int | None = None,
        whole: bool = False,
        from_database: bool = False,
    ) -> FleetResult[Plan]:
        self._preflight()

        def work(m: Migrator, r: TargetResult[Any]) -> Plan:
            r.before = stored_version(m)
            plan = m.plan_rollback(count, to=to, from_database=from_database)
            if whole:
                refuse_outside_transaction(plan, Direction.DOWN)
            return Plan(plan, Direction.DOWN, m.settings.table, m.bindings(), whole)

        return self._schedule.run("plan", work)

    def status(self) -> FleetResult[Status]:
        """Each target's status; ``check_failed`` where anything is not applied."""
        self._preflight(variables=False)

        def work(m: Migrator, r: TargetResult[Any]) -> Status:
            st = m.status()
            r.before = st.current_version
            r.check_failed = not st.ok
            return st

        return self._schedule.run("status", work)

    def validate(self) -> FleetResult[Validation]:
        """Migrator.validate on each target, then (where that finds nothing) what lint
        finds in the migrations that target would apply."""
        from sqlmig.lint import findings as lint_formats
        from sqlmig.lint import lint_pending

        self._preflight(variables=False)

        def work(m: Migrator, r: TargetResult[Any]) -> Validation:
            r.before = stored_version(m)
            st = m.status()
            found = [p.item() for p in m.validate(st)]
            linted = [] if found else lint_pending(m)
            errors = [lint_formats.problem(f) for f in linted if f.severity == "error"]
            warned = [p.item() for p in m.warnings(st)]
            done = Validation([*found, *errors], linted, warned, m.changes(st))
            r.check_failed = bool(done.problems)
            return done

        return self._schedule.run("validate", work)

    def diff(
        self, baseline: Path | None = None, *, scratch_url: str | None = None
    ) -> FleetResult[Drift]:
        """Each target's drift from schema.sql; a tenant's schema is compared as if its
        objects were in schema.sql's default schema."""
        self._preflight(variables=False)

        def work(m: Migrator, r: TargetResult[Any]) -> Drift:
            r.before = stored_version(m)
            drift = m.diff(baseline, scratch_url=scratch_url)
            r.check_failed = bool(drift)
            return drift

        return self._schedule.run("diff", work)

    def history(
        self, limit: int | None = None, *, since: datetime | None = None, failed: bool = False
    ) -> FleetResult[list[HistoryEvent]]:
        """Each target's history, newest first, at most ``limit`` events per target."""
        return self._schedule.run(
            "history", lambda m, _: m.history(limit, since=since, failed=failed)
        )

    def metrics(self) -> FleetResult[Metrics]:
        self._preflight(variables=False)

        def work(m: Migrator, r: TargetResult[Any]) -> Metrics:
            found = m.metrics()
            r.before = found.current_version
            return found

        return self._schedule.run("metrics", work)

    def cancel(self) -> None:
        """From any thread: start no more targets, and stop the running ones as Ctrl-C
        would (their migration in progress rolled back, recorded as interrupted)."""
        self._schedule.cancel()

    def _preflight(self, *, seeds: bool = False, variables: bool = True) -> None:
        """What would fail on every target fails once, before anything connects: a
        malformed set, an unreadable seed, a variable no target declares."""
        from sqlmig.release import check_seeds

        for t in {parse_url(t.url).dialect: t for t in self.targets}.values():
            m = Migrator(settings=replace(self.settings, database_url=t.url, target=t))
            migrations = m.migrations()
            if variables:
                m.check_variables(f for mig in migrations for f in (mig.up, mig.down))
            if seeds:
                check_seeds(m.settings)
