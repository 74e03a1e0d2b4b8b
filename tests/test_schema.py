"""Drift detection: the live schema against sql/schema.sql, on both engines."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sqlmig import Migrator, StatementError
from tests.conftest import REPO
from tests.helpers import SUPABASE_ROLES, make_roles, query


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    return tmp_path / "sql"


def scratch_databases(url: str) -> list[str]:
    return [
        r[0]
        for r in query(url, "SELECT datname FROM pg_database WHERE datname LIKE 'sqlmig_scratch_%'")
    ]


def drift_after_change(url: str, folder: Path, baseline: str, change: str) -> list[str]:
    """Build ``baseline`` in the database, make ``change`` by hand, run the drift check."""
    (folder / "schema.sql").write_text(baseline)
    for statement in (baseline + ";\n" + change).split(";\n"):
        if statement.strip():
            query(url, statement)
    with Migrator(url, folder) as m:
        return m.diff(folder / "schema.sql")


def test_demo_migrations_produce_exactly_schema_sql(db_url, demo):
    with Migrator(db_url, demo) as m:
        m.apply(backup=False)
        assert m.diff() == []
        m.rollback()
        behind = m.diff()  # at version 4, with 5 pending: compared with what 1..4 build
        drift = m.diff(demo / "schema.sql")
    assert behind == [] and behind.version == 4 and behind.pending == [5]
    assert any("profiles" in line for line in drift), drift
    if db_url.startswith("postgres"):
        assert scratch_databases(db_url) == []


BASE = """\
CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL DEFAULT 'x', note TEXT);
CREATE INDEX accounts_email ON accounts (email);
CREATE VIEW emails AS SELECT email FROM accounts;
"""

# Same objects, different formatting: never drift.
REFORMATTED = """\
create   table "accounts" (
    id integer primary key,
    email text not null default 'x',
    note text
);
create index accounts_email on accounts(email);
create view emails as select email from accounts;
"""


def drifted(db_url: str, tmp_path: Path, change: str, baseline: str = BASE) -> list[str]:
    (tmp_path / "schema.sql").write_text(baseline)
    folder = tmp_path / "sql"
    (folder / "up").mkdir(parents=True, exist_ok=True)
    (folder / "down").mkdir(parents=True, exist_ok=True)
    for statement in BASE.split(";\n"):
        if statement.strip():
            query(db_url, statement)
    for statement in change.split(";\n"):
        if statement.strip():
            query(db_url, statement)
    with Migrator(db_url, folder) as m:
        return m.diff(tmp_path / "schema.sql")


def test_formatting_is_not_drift(db_url, tmp_path):
    assert drifted(db_url, tmp_path, "", baseline=REFORMATTED) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "ALTER TABLE accounts ADD COLUMN extra INTEGER",
            "column accounts.extra: in database, not in schema.sql",
        ),
        ("DROP INDEX accounts_email", "index accounts_email missing in database"),
        (
            "DROP VIEW emails;\nCREATE VIEW emails AS SELECT email, note FROM accounts",
            "view emails",
        ),
    ],
)
def test_changes_made_by_hand_are_drift(db_url, tmp_path, change, expected):
    drift = drifted(db_url, tmp_path, change)
    assert any(expected in line for line in drift), drift


def test_postgres_type_and_default_changes_are_named(pg_url, tmp_path):
    drift = drifted(
        pg_url,
        tmp_path,
        "ALTER TABLE accounts ALTER COLUMN note TYPE varchar(255);\nALTER TABLE accounts ALTER COLUMN email SET DEFAULT 'y'",
    )
    assert (
        "column accounts.note: type character varying(255) in database, text in schema.sql" in drift
    )
    assert "column accounts.email: default 'y'::text in database, 'x'::text in schema.sql" in drift


def test_sqlite_type_and_default_changes_are_named(sqlite_url, tmp_path):
    drift = drifted(
        sqlite_url,
        tmp_path,
        "",
        baseline=BASE.replace("note TEXT", "note VARCHAR(255)").replace(
            "DEFAULT 'x'", "DEFAULT 'y'"
        ),
    )
    assert "column accounts.note: type TEXT in database, VARCHAR(255) in schema.sql" in drift
    assert "column accounts.email: default 'x' in database, 'y' in schema.sql" in drift


RLS_BASE = """\
CREATE TABLE profiles (id int PRIMARY KEY, owner text NOT NULL, bio text);
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users see own profile" ON profiles FOR SELECT USING (owner = current_user);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.bio := coalesce(NEW.bio, ''); RETURN NEW; END $$;
CREATE TRIGGER profiles_touch BEFORE INSERT ON profiles FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TYPE mood AS ENUM ('ok', 'sad');
"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            'DROP POLICY "Users see own profile" ON profiles',
            'policy profiles."Users see own profile" missing in database',
        ),
        (
            'ALTER POLICY "Users see own profile" ON profiles USING (true)',
            'policy profiles."Users see own profile": using true in database, (owner = CURRENT_USER) in schema.sql',
        ),
        (
            "ALTER TABLE profiles DISABLE ROW LEVEL SECURITY",
            "table profiles: row level security disabled in database, enabled",
        ),
        (
            "DROP TRIGGER profiles_touch ON profiles;\nCREATE TRIGGER profiles_touch AFTER INSERT ON profiles FOR EACH ROW EXECUTE FUNCTION touch()",
            "trigger profiles.profiles_touch: definition",
        ),
        (
            "ALTER TYPE mood ADD VALUE 'glad'",
            "type mood: labels 'ok', 'sad', 'glad' in database, 'ok', 'sad' in schema.sql",
        ),
        (
            "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            "function touch(): definition",
        ),
    ],
)
def test_postgres_rls_policies_triggers_types_functions(pg_url, tmp_path, change, expected):
    drift = drift_after_change(pg_url, tmp_path, RLS_BASE, change)
    assert any(expected in line for line in drift), drift


def test_bad_baseline_names_its_line_and_leaves_no_scratch_database(db_url, tmp_path):
    (tmp_path / "schema.sql").write_text("CREATE TABLE a (x int);\nCREATE TABLE a (x int);\n")
    with Migrator(db_url, tmp_path) as m, pytest.raises(StatementError) as info:
        m.diff(tmp_path / "schema.sql")
    assert info.value.path.name == "schema.sql" and info.value.line == 2
    assert "scratch database, which is removed; the configured database was not touched" in str(
        info.value
    )
    if db_url.startswith("postgres"):
        assert scratch_databases(db_url) == []


def test_baseline_larger_than_one_transactions_locks_still_loads(tmp_path):
    """The baseline loads in one transaction for speed; a server whose lock table cannot
    hold the whole schema must still get a drift check, one statement at a time."""
    import psycopg

    from tests.pgcluster import start_cluster

    cluster = start_cluster("max_locks_per_transaction=10", "max_connections=20")
    try:
        ddl = "".join(f"CREATE TABLE t{i} (id int PRIMARY KEY, note text);\n" for i in range(300))
        (tmp_path / "schema.sql").write_text(ddl)
        live = cluster.url("postgres")
        with psycopg.connect(live, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.OutOfMemory):
                conn.execute(ddl)  # the premise: all of it in one transaction does not fit
            for statement in ddl.splitlines():
                conn.execute(statement)
        with Migrator(live, tmp_path) as m:
            assert m.diff(tmp_path / "schema.sql") == []
            with psycopg.connect(live, autocommit=True) as conn:
                conn.execute("ALTER TABLE t299 ADD COLUMN extra int")
            assert m.diff(tmp_path / "schema.sql") == [
                "column t299.extra: in database, not in schema.sql"
            ]
        assert scratch_databases(live) == []
    finally:
        cluster.stop()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_diff_drops_its_scratch_database(pg_url, tmp_path, sig):
    (tmp_path / "schema.sql").write_text("CREATE TABLE a (x int);\nSELECT pg_sleep(30);\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlmig", "diff", "-d", pg_url, "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not any(
        query(
            pg_url,
            "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' "
            "AND datname LIKE 'sqlmig_scratch_%'",
        )
    ):
        assert time.monotonic() < deadline and proc.poll() is None, "the baseline never loaded"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "interrupted: nothing in the configured database was changed" in " ".join(err.split())
    assert scratch_databases(pg_url) == []


def test_sqlmig_tables_are_not_part_of_the_schema(db_url, demo):
    with Migrator(db_url, demo) as m:
        m.apply(backup=False)
        assert not [k for k in m.engine().introspect() if "schema_version" in k]


RICH = """\
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE SCHEMA billing;
COMMENT ON SCHEMA billing IS 'money';
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE DOMAIN email AS text NOT NULL CONSTRAINT email_at CHECK (VALUE LIKE '%@%');
CREATE TYPE pair AS (a int, b text);
CREATE SEQUENCE billing.invoice_no START 100 INCREMENT 5;
CREATE TABLE billing.customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mail email,
    name text COLLATE "C",
    name_len int GENERATED ALWAYS AS (length(name)) STORED,
    feeling mood DEFAULT 'ok',
    nick text COLLATE "C"
);
COMMENT ON TABLE billing.customers IS 'who pays';
COMMENT ON COLUMN billing.customers.name IS 'legal name';
CREATE TABLE billing.rooms (room int, during tstzrange, EXCLUDE USING gist (room WITH =, during WITH &&));
CREATE TABLE billing.invoices (
    no int DEFAULT nextval('billing.invoice_no') PRIMARY KEY,
    customer bigint REFERENCES billing.customers (id) DEFERRABLE INITIALLY DEFERRED,
    total numeric(10, 2) CHECK (total >= 0)
);
ALTER TABLE billing.invoices ADD CONSTRAINT invoices_total_cap CHECK (total < 1000000) NOT VALID;
CREATE INDEX invoices_big ON billing.invoices (total) WHERE total > 100;
CREATE INDEX customers_lower_name ON billing.customers (lower(name));
CREATE TABLE events (at date NOT NULL, what text) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE VIEW billing.big_invoices AS SELECT no, total FROM billing.invoices WHERE total > 100;
CREATE MATERIALIZED VIEW billing.totals AS SELECT customer, sum(total) AS total FROM billing.invoices GROUP BY customer;
CREATE FUNCTION billing.tax(x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT x * 0.2; END;
CREATE PROCEDURE billing.noop() LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
ALTER TABLE billing.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing.customers FORCE ROW LEVEL SECURITY;
CREATE POLICY own ON billing.customers AS RESTRICTIVE FOR UPDATE TO public USING (name = current_user) WITH CHECK (true);
"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("", None),
        (
            "COMMENT ON COLUMN billing.customers.name IS 'nickname'",
            "column billing.customers.name: comment nickname in database",
        ),
        (
            'ALTER TABLE billing.customers ALTER COLUMN nick TYPE text COLLATE "POSIX"',
            'column billing.customers.nick: collation "POSIX"',
        ),
        (
            "ALTER TABLE billing.invoices VALIDATE CONSTRAINT invoices_total_cap",
            "constraint billing.invoices.invoices_total_cap: definition",
        ),
        (
            "ALTER TABLE billing.invoices ALTER CONSTRAINT invoices_customer_fkey NOT DEFERRABLE",
            "constraint billing.invoices.invoices_customer_fkey: definition",
        ),
        (
            "DROP INDEX billing.invoices_big;\nCREATE INDEX invoices_big ON billing.invoices (total) WHERE total > 200",
            "index billing.invoices_big: definition",
        ),
        (
            "ALTER SEQUENCE billing.invoice_no INCREMENT 1",
            "sequence billing.invoice_no: increment 1 in database, 5 in schema.sql",
        ),
        (
            "ALTER DOMAIN email DROP NOT NULL",
            "type email: not null no in database, yes in schema.sql",
        ),
        (
            "ALTER TABLE billing.customers NO FORCE ROW LEVEL SECURITY",
            "table billing.customers: row level security enabled in database, forced",
        ),
        ("DROP TABLE events_2026", "table events_2026 missing in database"),
        (
            "DROP MATERIALIZED VIEW billing.totals",
            "materialized view billing.totals missing in database",
        ),
        (
            "ALTER TABLE billing.customers ALTER COLUMN id SET GENERATED BY DEFAULT",
            "column billing.customers.id: identity by default in database, always",
        ),
        ("DROP PROCEDURE billing.noop()", "procedure billing.noop() missing in database"),
        ("ALTER TYPE pair ADD ATTRIBUTE c int", "type pair: attributes"),
        (
            "ALTER TABLE billing.rooms DROP CONSTRAINT rooms_room_during_excl",
            "constraint billing.rooms.rooms_room_during_excl missing in database",
        ),
    ],
)
def test_postgres_object_kinds(pg_url, tmp_path, change, expected):
    drift = drift_after_change(pg_url, tmp_path, RICH, change)
    if expected is None:
        assert drift == []
    else:
        assert any(expected in line for line in drift), drift


SQLITE_RICH = """\
CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT CHECK (length(b) < 10), c INT AS (a * 2) STORED) STRICT;
CREATE TABLE k (x TEXT PRIMARY KEY, y INT) WITHOUT ROWID;
CREATE TABLE child (id INTEGER PRIMARY KEY, t_id INT REFERENCES t (a) ON DELETE CASCADE);
CREATE INDEX child_t ON child (t_id) WHERE t_id IS NOT NULL;
CREATE VIEW v AS SELECT a, b FROM t;
CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN UPDATE t SET b = 'x' WHERE a = new.a; END;
"""


@pytest.mark.parametrize(
    ("baseline_change", "expected"),
    [
        (None, None),
        (("CHECK (length(b) < 10)", "CHECK (length(b) < 20)"), "table t: definition"),
        ((") STRICT;", ");"), "table t: definition"),
        # WITHOUT ROWID makes its key NOT NULL: the finer line is the one shown
        (("WITHOUT ROWID", ""), "column k.x: nullable no in database, yes in schema.sql"),
        (("AS (a * 2) STORED", "AS (a * 3) STORED"), "table t: definition"),
        (
            ("ON DELETE CASCADE", "ON DELETE SET NULL"),
            "foreign key child.(t_id): on delete cascade in database, set null",
        ),
        (("WHERE t_id IS NOT NULL", ""), "index child_t: definition"),
        (("SET b = 'x'", "SET b = 'y'"), "trigger t_ai: definition"),
    ],
)
def test_sqlite_object_kinds(sqlite_url, tmp_path, baseline_change, expected):
    baseline = SQLITE_RICH if baseline_change is None else SQLITE_RICH.replace(*baseline_change)
    (tmp_path / "schema.sql").write_text(baseline)
    for statement in [
        "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT CHECK (length(b) < 10), c INT AS (a * 2) STORED) STRICT",
        "CREATE TABLE k (x TEXT PRIMARY KEY, y INT) WITHOUT ROWID",
        "CREATE TABLE child (id INTEGER PRIMARY KEY, t_id INT REFERENCES t (a) ON DELETE CASCADE)",
        "CREATE INDEX child_t ON child (t_id) WHERE t_id IS NOT NULL",
        "CREATE VIEW v AS SELECT a, b FROM t",
        "CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN UPDATE t SET b = 'x' WHERE a = new.a; END",
    ]:
        query(sqlite_url, statement)
    with Migrator(sqlite_url, tmp_path) as m:
        drift = m.diff(tmp_path / "schema.sql")
    if expected is None:
        assert drift == []
    else:
        assert any(expected in line for line in drift), drift


def test_roundtrip_passes_on_the_demo_set_and_touches_nothing(db_url, demo):
    with Migrator(db_url, demo) as m:
        assert m.test_roundtrip().problems == []
        assert m.applied() == []
    if db_url.startswith("postgres"):
        assert scratch_databases(db_url) == []


def test_roundtrip_names_what_a_down_file_forgets(db_url, write_migration):
    folder = write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    write_migration(2, "col", "ALTER TABLE t ADD COLUMN b int;", "SELECT 1;")
    write_migration(
        3, "gone", "DROP TABLE t;", "-- sqlmig: irreversible the data is gone\nSELECT 1;"
    )
    with Migrator(db_url, folder) as m:
        problems = m.test_roundtrip().problems
    assert problems[0] == (
        "0002_col.sql: the down file does not undo the up file: column t.b: in after down, not in before up"
    )
    # SQLite also says the table's text changed; then the up cannot run again.
    assert len(problems) == (3 if db_url.startswith("sqlite") else 2)
    assert "ADD COLUMN b" in problems[-1]


def test_roundtrip_reports_an_up_file_that_fails_and_stops(db_url, write_migration):
    folder = write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    write_migration(2, "bad", "ALTER TABLE t ADD COLUMN b int;\nALTER TABLE nope ADD c int;")
    write_migration(3, "never", "CREATE TABLE u (a int);", "DROP TABLE u;")
    with Migrator(db_url, folder) as m:
        problems = m.test_roundtrip().problems
        assert m.applied() == []
    assert len(problems) == 1
    assert problems[0].startswith("0002_bad.sql: ") and "0002_bad.sql:2: " in problems[0]
    assert "nope" in problems[0] and "configured database was not touched" in problems[0]


def test_roundtrip_blames_only_the_migration_that_left_something_behind(db_url, write_migration):
    folder = write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    # This down leaves a table behind; its second up runs all the same.
    write_migration(2, "u", "CREATE TABLE u (a int);", "DROP TABLE u; CREATE TABLE junk (a int);")
    write_migration(3, "w", "CREATE TABLE w (a int);", "DROP TABLE w;")
    with Migrator(db_url, folder) as m:
        problems = m.test_roundtrip().problems
    assert problems and all(p.startswith("0002_u.sql: ") for p in problems), problems


def test_roundtrip_skips_irreversible_and_passes(db_url, write_migration):
    folder = write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    write_migration(2, "idx", "CREATE INDEX t_a ON t (a);", "DROP INDEX t_a;")
    write_migration(
        3, "gone", "DROP TABLE t;", "-- sqlmig: irreversible the data is gone\nSELECT 1;"
    )
    with Migrator(db_url, folder) as m:
        assert m.test_roundtrip().problems == []


def test_roundtrip_compares_the_end_with_schema_sql(sqlite_url, write_migration):
    folder = write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    (folder / "schema.sql").write_text("CREATE TABLE t (a int, b int);\n")
    with Migrator(sqlite_url, folder) as m:
        problems = m.test_roundtrip().problems
    assert problems == [
        "schema.sql is not the schema the migrations build, at any version (differences "
        "below): if the migrations are right, regenerate it from the migrations with `sqlmig "
        "dump --from-migrations` (`make schema`) and commit it; if schema.sql is, fix the "
        "migrations",
        "after all migrations: column t.b missing in migrations",
        "after all migrations: table t: definition create table t(a int) in migrations, "
        "create table t(a int,b int) in schema.sql",
    ]


def test_supabase_example_catches_policy_and_grant_drift(pg_url, tmp_path):
    make_roles(pg_url, *SUPABASE_ROLES)
    folder = tmp_path / "sql"
    shutil.copytree(REPO / "examples" / "supabase" / "sql", folder)
    with Migrator(pg_url, folder) as m:
        m.apply()
        assert m.diff() == []
        assert m.test_roundtrip().problems == []
        query(pg_url, 'ALTER POLICY "Users can update own profile" ON profiles USING (true)')
        query(pg_url, "ALTER TABLE profiles DISABLE ROW LEVEL SECURITY")
        query(pg_url, "REVOKE UPDATE ON profiles FROM authenticated")
        drift = m.diff()
    assert drift == [
        'policy profiles."Users can update own profile": using true in database, (auth.uid() = id) in schema.sql',
        "privilege UPDATE on table profiles to authenticated missing in database",
        "table profiles: row level security disabled in database, enabled in schema.sql",
    ]


# Found by a review of the PostgreSQL drift check: (live, schema.sql) pairs that are the
# same schema and were reported as drift.
SAME_SCHEMA = {
    "policy roles in another order": (
        "CREATE TABLE t (id int); CREATE POLICY p ON t TO ra, rb USING (true);",
        "CREATE TABLE t (id int); CREATE POLICY p ON t TO rb, ra USING (true);",
    ),
    "domain default after a sequence rename": (
        "CREATE SEQUENCE s; CREATE DOMAIN d AS bigint DEFAULT nextval('s');"
        "ALTER SEQUENCE s RENAME TO s2;",
        "CREATE SEQUENCE s2; CREATE DOMAIN d AS bigint DEFAULT nextval('s2');",
    ),
    "storage options in another order": (
        "CREATE TABLE t (a int) WITH (fillfactor = 70, autovacuum_enabled = false);",
        "CREATE TABLE t (a int) WITH (autovacuum_enabled = false, fillfactor = 70);",
    ),
    "a range type's own functions": (
        "CREATE TYPE fr AS RANGE (subtype = float8);",
        "CREATE TYPE fr AS RANGE (subtype = float8);",
    ),
}


@pytest.mark.parametrize(("live", "baseline"), SAME_SCHEMA.values(), ids=SAME_SCHEMA.keys())
def test_the_same_schema_written_differently_is_not_drift(pg_url, tmp_path, live, baseline):
    query(
        pg_url,
        "DO $$ BEGIN CREATE ROLE ra; CREATE ROLE rb; EXCEPTION WHEN duplicate_object THEN END $$",
    )
    query(pg_url, live)
    (tmp_path / "schema.sql").write_text(baseline)
    with Migrator(pg_url, tmp_path) as m:
        assert m.diff(tmp_path / "schema.sql") == []


def test_a_range_type_is_one_object(pg_url, tmp_path):
    query(pg_url, "CREATE TYPE fr AS RANGE (subtype = float8);")
    (tmp_path / "schema.sql").write_text("")
    with Migrator(pg_url, tmp_path) as m:
        assert m.diff(tmp_path / "schema.sql") == ["range type fr: in database, not in schema.sql"]


def test_the_database_search_path_applies_to_schema_sql(pg_url, tmp_path):
    query(
        pg_url,
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = app, public', "
        "current_database()); END $$",
    )
    query(pg_url, "CREATE SCHEMA app; CREATE TABLE app.t (a int);")
    (tmp_path / "schema.sql").write_text("CREATE SCHEMA app; CREATE TABLE t (a int);\n")
    with Migrator(pg_url, tmp_path) as m:
        assert m.diff(tmp_path / "schema.sql") == []


def test_a_schema_set_aside_for_sqlmig_is_not_drift(pg_url, demo):
    with Migrator(pg_url, demo, schema="sqlmig_meta") as m:
        m.apply(backup=False)
        assert m.diff() == []


def test_an_invalid_index_left_by_a_failed_concurrent_build_is_drift(pg_url, tmp_path):
    query(pg_url, "CREATE TABLE t (a int); INSERT INTO t VALUES (1), (1);")
    with pytest.raises(Exception, match="could not create unique index"):
        query(pg_url, "CREATE UNIQUE INDEX CONCURRENTLY t_a ON t (a)")
    query(pg_url, "DELETE FROM t")
    (tmp_path / "schema.sql").write_text(
        "CREATE TABLE t (a int); CREATE UNIQUE INDEX t_a ON t (a);"
    )
    with Migrator(pg_url, tmp_path) as m:
        assert m.diff(tmp_path / "schema.sql") == [
            "index t_a: valid no in database, yes in schema.sql"
        ]


def test_long_values_are_shown_where_they_differ():
    from sqlmig.schema import compare

    labels = ", ".join(f"'label_{i}'" for i in range(20))
    line = compare({"type mood": {"labels": labels + ", 'new'"}}, {"type mood": {"labels": labels}})
    assert line[0].startswith("type mood: labels ...") and "'new' in database" in line[0]
    body = {"definition": "BEGIN\n  RETURN 1;\nEND"}
    line = compare({"function f()": body}, {"function f()": {"definition": "BEGIN RETURN 1; END"}})
    assert line == [
        "function f(): definition BEGIN\\n  RETURN 1;\\nEND in database, BEGIN RETURN 1; END in schema.sql"
    ]
