-- The reviewed schema at the newest version of the demo set (0005), in SQL that runs
-- on both engines. `sqlmig diff` compares a live database with it; `sqlmig apply
-- --verify` does so after migrating.

CREATE TABLE plans (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0)
);

CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    email            TEXT NOT NULL UNIQUE,
    plan_code        TEXT NOT NULL DEFAULT 'free' REFERENCES plans (code),
    created_at       TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    email_normalized TEXT
);

CREATE UNIQUE INDEX accounts_email_normalized_key ON accounts (email_normalized);

CREATE TABLE profiles (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 80),
    bio          TEXT NOT NULL DEFAULT ''
);
