"""Pure rules about backups, kin to planner.py's: which ones ``--keep`` deletes, and which
a restore refuses to put into this database. No I/O (tests/test_backup_rules.py)."""

from __future__ import annotations

from pathlib import Path

from sqlmig.errors import BackupError
from sqlmig.models import BackupInfo, BackupSource


def backups_to_prune(backups: list[BackupInfo], keep: int) -> list[BackupInfo]:
    """The backups ``--keep`` deletes, of one database's ``backups`` listed newest first.

    The newest ``keep`` backups stay, where the backups `apply` took at the same
    version count as one: those are retries after a failed migration (a successful
    apply moves the version on), and of them the first, taken before the first
    attempt, and the newest stay. So retries of a failing migration never push out
    the backup taken before it was first tried, nor the backups of earlier versions.
    """
    units: dict[object, list[BackupInfo]] = {}
    for b in backups:
        key = ("apply", b.version) if b.taken_by == "apply" else b.path
        units.setdefault(key, []).append(b)
    kept = {id(b) for unit in list(units.values())[:keep] for b in (unit[0], unit[-1])}
    return [b for b in backups if id(b) not in kept]


def check_origin(
    backup: BackupSource | None, here: BackupSource, path: Path, *, force: bool
) -> list[str]:
    """Refuse to restore a backup of another database into ``here`` unless ``force``;
    return what a forced restore should say it overrode."""
    if backup is None:
        why = (
            f"{path} has no manifest ({path.name}.json): sqlmig cannot tell which database "
            "it is a backup of (it was taken by an older sqlmig, or copied without its "
            ".json)"
        )
    elif backup.dialect != here.dialect or backup.database != here.database:
        why = f"{path} is a backup of the {backup.describe()}, not of the {here.describe()}"
    elif backup.cluster and here.cluster and backup.cluster != here.cluster:
        why = (
            f"{path} is a backup of a database named {backup.database} on another cluster "
            f"(system identifier {backup.cluster}; this one is {here.cluster})"
        )
    else:
        return []
    if not force:
        raise BackupError(
            f"{why}. Nothing was changed; if it is the backup you mean to "
            "restore here, pass --force."
        )
    return [f"restored with --force: {why}"]
