"""A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind: the failure, status
and resolve name it and say how to drop it. The builds fail for real: a unique index
over duplicate values, built concurrently."""

from __future__ import annotations

import json

import psycopg
import pytest

from sqlmig import Migrator, StateError
from tests.helpers import query
from tests.test_cli import sqlmig

DUPLICATES = 'CREATE SCHEMA "App";\nCREATE TABLE "App"."Items" (a int, b int);\n' + (
    'INSERT INTO "App"."Items" VALUES (1, 1), (1, 2);\n'
    "CREATE TABLE other (a int);\nINSERT INTO other VALUES (1), (1);\n"
)


def failing_set(write_migration, up2: str):
    write_migration(1, "items", DUPLICATES, 'DROP SCHEMA "App" CASCADE; DROP TABLE other;')
    return write_migration(2, "unique_a", "-- sqlmig: no-transaction\n" + up2)


def invalid(pg_url: str) -> list[str]:
    rows = query(
        pg_url,
        "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid ORDER BY 1",
    )
    return [r[0] for r in rows]


NAMED = (
    'CREATE INDEX CONCURRENTLY items_b ON "App"."Items" (b);\n'
    'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Items_a" ON "App"."Items" (a);\n'
)
UNNAMED = 'create unique index concurrently on "App"."Items" using btree (a);\n'


@pytest.mark.parametrize(
    ("up2", "left"),
    [(NAMED, '"App"."Items_a"'), (UNNAMED, '"App"."Items_a_idx"')],
    ids=["named", "generated-name"],
)
def test_the_failure_status_and_resolve_name_the_invalid_index(
    pg_url, write_migration, tmp_path, up2, left
):
    folder = failing_set(write_migration, up2)
    drop = f"DROP INDEX CONCURRENTLY {left};"
    done = sqlmig("apply", "-d", pg_url, "--dir", str(folder), cwd=tmp_path)
    assert done.returncode == 5, done.stderr
    assert "could not create unique index" in done.stderr
    assert f"left index {left} INVALID" in done.stderr and drop in done.stderr
    # An INVALID index that this migration did not leave is never named as its leftover.
    with pytest.raises(psycopg.errors.UniqueViolation):
        query(pg_url, "CREATE UNIQUE INDEX CONCURRENTLY other_a ON other (a)")
    assert invalid(pg_url) == sorted([left, "other_a"])

    done = sqlmig("status", "--json", "-d", pg_url, "--dir", str(folder), cwd=tmp_path)
    entry = json.loads(done.stdout)["migrations"][1]
    assert entry["state"] == "dirty" and entry["invalid_indexes"] == [left]
    assert drop in entry["detail"] and "resolve 2 --rolled-back" in entry["detail"]
    done = sqlmig("status", "-d", pg_url, "--dir", str(folder), cwd=tmp_path)
    assert drop in done.stdout

    with Migrator(pg_url, folder) as m:
        for applied in (False, True):
            with pytest.raises(StateError) as info:
                m.resolve(2, applied=applied)
            assert left in str(info.value) and drop in str(info.value)
        assert "is not an applied migration" in str(info.value)
        assert [e.state.value for e in m.status().entries] == ["applied", "dirty"]
    query(pg_url, drop)
    with Migrator(pg_url, folder) as m:
        assert m.status().entries[1].invalid_indexes == ()
        m.resolve(2, applied=False)
        assert [e.state.value for e in m.status().entries] == ["applied", "pending"]
