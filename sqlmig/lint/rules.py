"""The rules: stable ids, default severities, and what each one says.

Pure data, importable without pglast: the settings check validates rule ids against
it, and the README's rule list is checked against it by the tests. Rule ids never
change meaning; a rule that is retired keeps its id reserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlmig.sqlkind import NO_TRANSACTION_FIX

Severity = Literal["error", "warning"]
SEVERITIES = ("error", "warning", "off")
BOTH = ("postgres", "sqlite")
PG = ("postgres",)
LITE = ("sqlite",)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    dialects: tuple[str, ...]
    catches: str
    lock: str  # the lock PostgreSQL takes; "" where the rule is not about a lock
    why: str
    fix: str
    fixed: bool = False  # its severity cannot be changed nor the rule turned off
    silenceable: bool = True  # an allow directive may silence it


_RULES = [
    Rule(
        "transaction-control",
        "error",
        BOTH,
        "BEGIN, COMMIT, END, ABORT, ROLLBACK or START TRANSACTION in a file sqlmig runs in a "
        "transaction",
        "",
        "a COMMIT would commit half the migration without its version row; sqlmig refuses "
        "such a file before anything runs",
        "remove it (sqlmig wraps each file in a transaction), or put "
        "'-- sqlmig: no-transaction' at the top if the file manages its own transactions",
        fixed=True,
        silenceable=False,
    ),
    Rule(
        "needs-no-transaction",
        "error",
        BOTH,
        "a statement the database refuses inside a transaction, in a file that runs in one "
        "(CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, VACUUM, CREATE DATABASE, "
        "ALTER SYSTEM, REINDEX or CLUSTER of a partitioned table, ALTER TYPE ... ADD VALUE "
        "before PostgreSQL 12; SQLite VACUUM, a journal_mode switch to or from WAL)",
        "",
        "the migration fails at that statement; the set check refuses such a file before "
        "anything runs",
        NO_TRANSACTION_FIX,
        fixed=True,
        silenceable=False,
    ),
    Rule(
        "needs-transaction",
        "error",
        PG,
        "LOCK TABLE, SAVEPOINT, RELEASE, ROLLBACK TO, DECLARE (without WITH HOLD) or SET "
        "LOCAL in a no-transaction file, outside an explicit BEGIN",
        "",
        "PostgreSQL refuses them outside a transaction block (SET LOCAL does nothing), and a "
        "failed statement leaves the version dirty",
        "move them to a migration without '-- sqlmig: no-transaction'",
    ),
    Rule(
        "parse-error",
        "error",
        PG,
        "a statement PostgreSQL's own parser refuses",
        "",
        "the migration fails at that statement, and lint cannot check what it cannot parse",
        "fix the statement (psql meta-commands are not SQL; of psql's variables only :'name' "
        'and :"name" are substituted)',
    ),
    Rule(
        "index-not-concurrent",
        "warning",
        PG,
        "CREATE INDEX or REINDEX without CONCURRENTLY on a table that existed before the migration",
        "SHARE on the table for the whole build (REINDEX: ACCESS EXCLUSIVE on the index too)",
        "INSERT, UPDATE and DELETE on the table wait until the index is built",
        "CREATE INDEX CONCURRENTLY (REINDEX ... CONCURRENTLY) in a migration of its own with "
        "'-- sqlmig: no-transaction' at the top; for a partitioned table, CREATE INDEX ON "
        "ONLY the parent, then CONCURRENTLY on each partition and ALTER INDEX ... ATTACH "
        "PARTITION",
    ),
    Rule(
        "fk-not-valid",
        "warning",
        PG,
        "a foreign key added to an existing table without NOT VALID (ADD CONSTRAINT or ADD "
        "COLUMN ... REFERENCES), or validated in the transaction that added it",
        "SHARE ROW EXCLUSIVE on both tables while the whole table is scanned",
        "writes to both tables wait for the scan",
        "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then ALTER TABLE ... VALIDATE "
        "CONSTRAINT in a later migration (SHARE UPDATE EXCLUSIVE: reads and writes go on)",
    ),
    Rule(
        "check-not-valid",
        "warning",
        PG,
        "a CHECK constraint added to an existing table without NOT VALID (in ADD CONSTRAINT "
        "or ADD COLUMN), or validated in the transaction that added it",
        "ACCESS EXCLUSIVE on the table while the whole table is scanned",
        "every query on the table, reads included, waits for the scan",
        "ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT in a later "
        "migration (SHARE UPDATE EXCLUSIVE: reads and writes go on)",
    ),
    Rule(
        "set-not-null",
        "warning",
        PG,
        "ALTER COLUMN ... SET NOT NULL (or ADD CONSTRAINT ... NOT NULL) on an existing table "
        "with no validated CHECK (column IS NOT NULL) that proves it (SET NOT NULL of a column "
        "already NOT NULL changes nothing)",
        "ACCESS EXCLUSIVE on the table while the whole table is scanned",
        "every query on the table, reads included, waits for the scan",
        "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c in a later "
        "migration; then SET NOT NULL, which skips the scan (PostgreSQL 12+), and DROP "
        "CONSTRAINT c",
    ),
    Rule(
        "column-type-rewrite",
        "warning",
        PG,
        "ALTER COLUMN ... TYPE that rewrites the table (not varchar(n) to a longer varchar "
        "or text, numeric(p,s) to a higher precision, cidr to inet, and the like)",
        "ACCESS EXCLUSIVE while the table and all its indexes are rewritten",
        "every query on the table waits for the rewrite, which also needs room for a "
        "second copy of the table",
        "add a column of the new type, backfill it in batches, switch the application to "
        "it, then drop the old column in a later migration",
    ),
    Rule(
        "add-column-rewrite",
        "warning",
        PG,
        "ADD COLUMN on an existing table that rewrites it: a volatile default "
        "(gen_random_uuid(), random(), clock_timestamp()), serial, identity or a stored "
        "generated column; any default before PostgreSQL 11",
        "ACCESS EXCLUSIVE while the table is rewritten",
        "every query on the table waits for the rewrite",
        "add the column without that default, set the default in the same migration "
        "(ALTER COLUMN ... SET DEFAULT applies to new rows only), backfill old rows in batches",
    ),
    Rule(
        "add-column-not-null",
        "error",
        BOTH,
        "ADD COLUMN ... NOT NULL (or PRIMARY KEY) without a default on an existing table",
        "",
        "it fails on any table that has rows: the new column would be NULL in them",
        "give it a constant DEFAULT, or add it nullable, backfill it, then set NOT NULL as "
        "set-not-null describes",
    ),
    Rule(
        "unique-without-index",
        "warning",
        PG,
        "ADD CONSTRAINT ... UNIQUE or PRIMARY KEY (or ADD COLUMN ... UNIQUE) on an existing "
        "table, which builds its index under the table's lock",
        "ACCESS EXCLUSIVE on the table while the index is built",
        "every query on the table, reads included, waits for the index build",
        "CREATE UNIQUE INDEX CONCURRENTLY in a no-transaction migration, then ADD CONSTRAINT "
        "... UNIQUE USING INDEX (or PRIMARY KEY USING INDEX)",
    ),
    Rule(
        "rename-table",
        "warning",
        BOTH,
        "renaming a table that existed before the migration",
        "ACCESS EXCLUSIVE, briefly",
        "the application version still running during the deploy uses the old name and "
        "fails until it is replaced",
        "add the new name first (a new table, or a view under the new name), deploy code "
        "that uses it, then remove the old name in a later migration",
    ),
    Rule(
        "rename-column",
        "warning",
        BOTH,
        "renaming a column of a table that existed before the migration",
        "ACCESS EXCLUSIVE, briefly",
        "the application version still running during the deploy uses the old name and "
        "fails until it is replaced",
        "add the new column, write both, backfill, switch reads, then drop the old one in a "
        "later migration",
    ),
    Rule(
        "drop-table",
        "warning",
        BOTH,
        "dropping a table that existed before the migration (a rebuild that creates it "
        "again in the same transaction is not a drop, nor is dropping the old copy it renamed "
        "away)",
        "ACCESS EXCLUSIVE, briefly",
        "the application version still running during the deploy may still read it, and "
        "its data is gone",
        "stop using the table in one release, drop it in a later one, with an allow "
        "saying that no running code uses it",
    ),
    Rule(
        "drop-column",
        "warning",
        BOTH,
        "dropping a column of a table that existed before the migration",
        "ACCESS EXCLUSIVE, briefly",
        "the application version still running during the deploy may still read it "
        "(SELECT * and ORMs listing every column included), and its data is gone",
        "stop using the column in one release, drop it in a later one, with an allow "
        "saying that no running code uses it",
    ),
    Rule(
        "table-rebuild",
        "warning",
        PG,
        "a table dropped (or renamed away) and created again under its name in the same "
        "transaction: SQLite's rebuild procedure, run on PostgreSQL",
        "ACCESS EXCLUSIVE on the table from the DROP until commit, while the rows are copied",
        "every query on the table waits for the copy of all its rows",
        "on PostgreSQL change the table in place: ADD CONSTRAINT ... NOT VALID and VALIDATE, "
        "SET DEFAULT, the safe patterns of the other rules",
    ),
    Rule(
        "vacuum-full",
        "warning",
        PG,
        "VACUUM FULL",
        "ACCESS EXCLUSIVE while the table is rewritten",
        "every query on the table waits for the rewrite",
        "plain VACUUM (it blocks neither reads nor writes), or pg_repack outside migrations",
    ),
    Rule(
        "cluster",
        "warning",
        PG,
        "CLUSTER",
        "ACCESS EXCLUSIVE while the table is rewritten in index order",
        "every query on the table waits for the rewrite",
        "leave physical ordering to a maintenance window or pg_repack, outside migrations",
    ),
    Rule(
        "lock-table",
        "warning",
        PG,
        "LOCK TABLE in SHARE mode or stronger on an existing table",
        "the mode named (ACCESS EXCLUSIVE when none is), until the migration commits",
        "writes to the table (for ACCESS EXCLUSIVE, every query) wait for the whole "
        "migration, not just one statement",
        "leave locking to the statements themselves; if the lock orders a data change, keep "
        "that migration to the data change",
    ),
    Rule(
        "backfill-with-ddl",
        "warning",
        PG,
        "UPDATE or DELETE of an existing table in a transactional file that also changes "
        "that table's schema",
        "the schema change's lock (ACCESS EXCLUSIVE for most ALTER TABLE forms), held "
        "while the data change runs",
        "the lock lasts until the migration commits, so every query on the table waits for "
        "the whole data change",
        "put the data change in a migration of its own (in batches when it is large)",
    ),
    Rule(
        "lock-timeout",
        "warning",
        PG,
        "turning sqlmig's lock timeout off in a file (SET or RESET lock_timeout, RESET ALL), "
        "or, with lock_timeout = 0, a statement that locks an existing table",
        "",
        "without a lock timeout, a statement queued behind a long query makes every query on "
        "that table queue behind it; sqlmig sets lock_timeout itself (default 30 s), which is "
        "why lint does not ask files to set timeouts",
        "leave the lock timeout to sqlmig (lock_timeout, --lock-timeout): raise it if 30 s is "
        "too short, do not turn it off",
    ),
    Rule(
        "sqlite-foreign-keys",
        "warning",
        LITE,
        "PRAGMA foreign_keys in a transactional file (SQLite ignores it there), or = ON in "
        "a no-transaction file (it stays on for the later migrations of the run)",
        "",
        "it does not do what it says: sqlmig runs migrations with foreign keys off, as "
        "table rebuilds need, and turning them on makes a later rebuild cascade or fail",
        "remove it: sqlmig runs PRAGMA foreign_key_check before every commit",
    ),
    Rule(
        "sqlite-rebuild",
        "warning",
        LITE,
        "a table rebuild (drop and create or rename to the same name) that does not "
        "recreate the old table's indexes and triggers",
        "",
        "SQLite drops a table's indexes and triggers with it, so the rebuilt table silently "
        "lacks them",
        "create each index and trigger again after the rebuild, as SQLite's 12-step ALTER "
        "TABLE procedure does",
    ),
    Rule(
        "sqlite-drop-column",
        "error",
        LITE,
        "ALTER TABLE ... DROP COLUMN that SQLite refuses (the column is indexed, PRIMARY KEY "
        "or UNIQUE, in a foreign key, a CHECK, a generated column, a trigger or a view)",
        "",
        "the migration fails with SQLite's error",
        "drop what uses the column first, or rebuild the table without it (create, copy, "
        "drop, rename, recreate indexes and triggers)",
    ),
    Rule(
        "sqlite-refused",
        "error",
        LITE,
        "any other statement SQLite refuses when the set is replayed in order into an empty "
        "in-memory database (a syntax error, an unknown table, ADD COLUMN ... UNIQUE), and ADD "
        "COLUMN with a non-constant default, which SQLite refuses on a table with rows",
        "",
        "the migration fails on every database",
        "change the statement; for what ALTER TABLE cannot do, rebuild the table",
    ),
    Rule(
        "bad-directive",
        "error",
        BOTH,
        "an allow with an unknown rule id, without a reason, or for a rule that cannot be "
        "silenced; a directive other than allow below the header, where it has no effect",
        "",
        "a directive that does not do what it says hides a problem or a typo",
        "write '-- sqlmig: allow RULE-ID why it is safe here'; other directives belong in the "
        "comment block at the top of the file",
        fixed=True,
        silenceable=False,
    ),
    Rule(
        "unused-allow",
        "warning",
        BOTH,
        "an allow that silences nothing",
        "",
        "the statement it was written for changed or moved, and the allow would silence the "
        "next statement that breaks the rule",
        "remove it, or move it to the statement it is for",
        silenceable=False,
    ),
]
RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}
NEWEST_PG = 18  # the grammar pglast parses, and what rules assume with no server or setting


def check_rule_settings(rules: dict[str, object]) -> list[str]:
    """Problems with a ``lint_rules`` setting (rule id -> error, warning or off)."""
    problems = []
    for rule_id, severity in rules.items():
        rule = RULES.get(rule_id)
        if rule is None:
            problems.append(f"unknown rule {rule_id!r} (known: {', '.join(RULES)})")
        elif severity not in SEVERITIES:
            problems.append(f"rule {rule_id}: {severity!r} is not one of {', '.join(SEVERITIES)}")
        elif rule.fixed and severity != rule.severity:
            problems.append(f"rule {rule_id} is always an {rule.severity}: it cannot be changed")
    return problems
