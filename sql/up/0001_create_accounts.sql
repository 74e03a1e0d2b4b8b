-- Accounts, their public profiles, and the plans reference table that seeds/ fills.
CREATE TABLE plans (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0)
);

CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    plan_code  TEXT NOT NULL DEFAULT 'free' REFERENCES plans (code),
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE profiles (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    bio          TEXT
);
