"""PostgreSQL lint rules, each with the cases that must fire and the ones that must not."""

from __future__ import annotations

import pytest

from tests.lint_helpers import PG_BASE, lint, rules, where

NO_TX = "-- sqlmig: no-transaction\n"

# (rules expected, in order, for migration 2; its up file), migration 1 being PG_BASE.
FIRES = [
    (["index-not-concurrent"], "CREATE INDEX t_a ON t (a);"),
    (["index-not-concurrent"], "CREATE UNIQUE INDEX IF NOT EXISTS t_b ON public.t (b);"),
    (["index-not-concurrent"], "REINDEX TABLE t;"),
    (["index-not-concurrent"], "CREATE INDEX parts_at ON parts (at);"),
    (["fk-not-valid"], "ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (pid) REFERENCES p (id);"),
    (["fk-not-valid"], "ALTER TABLE t ADD COLUMN p2 int REFERENCES p (id);"),
    (
        ["fk-not-valid"],
        "ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (pid) REFERENCES p (id) NOT VALID;\n"
        "ALTER TABLE t VALIDATE CONSTRAINT t_p;",
    ),
    (["check-not-valid"], "ALTER TABLE t ADD CONSTRAINT a_pos CHECK (a > 0);"),
    (["check-not-valid"], "ALTER TABLE t ADD COLUMN c int CHECK (c > 0);"),
    (
        ["check-not-valid"],
        "ALTER TABLE t ADD CONSTRAINT a_pos CHECK (a > 0) NOT VALID;\n"
        "ALTER TABLE t VALIDATE CONSTRAINT a_pos;",
    ),
    (["set-not-null"], "ALTER TABLE t ALTER COLUMN a SET NOT NULL;"),
    (["set-not-null"], "ALTER TABLE t ADD CONSTRAINT a_nn NOT NULL a;"),
    (["column-type-rewrite"], "ALTER TABLE t ALTER COLUMN a TYPE bigint;"),
    (["column-type-rewrite"], "ALTER TABLE t ALTER COLUMN b TYPE varchar(5);"),
    (["column-type-rewrite"], "ALTER TABLE t ALTER COLUMN n TYPE numeric(7,3);"),
    (["column-type-rewrite"], "ALTER TABLE t ALTER COLUMN b TYPE text USING trim(b);"),
    (["column-type-rewrite"], "ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;"),
    (["add-column-rewrite"], "ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();"),
    (["add-column-rewrite"], "ALTER TABLE t ADD COLUMN s bigserial;"),
    (["add-column-rewrite"], "ALTER TABLE t ADD COLUMN i int GENERATED ALWAYS AS IDENTITY;"),
    (["add-column-rewrite"], "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;"),
    (["add-column-rewrite"], "ALTER TABLE t ADD COLUMN r float8 DEFAULT my_func();"),
    (["add-column-not-null"], "ALTER TABLE t ADD COLUMN x int NOT NULL;"),
    (["unique-without-index"], "ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a);"),
    (["unique-without-index"], "ALTER TABLE k ADD PRIMARY KEY (a);"),
    (["unique-without-index"], "ALTER TABLE t ADD COLUMN code text UNIQUE;"),
    (["unique-without-index"], "ALTER TABLE k ADD EXCLUDE USING btree (a WITH =);"),
    (["rename-table"], "ALTER TABLE t RENAME TO things;"),
    (["rename-column"], "ALTER TABLE t RENAME COLUMN a TO alpha;"),
    (["drop-table"], "DROP TABLE IF EXISTS k;"),
    (["drop-column"], "ALTER TABLE t DROP COLUMN a;"),
    (["table-rebuild"], "DROP TABLE k;\nCREATE TABLE k (a bigint, b int);"),
    (["vacuum-full"], NO_TX + "VACUUM FULL t;"),
    (["cluster"], "CLUSTER t USING t_pkey;"),
    (["lock-table"], "LOCK TABLE t;"),
    (["lock-table"], "LOCK TABLE t IN SHARE MODE;"),
    (
        ["backfill-with-ddl"],
        "ALTER TABLE t ADD COLUMN c int;\nUPDATE t SET c = a;",
    ),
    (["backfill-with-ddl"], "DELETE FROM t WHERE a IS NULL;\nALTER TABLE t ALTER a SET DEFAULT 0;"),
    (["lock-timeout"], "SET lock_timeout = 0;"),
    (["lock-timeout"], "SET LOCAL lock_timeout TO '0';"),
    (["lock-timeout"], "RESET lock_timeout;"),
    (["lock-timeout"], "RESET ALL;"),
    (["needs-no-transaction"], "CREATE INDEX CONCURRENTLY t_a ON t (a);"),
    (["index-not-concurrent", "needs-no-transaction"], "REINDEX TABLE parts;"),
    (["needs-no-transaction"], NO_TX + "BEGIN;\nDROP INDEX CONCURRENTLY t_a;\nCOMMIT;"),
    (["needs-transaction"], NO_TX + "LOCK TABLE t IN ACCESS SHARE MODE;"),
    (["needs-transaction"], NO_TX + "SAVEPOINT s;"),
    (["needs-transaction"], NO_TX + "SET LOCAL work_mem = '64MB';"),
    (["needs-transaction"], NO_TX + "DECLARE c CURSOR FOR SELECT 1;"),
    (["cluster", "needs-no-transaction"], "CLUSTER parts USING parts_at_idx;"),
    (["transaction-control"] * 2, "BEGIN;\nALTER TABLE t ADD COLUMN c int;\nCOMMIT;"),
    (["parse-error"], "ALTER TABLE t ADD COLUM c int;"),
]


@pytest.mark.parametrize(("expected", "sql"), FIRES, ids=[f"{r[0]}:{s[:40]}" for r, s in FIRES])
def test_rule_fires(tmp_path, expected, sql):
    found = lint(tmp_path / "sql", [PG_BASE, sql])
    assert rules(found) == expected, [f.message for f in found]
    assert all(f.path.name == "0002_m2.sql" for f in found)


# Each must lint clean: the safe patterns, and the cases where the context makes it safe.
CLEAN = [
    NO_TX + "CREATE INDEX CONCURRENTLY t_a ON t (a);",
    NO_TX + "REINDEX INDEX CONCURRENTLY t_pkey;",
    "CREATE TABLE q (id int, v text);\nCREATE INDEX q_v ON q (v);",  # same-file table
    "CREATE TABLE q (id int REFERENCES p (id), CONSTRAINT q_t FOREIGN KEY (id) REFERENCES t (id));",
    "CREATE TABLE q (id int);\nALTER TABLE q ADD CONSTRAINT q_p FOREIGN KEY (id) REFERENCES p (id);",
    "CREATE TABLE q (id int);\nALTER TABLE q ADD COLUMN n int NOT NULL, ADD UNIQUE (id);",
    "CREATE INDEX parts_at ON ONLY parts (at);",
    "ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (pid) REFERENCES p (id) NOT VALID;",
    NO_TX
    + "ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (pid) REFERENCES p (id) NOT VALID;\n"
    + "ALTER TABLE t VALIDATE CONSTRAINT t_p;",  # two transactions: the scan runs unlocked
    "ALTER TABLE t ADD CONSTRAINT a_pos CHECK (a > 0) NOT VALID;",
    "ALTER TABLE t ADD CONSTRAINT a_nn NOT NULL a NOT VALID;",
    "ALTER TABLE t ALTER COLUMN b TYPE varchar(200);",
    "ALTER TABLE t ALTER COLUMN b TYPE text;",
    "ALTER TABLE t ALTER COLUMN b TYPE character varying;",
    "ALTER TABLE t ALTER COLUMN n TYPE numeric(9,2);",
    "ALTER TABLE t ALTER COLUMN n TYPE numeric;",
    "ALTER TABLE t ALTER COLUMN addr TYPE inet;",
    "ALTER TABLE t ALTER COLUMN a TYPE int4;",
    "ALTER TABLE t ADD COLUMN c int;",
    "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;",
    "ALTER TABLE t ADD COLUMN c timestamptz NOT NULL DEFAULT now();",
    "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT CURRENT_TIMESTAMP;",
    "ALTER TABLE t ADD COLUMN c jsonb DEFAULT '{}'::jsonb, ADD COLUMN d text DEFAULT lower('X');",
    "ALTER TABLE t ADD COLUMN v int GENERATED ALWAYS AS (a * 2) VIRTUAL;",
    "ALTER TABLE t ADD CONSTRAINT t_b_key UNIQUE USING INDEX t_b_idx;",
    "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0, ALTER COLUMN b DROP NOT NULL;",
    "DROP INDEX t_pkey_two;",
    "CREATE TABLE q (id int);\nALTER TABLE q RENAME TO q2;\nALTER TABLE q2 RENAME COLUMN id TO ident;",
    "CREATE TABLE q (id int);\nALTER TABLE q DROP COLUMN id;\nDROP TABLE q;",
    "ALTER TABLE t ADD COLUMN c int;\nALTER TABLE t RENAME COLUMN c TO d;\nALTER TABLE t DROP COLUMN d;",
    NO_TX + "VACUUM ANALYZE t;",
    "ANALYZE t;",
    "LOCK TABLE t IN ACCESS SHARE MODE;",
    "LOCK TABLE t IN ROW EXCLUSIVE MODE;",
    "CREATE TABLE q (id int);\nLOCK TABLE q;",
    "UPDATE t SET a = 1 WHERE a IS NULL;",
    "CREATE TABLE q (id int);\nINSERT INTO q SELECT id FROM t;\nUPDATE q SET id = id + 1;",
    NO_TX + "ALTER TABLE t ADD COLUMN c int;\nUPDATE t SET c = a;",
    "SET lock_timeout = '5s';",
    "SET LOCAL statement_timeout = 0;",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY some_view;",
    "ALTER TYPE mood ADD VALUE 'sad';",
    "SAVEPOINT s;\nALTER TABLE t ADD COLUMN c int;\nRELEASE SAVEPOINT s;",
    "SELECT 'CREATE INDEX CONCURRENTLY x ON t (a); BEGIN; VACUUM FULL';",
    "COMMENT ON COLUMN t.a IS 'ALTER TABLE t DROP COLUMN a';",
    NO_TX + "BEGIN;\nLOCK TABLE q2 IN ACCESS SHARE MODE;\nCOMMIT;",
    NO_TX + "DECLARE c CURSOR WITH HOLD FOR SELECT 1;",
]


@pytest.mark.parametrize("sql", CLEAN, ids=[s[:50] for s in CLEAN])
def test_rule_stays_silent(tmp_path, sql):
    found = lint(tmp_path / "sql", [PG_BASE, sql])
    assert found == [], [(f.rule, f.message) for f in found]


def test_a_table_created_earlier_in_the_pending_batch_is_new(tmp_path):
    files = [PG_BASE, "CREATE TABLE q (id int, v text);", "CREATE INDEX q_v ON q (v);"]
    assert lint(tmp_path / "a", files, pending=[2, 3]) == []
    assert lint(tmp_path / "b", files, batch=[2, 3]) == []
    # Applied before this batch, it is a table with data: the index build blocks writes.
    assert rules(lint(tmp_path / "c", files, pending=[3])) == ["index-not-concurrent"]
    assert rules(lint(tmp_path / "d", files)) == ["index-not-concurrent"]


def test_pending_lints_only_the_up_files_apply_would_run(tmp_path):
    files = [(PG_BASE, "DROP TABLE t;"), ("CREATE INDEX t_a ON t (a);", "DROP TABLE p;")]
    assert where(lint(tmp_path / "sql", files, pending=[2])) == [
        ("up/0002_m2.sql", 1, "index-not-concurrent")
    ]


def test_a_down_file_may_drop_what_its_up_file_created(tmp_path):
    files = [
        PG_BASE,
        (
            "CREATE TABLE q (id int);\nALTER TABLE t ADD COLUMN c int;\n"
            "ALTER TABLE k RENAME COLUMN a TO a2;",
            "ALTER TABLE k RENAME COLUMN a2 TO a;\nALTER TABLE t DROP COLUMN c;\nDROP TABLE q;",
        ),
        ("SELECT 1;", "DROP TABLE q;"),  # but 0003's down drops what 0003 did not create
    ]
    found = lint(tmp_path / "sql", files)
    assert where(found) == [
        ("up/0002_m2.sql", 3, "rename-column"),
        ("down/0003_m3.sql", 1, "drop-table"),
    ]


def test_set_not_null_after_a_validated_check_skips_the_scan(tmp_path):
    files = [
        PG_BASE,
        "ALTER TABLE t ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID;",
        NO_TX + "ALTER TABLE t VALIDATE CONSTRAINT a_nn;",
        "ALTER TABLE t ALTER COLUMN a SET NOT NULL;\nALTER TABLE t DROP CONSTRAINT a_nn;",
    ]
    assert lint(tmp_path / "a", files) == []
    # Before PostgreSQL 12 SET NOT NULL always scans; without the VALIDATE it scans too.
    old = lint(tmp_path / "b", files, pg_version=11)
    assert rules(old) == ["set-not-null"] and "always scans" in old[0].fix
    assert rules(lint(tmp_path / "c", [files[0], files[1], files[3]])) == ["set-not-null"]


def test_server_version_rules(tmp_path):
    add_value = "ALTER TYPE mood ADD VALUE 'sad';"
    found = lint(tmp_path / "a", [PG_BASE, add_value], pg_version=11)
    assert rules(found) == ["needs-no-transaction"]
    assert "before PostgreSQL 12" in found[0].message
    assert lint(tmp_path / "b", [PG_BASE, add_value], server_version=15, pg_version=11) == []
    default = "ALTER TABLE t ADD COLUMN c int DEFAULT 0;"
    assert rules(lint(tmp_path / "c", [PG_BASE, default], pg_version=10)) == ["add-column-rewrite"]
    assert lint(tmp_path / "d", [PG_BASE, default], pg_version=11) == []


def test_lock_timeout_zero_makes_a_lock_wait_forever(tmp_path):
    sql = (
        "ALTER TABLE t ADD COLUMN c int;\nALTER TABLE t ADD COLUMN d int;\nCREATE TABLE q (id int);"
    )
    found = lint(tmp_path / "a", [PG_BASE, sql], lock_timeout=0)
    assert rules(found) == ["lock-timeout"]  # once per file, at the first lock
    assert "waits forever" in found[0].message
    assert lint(tmp_path / "b", [PG_BASE, sql]) == []  # sqlmig's own 30 s makes it moot
    assert lint(tmp_path / "c", [PG_BASE, "CREATE TABLE q (id int);"], lock_timeout=0) == []


def test_column_type_with_an_unknown_old_type(tmp_path):
    found = lint(tmp_path / "a", ["ALTER TABLE elsewhere ALTER COLUMN c TYPE varchar(50);"])
    assert rules(found) == ["column-type-rewrite"]
    assert "not in the migration set" in found[0].message
    found = lint(tmp_path / "b", ["ALTER TABLE elsewhere ALTER COLUMN c TYPE bigint;"])
    assert "rewrites the table" in found[0].message


def test_types_follow_renames_and_earlier_changes(tmp_path):
    files = [
        PG_BASE,
        "-- sqlmig: allow rename-column no released code reads t.b yet\n"
        "ALTER TABLE t RENAME COLUMN b TO label;",
        "ALTER TABLE t ALTER COLUMN label TYPE varchar(40);",
        "ALTER TABLE t ALTER COLUMN label TYPE varchar(20);",
    ]
    found = lint(tmp_path / "sql", files)
    assert where(found) == [("up/0004_m4.sql", 1, "column-type-rewrite")]
    assert "from varchar(40) to varchar(20)" in found[0].message


def test_positions_are_the_statement_lines_apply_reports(tmp_path):
    sql = "-- header\n\nSELECT 1;\n  ALTER TABLE t\n    ADD CONSTRAINT a_pos CHECK (a > 0);\n"
    (found,) = lint(tmp_path / "sql", [PG_BASE, sql])
    assert (found.line, found.col) == (5, 9)  # at the constraint, inside the statement at 4:3
    (parse,) = lint(tmp_path / "b", [PG_BASE, "SELECT 'é';\nSELECT 'ü' FRM t;"])
    assert (parse.rule, parse.line, parse.col) == ("parse-error", 2, 16)  # at "t", in characters


def test_node_locations_are_characters_not_bytes(tmp_path):
    sql = 'ALTER TABLE t ADD COLUMN "naïve" int, ADD CONSTRAINT c CHECK (a > 0);'
    (found,) = lint(tmp_path / "sql", [PG_BASE, sql])
    assert found.col == sql.index("CONSTRAINT c") + 1


# False positives found by running lint over public migration sets (bench/lint_corpus.py),
# each reproduced here with SQL of our own.


def test_if_not_exists_of_an_index_the_set_already_built_builds_nothing(tmp_path):
    """A release branch's index, created again IF NOT EXISTS on the main line: a no-op."""
    files = [
        PG_BASE,
        "-- sqlmig: allow index-not-concurrent t is small in 1.0\nCREATE INDEX IF NOT EXISTS t_a ON t (a);",
        "CREATE INDEX IF NOT EXISTS t_a ON t (a);",
    ]
    assert lint(tmp_path / "a", files) == []
    # Dropped in between (unqualified, through the search_path), it is built again.
    rebuilt = [
        *files[:2],
        "DROP INDEX IF EXISTS t_a;\nCREATE INDEX IF NOT EXISTS t_a ON public.t (a);",
    ]
    assert rules(lint(tmp_path / "b", rebuilt)) == ["index-not-concurrent"]


def test_add_column_if_not_exists_of_a_column_the_set_has_is_a_no_op(tmp_path):
    files = [PG_BASE, "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int NOT NULL;"]
    assert lint(tmp_path / "a", files) == []
    # A DO block that alters the table may have renamed the column away: lint cannot know.
    guarded = (
        "DO $$ BEGIN IF true THEN ALTER TABLE t RENAME COLUMN a TO a_old; END IF; END $$;\n"
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int NOT NULL;"
    )
    assert rules(lint(tmp_path / "b", [PG_BASE, guarded])) == ["add-column-not-null"]
    # A DO block that only reads the table changes nothing lint knows.
    reads = "DO $$ BEGIN PERFORM count(*) FROM t; END $$;\nALTER TABLE t ALTER COLUMN b TYPE text;"
    assert lint(tmp_path / "c", [PG_BASE, reads]) == []


def test_a_default_calling_a_function_the_set_declares_stable(tmp_path):
    functions = (
        "CREATE FUNCTION epoch_now() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT 1 $$;\n"
        "CREATE FUNCTION next_code() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;"
    )
    stable = "ALTER TABLE t ADD COLUMN at bigint DEFAULT epoch_now();"
    assert lint(tmp_path / "a", [PG_BASE + functions, stable]) == []
    volatile = "ALTER TABLE t ADD COLUMN code text DEFAULT next_code();"
    (found,) = lint(tmp_path / "b", [PG_BASE + functions, volatile])
    assert (
        found.rule == "add-column-rewrite" and "the volatile default next_code()" in found.message
    )


def test_a_column_copied_and_swapped_in_under_its_name_is_not_dropped(tmp_path):
    """Changing a column's type by copy and swap: the name never disappears at commit."""
    swap = (
        "ALTER TABLE t ADD COLUMN a_text text;\n"
        "UPDATE t SET a_text = a::text;\n"
        "ALTER TABLE t DROP COLUMN a;\n"
        "ALTER TABLE t RENAME COLUMN a_text TO a;"
    )
    assert rules(lint(tmp_path / "a", [PG_BASE, swap])) == ["backfill-with-ddl"]
    # In a no-transaction file each statement commits: readers do see it missing.
    found = lint(tmp_path / "b", [PG_BASE, "-- sqlmig: no-transaction\n" + swap])
    assert rules(found) == ["drop-column"]
