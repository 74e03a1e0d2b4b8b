"""The schema tools of the library API: dump, diff and the round trip of `sqlmig test`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmig.errors import ConfigError
from sqlmig.schema import Findings

if TYPE_CHECKING:
    from sqlmig.migrator import Migrator
    from sqlmig.planrules import DiffTarget
    from sqlmig.variables import Bindings


@dataclass(frozen=True, slots=True)
class DumpResult:
    """A dump, and what the dump could not write (named at its top)."""

    text: str
    statements: int
    left_out: list[str]
    path: Path | None = None  # where it was written, if anywhere
    notes: list[str] = field(default_factory=list)  # how a scratch build was made


class Drift(Findings):
    """``diff``'s differences, and what they are differences from: a schema file, or with
    migrations pending the schema the applied ones build, at the database's ``version``."""

    def __init__(
        self,
        found: Findings,
        compared_with: str,
        version: int | None = None,
        pending: list[int] | None = None,
    ) -> None:
        super().__init__(list(found), found.notes)
        self.compared_with = compared_with
        self.version = version
        self.pending = pending or []


@dataclass(frozen=True, slots=True)
class RoundTripResult:
    """What `sqlmig test` found; no problems means every down file undoes its up file."""

    problems: list[str]
    migrations: int
    irreversible: list[str]  # labels of the migrations that only went up
    compared_with_schema_sql: bool
    notes: list[str]  # how the scratch loads were made (roles made, grants read as text)
    warnings: list[str] = field(default_factory=list)  # not problems: down files that do nothing


def dump(
    m: Migrator, to: Path | None, *, from_migrations: bool, scratch_url: str | None
) -> DumpResult:
    from sqlmig.schema import LEFT_OUT

    notes: list[str] = []
    if from_migrations:
        from sqlmig.schema.roundtrip import built

        with built(m.settings, m.migrations(), scratch_url, _configured(m)) as db:
            text = db.engine.dump_schema()
        notes = db.notes
    else:
        text = m.engine().dump_schema()
    if to is not None:
        _write_whole(to, text)
    lines = text.splitlines()
    return DumpResult(
        text=text,
        statements=sum(1 for line in lines if line.endswith(";")),
        left_out=[line.removeprefix(LEFT_OUT) for line in lines if line.startswith(LEFT_OUT)],
        path=to,
        notes=notes,
    )


def drift(m: Migrator, baseline: Path | None, scratch_url: str | None) -> Drift:
    """The drift check: against ``baseline`` when given; else against schema.sql, or, with
    migrations pending, against what the applied ones build."""
    target = _behind(m) if baseline is None else None
    if target is not None:
        return _drift_at(m, target, scratch_url)
    found = diff(m, baseline, scratch_url)
    return Drift(found, (baseline or Path("schema.sql")).name)


def _behind(m: Migrator) -> DiffTarget | None:
    """The version to compare at, when the database sqlmig migrates is behind the files.
    A database without version rows was not built by these migrations (or not yet), and
    a drift check without a migration folder has only schema.sql: both compare with it."""
    from sqlmig.planner import statuses
    from sqlmig.planrules import diff_target

    rows = m.applied()
    if not rows or not m.settings.dir.is_dir():
        return None
    return diff_target(statuses(m.migrations(), rows))


def _drift_at(m: Migrator, target: DiffTarget, scratch_url: str | None) -> Drift:
    from concurrent.futures import ThreadPoolExecutor

    from sqlmig.schema import compare
    from sqlmig.schema.roundtrip import built

    v = target.version
    what = f"what the migrations build up to version {v}" if v else "an empty database"
    engine = m.engine()
    with ThreadPoolExecutor(1) as pool:  # as in diff: the live catalogs read meanwhile
        live = pool.submit(engine.introspect)
        # The values this database's files ran with: what they built here is the schema.
        with built(m.settings, target.build, scratch_url, m.bindings()) as db:
            schema = db.engine.introspect()
        found = compare(live.result(), schema, "database", what)
    pending = ", ".join(map(str, target.pending))
    notes = [
        f"{len(target.pending)} migration(s) pending ({pending}): the database was compared "
        f"with the schema of its version, {v}, as the migrations build it, not with "
        "schema.sql, the newest version's (`sqlmig apply --verify` compares with that after "
        "migrating)",
        *(
            f"version {e.version} ({e.name}) is dirty: what it did before it failed shows as "
            "differences"
            for e in target.dirty
        ),
        *db.notes,
    ]
    return Drift(Findings(found, notes), what, v, target.pending)


def diff(m: Migrator, baseline: Path | None, scratch_url: str | None) -> Findings:
    from sqlmig.schema.baseline import drift

    path = baseline or m.settings.dir / "schema.sql"
    # A tenant schema is compared as if its objects were in schema.sql's default schema.
    tenant = m.settings.target is not None and m.settings.target.tenant is not None
    return drift(m.settings, m.engine(), path, scratch_url, home_only=tenant)


def roundtrip(m: Migrator, scratch_url: str | None) -> RoundTripResult:
    from sqlmig.schema.roundtrip import roundtrip as run

    migrations = m.migrations()
    baseline = m.settings.dir / "schema.sql"
    trip = run(m.settings, migrations, baseline, scratch_url, variables=_configured(m))
    return RoundTripResult(
        problems=list(trip.problems),
        migrations=len(migrations),
        irreversible=[mig.label for mig in migrations if mig.down.irreversible is not None],
        compared_with_schema_sql=baseline.is_file(),
        notes=trip.problems.notes,
        warnings=[
            f"{label}: its down file has no statements, so a rollback undoes nothing: write "
            "it, or say why in its header with '-- sqlmig: empty <reason>'"
            for label in trip.empty_downs
        ],
    )


def _configured(m: Migrator) -> Bindings | None:
    """The variables' values a scratch build uses when it stands for no database: those
    the configuration and --var give (a target's own, such as tenant, need a target)."""
    from sqlmig.variables import Bindings

    found = dict(m.settings.vars)
    return Bindings(found, m.settings.url.dialect) if found else None


def _write_whole(to: Path, text: str) -> None:
    """Write ``text`` to ``to`` so that no reader sees half of it: a new file renamed over
    the old one. Not for a device or pipe (-o /dev/stdout), which is written as it is,
    nor through a symlink, whose target is the file replaced."""
    try:
        if to.exists() and not to.is_file():  # a device, pipe or terminal, maybe via a link
            to.write_text(text, "utf-8")
            return
        target = to.resolve()
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            partial.write_text(text, "utf-8")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write {to}: {exc.strerror or exc}") from exc
