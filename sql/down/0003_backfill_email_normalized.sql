-- The values are derived from email, so clearing them loses nothing.
UPDATE accounts SET email_normalized = NULL;
