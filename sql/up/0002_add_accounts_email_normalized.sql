-- Lower-cased, trimmed e-mail for case-insensitive lookups. Nullable for now: the
-- backfill is its own migration (0003), so this one stays a quick schema-only change.
ALTER TABLE accounts ADD COLUMN email_normalized TEXT;
