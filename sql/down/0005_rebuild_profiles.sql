CREATE TABLE profiles_old (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    bio          TEXT
);

INSERT INTO profiles_old (account_id, display_name, bio)
SELECT account_id, display_name, nullif(bio, '')
FROM profiles;

DROP TABLE profiles;

ALTER TABLE profiles_old RENAME TO profiles;
