"""The backup rules, without a database: what --keep deletes, and which backups a
restore refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlmig.errors import BackupError
from sqlmig.models import BackupInfo, BackupSource
from sqlmig.planner import backups_to_prune, check_origin


def backups(*specs: str) -> list[BackupInfo]:
    """Newest first; "a6" is taken by apply at version 6, "b6" by `sqlmig backup`, "?6"
    has no manifest. Names number them so that the test can say which one is which."""
    taken_by = {"a": "apply", "b": "backup", "?": None}
    return [
        BackupInfo(Path(f"{i}-{s}"), "app", int(s[1:]), "", 1, taken_by[s[0]])
        for i, s in enumerate(specs)
    ]


def kept(found: list[BackupInfo], keep: int) -> list[str]:
    doomed = {b.path for b in backups_to_prune(found, keep)}
    return [b.path.name for b in found if b.path not in doomed]


@pytest.mark.parametrize(
    ("specs", "keep", "expected"),
    [
        # Nightly backups at one version: the newest K, as ever.
        (("b6", "b6", "b6", "b6", "b6"), 3, ["0-b6", "1-b6", "2-b6"]),
        # Five failed retries of migration 7 after deploys that reached 5 and 6: the
        # backup taken before the first attempt (5-a6) and the newest retry stay, and
        # count as one: the backups before the failing version are not pushed out.
        (
            ("a6", "a6", "a6", "a6", "a6", "a6", "a5", "a4", "a3"),
            3,
            ["0-a6", "5-a6", "6-a5", "7-a4"],
        ),
        # A fix, then the next deploy: the retries' group ages out like any backup.
        (("a7", "a6", "a6", "a5", "a4"), 2, ["0-a7", "1-a6", "2-a6"]),
        # Backups without a manifest (an older sqlmig's) count one by one.
        (("?6", "?6", "?6"), 2, ["0-?6", "1-?6"]),
        # Mixed: nightly backups between retries count apart from them.
        (("a6", "b6", "a6", "b6", "a5"), 2, ["0-a6", "1-b6", "2-a6"]),
        # The newest always stays, even with --keep 1 and a group of retries.
        (("a6", "a6", "a6"), 1, ["0-a6", "2-a6"]),
        (("b6",), 1, ["0-b6"]),
    ],
)
def test_retention(specs, keep, expected):
    assert kept(backups(*specs), keep) == expected


def test_retention_stays_bounded_however_many_retries():
    found = backups(*["a6"] * 500, "a5", "a4")
    assert kept(found, 3) == ["0-a6", "499-a6", "500-a5", "501-a4"]


PG = BackupSource("postgres", "app", "7300000000000000001", ("public",))
HERE = BackupSource("postgres", "app", "7300000000000000001")


@pytest.mark.parametrize(
    ("backup", "message"),
    [
        (None, r"has no manifest \(b\.pgdump\.json\): sqlmig cannot tell"),
        (BackupSource("postgres", "staging", PG.cluster), "database staging"),
        (BackupSource("postgres", "app", "7300000000000000002"), "on another cluster"),
        (BackupSource("sqlite", "/srv/app.db"), "SQLite file /srv/app.db"),
    ],
)
def test_a_backup_of_another_database_is_refused_unless_forced(backup, message):
    with pytest.raises(BackupError, match=message) as info:
        check_origin(backup, HERE, Path("b.pgdump"), force=False)
    assert "Nothing was changed" in str(info.value) and "--force" in str(info.value)
    notes = check_origin(backup, HERE, Path("b.pgdump"), force=True)
    assert len(notes) == 1 and notes[0].startswith("restored with --force: ")


def test_a_backup_of_this_database_is_restored_without_a_word():
    assert check_origin(PG, HERE, Path("b.pgdump"), force=False) == []
    # A server that does not let the role read its system identifier: the name decides.
    assert check_origin(PG, BackupSource("postgres", "app"), Path("b"), force=False) == []
    sqlite = BackupSource("sqlite", "/srv/app.db")
    assert check_origin(sqlite, sqlite, Path("b.sqlite"), force=False) == []
