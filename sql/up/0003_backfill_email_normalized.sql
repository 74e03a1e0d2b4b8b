-- Data migration: fill the column added in 0002 for existing accounts.
UPDATE accounts
SET email_normalized = lower(trim(email))
WHERE email_normalized IS NULL;
