"""pg_dump as an oracle: two databases whose `pg_dump --schema-only` outputs are equal
show no drift, and two that differ in anything sqlmig covers do; and a database loaded
from `sqlmig dump` has the same pg_dump output as the one dumped.

pg_dump is used here only, never by sqlmig itself.
"""

from __future__ import annotations

import random
import subprocess
import uuid

import pytest

from sqlmig.config import Settings
from sqlmig.engines import open_engine
from sqlmig.engines.pgtools import find_program
from sqlmig.schema import compare
from sqlmig.splitter import split
from tests.helpers import query

# name -> (statements, the fragments it needs, mutations that change it)
FRAGMENTS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "table": (
        ["CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, score int DEFAULT 0)"],
        [],
        [
            "ALTER TABLE accounts ADD COLUMN extra text",
            "ALTER TABLE accounts ALTER COLUMN score TYPE bigint",
            "ALTER TABLE accounts ALTER COLUMN score SET DEFAULT 1",
            "ALTER TABLE accounts ALTER COLUMN email DROP NOT NULL",
            "COMMENT ON TABLE accounts IS 'changed by hand'",
        ],
    ),
    "index": (
        ["CREATE INDEX accounts_email ON accounts (email)"],
        ["table"],
        [
            "DROP INDEX accounts_email",
            "DROP INDEX accounts_email; CREATE INDEX accounts_email ON accounts (email) WHERE score > 0",
        ],
    ),
    "check": (
        ["ALTER TABLE accounts ADD CONSTRAINT score_positive CHECK (score >= 0)"],
        ["table"],
        ["ALTER TABLE accounts DROP CONSTRAINT score_positive"],
    ),
    "view": (
        ["CREATE VIEW emails AS SELECT email FROM accounts"],
        ["table"],
        ["CREATE OR REPLACE VIEW emails AS SELECT email, id FROM accounts"],
    ),
    "enum": (["CREATE TYPE mood AS ENUM ('ok', 'sad')"], [], ["ALTER TYPE mood ADD VALUE 'glad'"]),
    "function": (
        [
            "CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.score := NEW.score + 1; RETURN NEW; END $$"
        ],
        [],
        [
            "CREATE OR REPLACE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
        ],
    ),
    "trigger": (
        [
            "CREATE TRIGGER accounts_bump BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION bump()"
        ],
        ["table", "function"],
        ["ALTER TABLE accounts DISABLE TRIGGER accounts_bump"],
    ),
    "policy": (
        [
            "ALTER TABLE accounts ENABLE ROW LEVEL SECURITY",
            "CREATE POLICY own ON accounts USING (email = current_user)",
        ],
        ["table"],
        [
            "ALTER POLICY own ON accounts USING (true)",
            "ALTER TABLE accounts FORCE ROW LEVEL SECURITY",
        ],
    ),
    "sequence": (["CREATE SEQUENCE ticket START 10"], [], ["ALTER SEQUENCE ticket INCREMENT 2"]),
    "domain": (
        ["CREATE DOMAIN positive AS int CHECK (VALUE > 0)"],
        [],
        ["ALTER DOMAIN positive SET DEFAULT 1"],
    ),
    "partitions": (
        [
            "CREATE TABLE events (at date NOT NULL) PARTITION BY RANGE (at)",
            "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        ],
        [],
        [
            "CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')"
        ],
    ),
    "grants": (
        [
            "DO $$ BEGIN CREATE ROLE oracle_reader NOLOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
            "GRANT SELECT, INSERT ON accounts TO oracle_reader",
            "GRANT UPDATE (email) ON accounts TO oracle_reader WITH GRANT OPTION",
            "GRANT SELECT ON accounts TO PUBLIC",
            "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO oracle_reader",
        ],
        ["table"],
        [
            "REVOKE INSERT ON accounts FROM oracle_reader",
            "REVOKE GRANT OPTION FOR UPDATE (email) ON accounts FROM oracle_reader",
            "GRANT TRUNCATE ON accounts TO PUBLIC",
            "REVOKE SELECT ON accounts FROM CURRENT_USER",
            "ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM oracle_reader",
        ],
    ),
}


def with_needs(names: set[str]) -> list[str]:
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo += FRAGMENTS[name][1]
    return [n for n in FRAGMENTS if n in out]  # dictionary order respects the needs


def make_db(admin: str, statements: list[str]) -> str:
    name = f"oracle_{uuid.uuid4().hex[:10]}"
    query(admin, f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0] + "/" + name
    for statement in statements:
        query(url, statement)
    return url


def schema_dump(url: str) -> str:
    out = subprocess.run(
        [str(find_program("pg_dump")), "--schema-only", "--dbname", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return "\n".join(
        line for line in out.splitlines() if line and not line.startswith(("--", "\\"))
    )


def sqlmig_dump(url: str) -> str:
    engine = open_engine(Settings(database_url=url), write=False)
    try:
        return engine.dump_schema()
    finally:
        engine.close()


def sqlmig_drift(a: str, b: str) -> list[str]:
    engines = [open_engine(Settings(database_url=u), write=False) for u in (a, b)]
    try:
        return compare(engines[0].introspect(), engines[1].introspect(), "a", "b")
    finally:
        for engine in engines:
            engine.close()


def agree(admin: str, base: list[str], mutation: str | None) -> None:
    """pg_dump and sqlmig see the same difference between ``base`` and ``base`` plus
    ``mutation`` (or none), and sqlmig's dump reloads to what pg_dump calls the same."""
    a = make_db(admin, base)
    b = make_db(admin, base + ([s.text for s in split(mutation, "postgres")] if mutation else []))
    c = make_db(admin, [])
    try:
        same_dump = schema_dump(a) == schema_dump(b)
        drift = sqlmig_drift(a, b)
        assert same_dump == (mutation is None), mutation  # the oracle itself saw the change
        assert same_dump == (drift == []), (mutation, drift)
        # `sqlmig dump` of b, loaded into an empty database, is b again for pg_dump too.
        query(c, sqlmig_dump(b))
        assert schema_dump(c) == schema_dump(b), mutation
    finally:
        for url in (a, b, c):
            query(admin, f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.mark.parametrize("seed", range(16))
def test_pg_dump_equality_and_sqlmig_drift_agree(pg_cluster, seed):
    admin = pg_cluster if isinstance(pg_cluster, str) else pg_cluster.admin_url
    rng = random.Random(seed)
    chosen = with_needs(set(rng.sample(sorted(FRAGMENTS), rng.randint(1, 5))))
    base = [s for name in chosen for s in FRAGMENTS[name][0]]
    mutations = [m for name in chosen for m in FRAGMENTS[name][2]]
    agree(admin, base, None if seed % 3 == 0 else rng.choice(mutations))


@pytest.mark.parametrize("mutation", FRAGMENTS["grants"][2])
def test_pg_dump_and_sqlmig_agree_on_every_change_of_privileges(pg_cluster, mutation):
    admin = pg_cluster if isinstance(pg_cluster, str) else pg_cluster.admin_url
    agree(admin, [s for name in ("table", "grants") for s in FRAGMENTS[name][0]], mutation)
