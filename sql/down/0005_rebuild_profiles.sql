CREATE TABLE profiles_copy AS SELECT account_id, display_name, bio FROM profiles;

-- sqlmig: allow table-rebuild SQLite cannot add NOT NULL or CHECK to a column in place; profiles is small
DROP TABLE profiles;

CREATE TABLE profiles (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    bio          TEXT
);

INSERT INTO profiles (account_id, display_name, bio)
SELECT account_id, display_name, nullif(bio, '')
FROM profiles_copy;

DROP TABLE profiles_copy;
