"""What `sqlmig lint` checks: the files named, those changed since a git ref, what apply
would run; and the one call the command makes."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlmig.errors import ConfigError
from sqlmig.lint.engine import in_scope, lint_set, pending_versions
from sqlmig.lint.findings import Finding
from sqlmig.models import Migration


def run(
    options: dict[str, Any],
    files: Sequence[Path] = (),
    *,
    pending: bool = False,
    since: str | None = None,
) -> tuple[list[Finding], int]:
    """Findings and the number of files checked, for the command's options and arguments."""
    from sqlmig.config import load_settings
    from sqlmig.discovery import load_migrations

    settings = load_settings(options)
    migrations = load_migrations(settings.dir)
    paths = _named(files, migrations, settings.dir) if files else None
    batch: set[int] = set()
    if since is not None:
        changed, added = changed_since(since, settings.dir)
        paths = changed if paths is None else paths & changed
        batch = {m.version for m in migrations if m.up.path.resolve() in added}
    versions = None
    server = None
    if pending:
        versions, server = _pending(settings, migrations)
    findings = lint_set(
        migrations, settings, pending=versions, server_version=server, paths=paths, batch=batch
    )
    return findings, len(in_scope(migrations, settings, pending=versions, paths=paths))


def _named(files: Sequence[Path], migrations: list[Migration], folder: Path) -> set[Path]:
    known = {f.path.resolve() for m in migrations for f in (m.up, m.down)}
    chosen = set()
    for file in files:
        path = file.resolve()
        if not path.is_file():
            raise ConfigError(f"{file}: no such file")
        if path not in known:
            raise ConfigError(
                f"{file} is not a migration file of {folder} (an up/ or down/ file of the set): "
                "lint judges each file in the context of the set it belongs to"
            )
        chosen.add(path)
    return chosen


def _pending(settings: Any, migrations: list[Migration]) -> tuple[list[int], int | None]:
    from sqlmig.migrator import Migrator

    with Migrator(settings=settings) as migrator:
        return pending_versions(migrator, migrations)


def changed_since(ref: str, folder: Path) -> tuple[set[Path], set[Path]]:
    """(added or changed, added) files under ``folder`` since git ``ref``, the working tree
    and untracked files included: what a pull request adds to the set."""
    top = Path(_git(folder, "rev-parse", "--show-toplevel").strip())
    if not _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False):
        raise ConfigError(f"--since {ref}: no such commit, branch or tag in {top}")
    status = _git(
        top,
        "diff",
        "--name-status",
        "--no-renames",
        "--diff-filter=AM",
        "-z",
        ref,
        "--",
        str(folder),
    ).split("\0")
    changed, added = set(), set()
    for code, name in zip(status[::2], status[1::2], strict=False):
        path = (top / name).resolve()
        changed.add(path)
        if code == "A":
            added.add(path)
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z", "--", str(folder))
    for name in filter(None, untracked.split("\0")):
        path = (top / name).resolve()
        changed.add(path)
        added.add(path)
    return changed, added


def _git(where: Path, *args: str, check: bool = True) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise ConfigError("--since needs git, and git is not installed") from None
    if done.returncode != 0:
        if not check:
            return ""
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        raise ConfigError(f"--since: git {args[0]} in {where}: {message}")
    return done.stdout
