-- bio becomes NOT NULL with a default and display_name gets a length check. SQLite
-- cannot add either to an existing column, so the table is rebuilt. The rows are kept
-- in a plain copy and the table is recreated under its own name, so its constraints
-- keep their names on PostgreSQL too (renaming profiles_new would leave
-- profiles_new_pkey behind). sqlmig runs this with SQLite's foreign key enforcement
-- off and checks every foreign key before commit.
CREATE TABLE profiles_copy AS SELECT account_id, display_name, bio FROM profiles;

-- sqlmig: allow table-rebuild SQLite cannot add NOT NULL or CHECK to a column in place; profiles is small
DROP TABLE profiles;

CREATE TABLE profiles (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 80),
    bio          TEXT NOT NULL DEFAULT ''
);

INSERT INTO profiles (account_id, display_name, bio)
SELECT account_id, display_name, coalesce(bio, '')
FROM profiles_copy;

DROP TABLE profiles_copy;
