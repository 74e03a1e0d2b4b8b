"""The backup rules, without a database: what --keep deletes, and which backups a
restore refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlmig.backup_rules import backups_to_prune, check_origin
from sqlmig.errors import BackupError
from sqlmig.models import BackupInfo, BackupSource


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


LISTING = """\
;
; Archive created at 2026-12-01 10:18:20 UTC
;     dbname: supa
;
6; 2615 2200 SCHEMA - public app
3356; 0 0 COMMENT - SCHEMA public app
3357; 0 0 ACL - SCHEMA public app
7; 2615 16390 SCHEMA - my schema app
216; 1259 16398 TABLE public profiles app
3358; 0 0 ACL public TABLE profiles app
3349; 0 16398 TABLE DATA public profiles app
3206; 2606 16405 FK CONSTRAINT public profiles profiles_id_fkey app
218; 1255 16410 FUNCTION my schema f(integer, text) Odd Role
2067; 826 16445 DEFAULT ACL public DEFAULT PRIVILEGES FOR TABLES app
3390; 0 0 EXTENSION - pgcrypto -
5; 2615 16391 SCHEMA - auth auth_admin
215; 1259 16392 TABLE auth users auth_admin
"""


def test_a_listing_is_read_with_the_schemas_and_roles_that_exist():
    from sqlmig.engines.pgarchive import parse_toc

    entries = parse_toc(LISTING, ["public", "auth"], ["app", "Odd Role", "auth_admin"])
    got = [(e.desc, e.namespace, e.tag, e.owner) for e in entries]
    assert got == [
        ("SCHEMA", None, "public", "app"),
        ("COMMENT", None, "SCHEMA public", "app"),
        ("ACL", None, "SCHEMA public", "app"),
        ("SCHEMA", None, "my schema", "app"),
        ("TABLE", "public", "profiles", "app"),
        ("ACL", "public", "TABLE profiles", "app"),
        ("TABLE DATA", "public", "profiles", "app"),
        ("FK CONSTRAINT", "public", "profiles profiles_id_fkey", "app"),
        ("FUNCTION", "my schema", "f(integer, text)", "Odd Role"),
        ("DEFAULT ACL", "public", "DEFAULT PRIVILEGES FOR TABLES", "app"),
        ("EXTENSION", None, "pgcrypto", None),
        ("SCHEMA", None, "auth", "auth_admin"),
        ("TABLE", "auth", "users", "auth_admin"),
    ]
    assert [e.schema_level for e in entries[:4]] == ["public", "public", "public", "my schema"]


def test_a_restore_plan_keeps_to_sqlmigs_schemas_and_the_roles_it_can_act_as():
    from sqlmig.engines.pgarchive import parse_toc
    from sqlmig.engines.pgrestore import Schema, plan

    live = [
        Schema("public", "app", managed=True, ours=True, home=True),
        Schema("auth", "auth_admin", managed=False, ours=False),
        Schema("billing", "app", managed=True, ours=True),  # created after the backup
    ]
    roles = {"app": True, "auth_admin": False}
    entries = parse_toc(LISTING, [s.name for s in live], [*roles, "Odd Role"])
    manifest = BackupSource("postgres", "supa", None, ("public", "my schema"), ("auth",))
    p = plan(entries, live, roles, None, manifest)
    assert (p.replace, p.create, p.dropped) == (["public"], ["my schema"], ["billing"])
    assert p.missing == {"Odd Role"}  # owns a function the backup holds: it must exist
    kept = {(e.desc, e.namespace, e.tag) for e in p.entries}
    assert ("TABLE", "public", "profiles") in kept and ("SCHEMA", None, "my schema") in kept
    assert ("SCHEMA", None, "public") not in kept  # it exists: kept with its own privileges
    assert not {e for e in kept if e[1] == "auth" or e[2] == "auth"}
    assert [e.desc for e in p.acl] == ["ACL", "DEFAULT ACL"]
    assert any("schema auth (owner auth_admin)" in n for n in p.notes)
    assert "dropped schema billing: it was created after the backup" in p.notes
    assert any("1 entries of the backup outside any schema" in n for n in p.notes)
    # Without a manifest (an older sqlmig's backup, which dumped every schema), the
    # schemas that existed are the ones the backup holds.
    assert plan(entries, live, roles, None, None).dropped == ["billing"]
    kept_apart = BackupSource("postgres", "supa", None, ("public",), ("billing",))
    assert plan(entries, live, roles, None, kept_apart).dropped == []
    configured = plan(entries, live, roles, ["public"], manifest)
    assert configured.dropped == [] and configured.replace == ["public"]
    # sqlmig's own schema is always one of its: the version table must come back.
    assert plan(entries, live, roles, [], manifest).replace == ["public"]
