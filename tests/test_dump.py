"""`sqlmig dump`: the same database gives the same bytes, and loading a dump into an empty
database gives a database that dumps to the same bytes and shows no drift."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sqlmig import Migrator
from sqlmig.cli import app
from tests.conftest import REPO
from tests.helpers import SUPABASE_ROLES, make_roles, query
from tests.test_schema import RICH
from tests.test_schema_oracle import FRAGMENTS, schema_dump

# What a dependency-blind dump gets wrong: objects whose names sort before what they
# need, keywords and mixed case as names, functions that read tables.
TRICKY = """\
CREATE TABLE "order" ("user" text PRIMARY KEY, "Total" numeric);
CREATE TABLE zz_base (id serial PRIMARY KEY, code text NOT NULL);
ALTER TABLE zz_base ADD CONSTRAINT zz_base_code UNIQUE (code);
CREATE TABLE aa_ref (code text REFERENCES zz_base (code));
CREATE VIEW b_view AS SELECT id FROM zz_base;
CREATE VIEW a_view AS SELECT id FROM b_view;
CREATE OR REPLACE VIEW b_view AS SELECT id, code FROM zz_base;
CREATE VIEW grouped AS SELECT id, code, count(*) AS n FROM zz_base GROUP BY id;
CREATE FUNCTION a_count() RETURNS bigint LANGUAGE sql STABLE
    BEGIN ATOMIC SELECT count(*) FROM zz_base; END;
CREATE FUNCTION a_rows() RETURNS SETOF zz_base LANGUAGE sql AS 'SELECT * FROM zz_base';
CREATE FUNCTION a_next() RETURNS int LANGUAGE sql AS 'SELECT 7';
CREATE TABLE uses_fn (n int DEFAULT a_next());
CREATE DOMAIN a_small AS zz_domain_base CHECK (VALUE < 10);
CREATE TABLE tree (at date NOT NULL, kind text NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE tree_2026 PARTITION OF tree FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
    PARTITION BY LIST (kind);
CREATE TABLE tree_2026_x PARTITION OF tree_2026 FOR VALUES IN ('x');
CREATE TABLE tree_2027 PARTITION OF tree (kind WITH OPTIONS DEFAULT 'y')
    FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
ALTER TABLE tree ADD COLUMN note text;
ALTER TABLE tree_2027 ALTER COLUMN note SET NOT NULL;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER zz_touch BEFORE UPDATE ON zz_base FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE zz_base DISABLE TRIGGER zz_touch;
COMMENT ON TABLE "order" IS 'it''s quoted';
COMMENT ON FUNCTION a_count() IS 'rows';
CREATE VIEW secure WITH (security_invoker = true) AS SELECT code FROM zz_base;
CREATE TABLE aa_child (c int, shared text NOT NULL) INHERITS (zz_parent_a, zz_parent_b);
"""
# Parents named to sort after the child: only the dependency puts them first.
PARENTS = """\
CREATE TABLE zz_parent_a (a int CHECK (a > 0), shared text);
CREATE TABLE zz_parent_b (b int, shared text);
"""


def pg_database(admin: str) -> str:
    name = f"dump_{uuid.uuid4().hex[:10]}"
    query(admin, f"CREATE DATABASE {name}")
    return admin.rsplit("/", 1)[0] + "/" + name


def load(url: str, script: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            conn.executescript(script)
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(script)


def dump(url: str, folder: Path) -> str:
    with Migrator(url, folder) as m:
        return m.dump().text


def assert_reproducible(url: str, empty_url: str, folder: Path) -> str:
    """Dump twice, load into ``empty_url``, dump that: all the same bytes, and no drift."""
    first = dump(url, folder)
    assert dump(url, folder) == first
    load(empty_url, first)
    assert dump(empty_url, folder) == first
    (folder / "dumped.sql").write_text(first)
    with Migrator(url, folder) as m:
        assert m.diff(folder / "dumped.sql") == []
    return first


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'empty.db'}"
    admin = str(request.getfixturevalue("pg_cluster").admin_url)
    return pg_database(admin)


def test_demo_dump_is_reproducible_and_leaves_out_sqlmig_tables(db_url, empty_url, tmp_path):
    folder = tmp_path / "sql"
    shutil.copytree(REPO / "sql", folder)
    with Migrator(db_url, folder) as m:
        m.apply(backup=False)
    text = assert_reproducible(db_url, empty_url, folder)
    assert "schema_version" not in text
    assert "profiles" in text


def test_postgres_dump_of_every_object_kind(pg_cluster, tmp_path):
    admin = pg_cluster.admin_url
    url, empty = pg_database(admin), pg_database(admin)
    load(url, "CREATE DOMAIN zz_domain_base AS int;\n" + PARENTS + RICH + TRICKY)
    text = assert_reproducible(url, empty, tmp_path)
    assert schema_dump(empty) == schema_dump(url)  # pg_dump, as an oracle, agrees
    for expected in (
        'CREATE TABLE "order" (\n    "user" text NOT NULL,\n    "Total" numeric\n);',
        "ALTER TABLE zz_base DISABLE TRIGGER zz_touch;",
        "COMMENT ON TABLE \"order\" IS 'it''s quoted';",
        "ALTER SEQUENCE zz_base_id_seq OWNED BY zz_base.id;",
        "CREATE POLICY own ON billing.customers AS RESTRICTIVE FOR UPDATE USING",
        "CREATE MATERIALIZED VIEW billing.totals AS",
        "CREATE VIEW secure WITH (security_invoker=true) AS",
        "CREATE TABLE tree_2027 PARTITION OF tree FOR VALUES FROM ('2027-01-01') TO "
        "('2028-01-01');\n\nALTER TABLE ONLY tree_2027 ALTER COLUMN kind SET DEFAULT 'y'::text;"
        "\n\nALTER TABLE ONLY tree_2027 ALTER COLUMN note SET NOT NULL;",
        "CREATE TABLE aa_child (\n    shared text NOT NULL,\n    c integer\n) "
        "INHERITS (zz_parent_a, zz_parent_b);",
    ):
        assert expected in text
    # Dependencies beat names: the base view before the view on it, the table before
    # the function that reads it, a domain's base before the domain.
    assert text.index("CREATE VIEW b_view") < text.index("CREATE VIEW a_view")
    assert text.index("CREATE TABLE zz_base") < text.index("FUNCTION public.a_count()")
    assert text.index("CREATE DOMAIN zz_domain_base") < text.index("CREATE DOMAIN a_small")
    assert text.index("CONSTRAINT zz_base_code UNIQUE") < text.index("FOREIGN KEY (code)")


# Each once broke the dump: it would not load, or loaded into something pg_dump tells
# apart from the original.
PG_CASES = {
    "foreign key to a unique index": """
        CREATE TABLE a (x int); CREATE UNIQUE INDEX a_x ON a (x);
        CREATE TABLE b (x int REFERENCES a (x));""",
    "database search_path": """
        DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = app, public',
                                   current_database()); END $$;
        CREATE SCHEMA app; CREATE TYPE app.m AS ENUM ('x');
        CREATE TABLE app.u (m app.m DEFAULT 'x'); CREATE TABLE app.t (a int);
        CREATE VIEW app.v AS SELECT a FROM app.t;""",
    "schema named like the user": """
        CREATE SCHEMA postgres; CREATE TABLE postgres.t (a int); CREATE TABLE public.t (b int);""",
    "function and default calling each other": """
        CREATE TABLE t (a int);
        CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT count(*)::int FROM t; END;
        ALTER TABLE t ALTER a SET DEFAULT f();""",
    "NOT VALID domain check": """
        CREATE DOMAIN d AS int CONSTRAINT small CHECK (VALUE < 100);
        ALTER DOMAIN d ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID;""",
    "index on a partitioned table": """
        CREATE TABLE p (a int, b int) PARTITION BY RANGE (a);
        CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);
        CREATE INDEX p_b ON p (b);""",
    "inheriting table with its own default and NOT NULL": """
        CREATE TABLE p (a int, b text); CREATE TABLE c () INHERITS (p);
        ALTER TABLE c ALTER a SET DEFAULT 5; ALTER TABLE c ALTER b SET NOT NULL;""",
    "partition with its own column order": """
        CREATE TABLE p (a int, b text) PARTITION BY LIST (a);
        CREATE TABLE p1 (b text, a int); ALTER TABLE p ATTACH PARTITION p1 FOR VALUES IN (1);""",
    "identity options": """
        CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5),
                        n bigint GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME t_n_custom));""",
    "collations of type attributes and domains": """
        CREATE TYPE pr AS (a text COLLATE "C", b int); CREATE DOMAIN d AS text COLLATE "C";""",
    "partition without its parent's default": """
        CREATE TABLE p (a int, b int DEFAULT 7) PARTITION BY RANGE (a);
        CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);
        ALTER TABLE p1 ALTER b DROP DEFAULT;""",
    "inheritance added after creation": """
        CREATE TABLE p (a int); CREATE TABLE c (b int, a int); ALTER TABLE c INHERIT p;""",
    "comments on sequences, triggers and policies": """
        CREATE SEQUENCE s; COMMENT ON SEQUENCE s IS 'x';
        CREATE TABLE t (a int);
        CREATE FUNCTION tg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
        CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tg();
        COMMENT ON TRIGGER tr ON t IS 'y';
        CREATE POLICY pol ON t USING (true); COMMENT ON POLICY pol ON t IS 'z';""",
    "storage options of a key's index": """
        CREATE TABLE t (a int, b int);
        ALTER TABLE t ADD CONSTRAINT pk PRIMARY KEY (a) INCLUDE (b) WITH (fillfactor=80);""",
    "replica identity and unlogged sequences": """
        CREATE TABLE t (a int NOT NULL, b int); ALTER TABLE t REPLICA IDENTITY FULL;
        CREATE TABLE u (a int NOT NULL); CREATE UNIQUE INDEX u_a ON u (a);
        ALTER TABLE u REPLICA IDENTITY USING INDEX u_a;
        CREATE UNLOGGED SEQUENCE s;""",
    "table options and view column defaults": """
        CREATE TABLE t (a int) WITH (fillfactor=70);
        CREATE VIEW v AS SELECT a FROM t; ALTER VIEW v ALTER a SET DEFAULT 1;""",
}


@pytest.mark.parametrize("schema", PG_CASES.values(), ids=PG_CASES.keys())
def test_postgres_dump_reloads_to_what_pg_dump_calls_the_same(pg_cluster, tmp_path, schema):
    url, empty = pg_database(pg_cluster.admin_url), pg_database(pg_cluster.admin_url)
    load(url, schema)
    assert_reproducible(url, empty, tmp_path)
    assert schema_dump(empty) == schema_dump(url)


def test_postgres_dump_of_the_oracle_fragments_and_supabase_example(pg_cluster, tmp_path):
    admin = pg_cluster.admin_url
    url, empty = pg_database(admin), pg_database(admin)
    load(url, ";\n".join(s for statements, _, _ in FRAGMENTS.values() for s in statements))
    assert_reproducible(url, empty, tmp_path)

    folder = tmp_path / "supabase"
    shutil.copytree(REPO / "examples" / "supabase" / "sql", folder)
    make_roles(admin, *SUPABASE_ROLES)
    url, empty = pg_database(admin), pg_database(admin)
    with Migrator(url, folder) as m:
        m.apply(backup=False)
    text = assert_reproducible(url, empty, folder)
    assert "ENABLE ROW LEVEL SECURITY" in text and "CREATE POLICY" in text
    assert "GRANT SELECT, INSERT, UPDATE ON TABLE profiles TO authenticated;" in text
    assert _without_sqlmig_tables(schema_dump(empty)) == _without_sqlmig_tables(schema_dump(url))


def _without_sqlmig_tables(pg_dump_output: str) -> str:
    return "\n".join(
        statement for statement in pg_dump_output.split(";\n") if "schema_version" not in statement
    )


def test_sqlite_dump_keeps_text_and_skips_virtual_table_internals(sqlite_url, tmp_path):
    load(
        sqlite_url,
        """
        CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id)) STRICT;
        CREATE TABLE a (id INTEGER PRIMARY KEY,
                        doubled INTEGER GENERATED ALWAYS AS (id * 2) VIRTUAL);
        CREATE VIEW v AS SELECT * FROM b;
        CREATE INDEX b_a ON b (a_id);
        CREATE TRIGGER b_log AFTER INSERT ON b BEGIN SELECT 1; END;
        CREATE VIRTUAL TABLE notes USING fts5(body);
        """,
    )
    text = assert_reproducible(sqlite_url, f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    assert "notes_data" not in text and "CREATE VIRTUAL TABLE notes USING fts5(body);" in text
    kinds = [line.split()[1] for line in text.splitlines() if line.startswith("CREATE")]
    assert kinds == ["TABLE", "TABLE", "VIRTUAL", "VIEW", "INDEX", "TRIGGER"]


def test_cli_dump_writes_schema_sql_by_default_or_where_told(db_url, tmp_path):
    folder = tmp_path / "sql"
    shutil.copytree(REPO / "sql", folder)
    (folder / "schema.sql").unlink()
    runner = CliRunner()
    assert runner.invoke(app, ["apply", "-d", db_url, "--dir", str(folder)]).exit_code == 0

    result = runner.invoke(app, ["dump", "-d", db_url, "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    written = (folder / "schema.sql").read_text()
    assert f"wrote {folder / 'schema.sql'}" in result.output
    assert "CREATE TABLE" in written

    result = runner.invoke(app, ["dump", "-d", db_url, "--dir", str(folder), "-o", "-"])
    assert result.exit_code == 0 and result.stdout == written

    other = tmp_path / "elsewhere.sql"
    result = runner.invoke(app, ["dump", "-d", db_url, "--dir", str(folder), "-o", str(other)])
    assert result.exit_code == 0 and other.read_text() == written
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []

    # The drift check against what was just dumped passes.
    result = runner.invoke(app, ["diff", "-d", db_url, "--dir", str(folder)])
    assert result.exit_code == 0, result.output


def test_cli_dump_of_a_missing_sqlite_file_keeps_schema_sql(tmp_path):
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "schema.sql").write_text("CREATE TABLE kept (id int);\n")
    result = CliRunner().invoke(app, ["dump", "-d", f"sqlite:///{tmp_path / 'typo.db'}"])
    assert result.exit_code == 3
    assert "no database at" in result.output and "typo.db" in result.output
    assert (tmp_path / "sql" / "schema.sql").read_text() == "CREATE TABLE kept (id int);\n"
    assert not (tmp_path / "typo.db").exists()


def test_cli_dump_to_an_unwritable_place_fails_clearly(sqlite_url, tmp_path):
    query(sqlite_url, "CREATE TABLE t (a int)")
    result = CliRunner().invoke(
        app, ["dump", "-d", sqlite_url, "-o", str(tmp_path / "no" / "such" / "dir.sql")]
    )
    assert result.exit_code == 2
    assert "cannot write" in result.output and "no/such/dir.sql" in result.output


def test_what_the_dump_learned_to_keep_is_also_compared(pg_cluster, tmp_path):
    url = pg_database(pg_cluster.admin_url)
    load(url, "CREATE DOMAIN zz_domain_base AS int;\n" + PARENTS + TRICKY)
    load(url, "CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY) WITH (fillfactor=90)")
    with Migrator(url, tmp_path) as m:
        m.dump(tmp_path / "schema.sql")
        load(url, "ALTER VIEW secure RESET (security_invoker);")
        load(url, "ALTER SEQUENCE zz_base_id_seq OWNED BY NONE;")
        load(url, "ALTER TABLE aa_child NO INHERIT zz_parent_b;")
        load(url, "ALTER TABLE ident ALTER id SET START WITH 50, SET (fillfactor=80);")
        load(url, "COMMENT ON TRIGGER zz_touch ON zz_base IS 'by hand';")
        drift = m.diff()
    assert [line.split(":")[0] for line in drift] == [
        "column ident.id",
        "sequence zz_base_id_seq",
        "table aa_child",
        "table ident",
        "trigger zz_base.zz_touch",
        "view secure",
    ]
    assert "sequence zz_base_id_seq: owned by (none) in database, zz_base.id in" in drift[1]
    assert "identity sequence" in drift[0] and "START WITH 50" in drift[0]
    assert drift[3] == "table ident: options fillfactor=80 in database, fillfactor=90 in schema.sql"
    assert drift[4] == "trigger zz_base.zz_touch: comment by hand in database, (none) in schema.sql"


def test_dump_leaves_out_foreign_tables_whole(pg_cluster, tmp_path):
    """Foreign tables need servers the dump does not create: none of them, not even a
    column comment, may end up in it, or the dump would not load."""
    url, empty = pg_database(pg_cluster.admin_url), pg_database(pg_cluster.admin_url)
    load(
        url,
        "CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;"
        "CREATE FOREIGN TABLE outside (line text) SERVER files OPTIONS (filename '/dev/null');"
        "COMMENT ON COLUMN outside.line IS 'from a file';"
        "CREATE TABLE inside (id int);",
    )
    text = dump(url, tmp_path)
    assert [line for line in text.splitlines() if "outside" in line] == [
        "-- not dumped, add by hand: foreign table outside"
    ]
    assert "CREATE TABLE inside" in text
    load(empty, text)


def test_kinds_the_dump_cannot_write_are_named_in_it_and_compared(pg_cluster, tmp_path):
    url = pg_database(pg_cluster.admin_url)
    load(
        url,
        "CREATE AGGREGATE total(int) (sfunc = int4pl, stype = int);"
        "CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
        "CREATE TABLE t (a int); CREATE TABLE log (a int);"
        "CREATE RULE keep AS ON INSERT TO t DO ALSO INSERT INTO log VALUES (NEW.a);",
    )
    result = CliRunner().invoke(app, ["dump", "-d", url, "-o", str(tmp_path / "schema.sql")])
    assert result.exit_code == 0, result.output
    assert "warning: 3 object(s) of kinds sqlmig does not dump" in result.output
    text = (tmp_path / "schema.sql").read_text()
    assert (
        "-- not dumped, add by hand: aggregate total(integer)\n"
        "-- not dumped, add by hand: collation nocase\n"
        "-- not dumped, add by hand: rule keep on t\n"
    ) in text
    # Until they are added by hand, the baseline does not have them, and diff says so.
    with Migrator(url, tmp_path) as m:
        assert m.diff(tmp_path / "schema.sql") == [
            "aggregate total(integer): in database, not in schema.sql",
            "collation nocase: in database, not in schema.sql",
            "rule keep on t: in database, not in schema.sql",
        ]


def test_dump_to_a_device_or_through_a_symlink_writes_into_it(sqlite_url, tmp_path):
    """A rename over /dev/null would replace the device with a file for everyone."""
    query(sqlite_url, "CREATE TABLE t (a int)")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    assert CliRunner().invoke(app, ["dump", "-d", sqlite_url, "-o", str(fifo)]).exit_code == 0
    reader.join(timeout=10)
    assert fifo.is_fifo() and "CREATE TABLE t" in received[0]

    real = tmp_path / "real.sql"
    real.write_text("old")
    link = tmp_path / "link.sql"
    link.symlink_to(real)
    assert CliRunner().invoke(app, ["dump", "-d", sqlite_url, "-o", str(link)]).exit_code == 0
    assert link.is_symlink() and "CREATE TABLE t" in real.read_text()


def test_dump_to_dev_stdout_writes_only_the_schema_there(sqlite_url):
    query(sqlite_url, "CREATE TABLE t (a int)")
    out = subprocess.run(
        [sys.executable, "-m", "sqlmig", "dump", "-d", sqlite_url, "-o", "/dev/stdout"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("-- The schema as `sqlmig dump`") and "wrote" not in out.stdout
    assert "wrote /dev/stdout" in out.stderr
