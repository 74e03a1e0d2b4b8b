"""The schema tools of the library API: dump, diff and the round trip of `sqlmig test`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmig.errors import ConfigError

if TYPE_CHECKING:
    from sqlmig.migrator import Migrator
    from sqlmig.schema import Findings


@dataclass(frozen=True, slots=True)
class DumpResult:
    """A dump, and what the dump could not write (named at its top)."""

    text: str
    statements: int
    left_out: list[str]
    path: Path | None = None  # where it was written, if anywhere


@dataclass(frozen=True, slots=True)
class RoundTripResult:
    """What `sqlmig test` found; no problems means every down file undoes its up file."""

    problems: list[str]
    migrations: int
    irreversible: list[str]  # labels of the migrations that only went up
    compared_with_schema_sql: bool
    notes: list[str]  # how the scratch loads were made (roles made, grants read as text)


def dump(m: Migrator, to: Path | None) -> DumpResult:
    from sqlmig.schema import LEFT_OUT

    text = m.engine().dump_schema()
    if to is not None:
        _write_whole(to, text)
    lines = text.splitlines()
    return DumpResult(
        text=text,
        statements=sum(1 for line in lines if line.endswith(";")),
        left_out=[line.removeprefix(LEFT_OUT) for line in lines if line.startswith(LEFT_OUT)],
        path=to,
    )


def diff(m: Migrator, baseline: Path | None, scratch_url: str | None) -> Findings:
    from sqlmig.schema.baseline import drift

    path = baseline or m.settings.dir / "schema.sql"
    return drift(m.settings, m.engine(), path, scratch_url)


def roundtrip(m: Migrator, scratch_url: str | None) -> RoundTripResult:
    from sqlmig.schema.roundtrip import roundtrip as run

    migrations = m.migrations()
    baseline = m.settings.dir / "schema.sql"
    problems = run(m.settings, migrations, baseline, scratch_url)
    return RoundTripResult(
        problems=list(problems),
        migrations=len(migrations),
        irreversible=[mig.label for mig in migrations if mig.down.irreversible is not None],
        compared_with_schema_sql=baseline.is_file(),
        notes=problems.notes,
    )


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
