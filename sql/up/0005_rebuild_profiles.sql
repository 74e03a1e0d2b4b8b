-- bio becomes NOT NULL with a default and display_name gets a length check. SQLite
-- cannot add either to an existing column, so the table is rebuilt (SQLite's
-- "12-step" ALTER TABLE procedure: sqlmig runs it with foreign key enforcement off
-- and runs PRAGMA foreign_key_check before commit). The same SQL runs on PostgreSQL.
CREATE TABLE profiles_new (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 80),
    bio          TEXT NOT NULL DEFAULT ''
);

INSERT INTO profiles_new (account_id, display_name, bio)
SELECT account_id, display_name, coalesce(bio, '')
FROM profiles;

DROP TABLE profiles;

ALTER TABLE profiles_new RENAME TO profiles;
