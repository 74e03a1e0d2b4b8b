"""Reference data in seeds/: applied in name order, again only when changed."""

from __future__ import annotations

import pytest

from sqlmig import Migrator, StatementError
from sqlmig.errors import ValidationError
from tests.helpers import query, two_migrations, versions

SEED_A = """\
CREATE TABLE IF NOT EXISTS plans (code text PRIMARY KEY, price int NOT NULL);
INSERT INTO plans VALUES ('free', 0), ('pro', 10)
ON CONFLICT (code) DO UPDATE SET price = excluded.price;
"""


def test_seeds_run_in_name_order_and_again_only_when_changed(db_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "01_plans.sql").write_text(SEED_A)
    (seeds / "02_more.sql").write_text(
        "INSERT INTO plans VALUES ('team', 50) ON CONFLICT (code) DO NOTHING;"
    )
    with Migrator(db_url, folder) as m:
        result = m.apply(seed=True, backup=False)
        assert [s.name for s in result.seeds] == ["01_plans.sql", "02_more.sql"]
        assert m.seed() == []
        assert [s.state for s in m.status().seeds] == ["applied", "applied"]
        (seeds / "01_plans.sql").write_text(SEED_A.replace("('pro', 10)", "('pro', 12)"))
        assert [s.state for s in m.status().seeds] == ["changed", "applied"]
        assert not m.status().ok
        assert [s.name for s in m.seed()] == ["01_plans.sql"]
        assert m.history(1)[0].event == "seed"
    assert sorted(query(db_url, "SELECT code, price FROM plans")) == [
        ("free", 0),
        ("pro", 12),
        ("team", 50),
    ]


def test_seed_with_an_error_in_the_middle_is_rolled_back(db_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "plans.sql").write_text(
        "INSERT INTO accounts VALUES (3, 'c@example.com');\nINSERT INTO nowhere VALUES (1);\n"
    )
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
        with pytest.raises(StatementError) as info:
            m.seed()
        assert info.value.path.name == "plans.sql" and info.value.line == 2
        assert "This seed file was rolled back; migrations and seed files" in str(info.value)
        assert m.status().seeds[0].state == "pending"
        assert m.history(1)[0].event == "fail" and m.history(1)[0].name == "plans.sql"
    assert query(db_url, "SELECT count(*) FROM accounts") == [(2,)]


def test_apply_seed_with_an_unreadable_seed_file_changes_nothing(
    sqlite_url, write_migration, tmp_path
):
    folder = two_migrations(write_migration)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "plans.sql").write_bytes(b"INSERT INTO accounts VALUES (1, '\xff\xfe');\n")
    with Migrator(sqlite_url, folder) as m, pytest.raises(ValidationError):
        m.apply(seed=True, backup=False)
    assert versions(sqlite_url) == []


def test_a_seed_with_transaction_control_is_refused_before_anything_runs(
    db_url, write_migration, tmp_path
):
    # Its COMMIT would commit half the seed without its record: refused by every way in.
    folder = two_migrations(write_migration)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "01_plans.sql").write_text(SEED_A + "COMMIT;\nINSERT INTO plans VALUES ('x', 1);\n")
    with Migrator(db_url, folder) as m:
        for attempt in (m.seed, m.plan_seeds, lambda: m.apply(seed=True, backup=False)):
            with pytest.raises(ValidationError) as info:
                attempt()
            assert "01_plans.sql" in str(info.value)
    assert versions(db_url) == []  # apply --seed migrated nothing either
