-- One account per normalised address. On a large PostgreSQL table this would be
-- CREATE UNIQUE INDEX CONCURRENTLY in a file of its own with '-- sqlmig: no-transaction'
-- at the top; the demo keeps SQL that runs on both engines, and SQLite has no CONCURRENTLY.
-- sqlmig: allow index-not-concurrent the demo's accounts table is small, and the SQL must run on SQLite too
CREATE UNIQUE INDEX accounts_email_normalized_key ON accounts (email_normalized);
