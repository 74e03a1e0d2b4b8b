-- One account per normalised address. On a large PostgreSQL table you would write
-- CREATE UNIQUE INDEX CONCURRENTLY with "-- sqlmig: no-transaction" at the top instead;
-- the demo keeps SQL that runs on both engines.
CREATE UNIQUE INDEX accounts_email_normalized_key ON accounts (email_normalized);
