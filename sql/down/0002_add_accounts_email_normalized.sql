ALTER TABLE accounts DROP COLUMN email_normalized;
