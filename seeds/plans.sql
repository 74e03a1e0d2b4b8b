-- Reference data: the plans an account can be on. Idempotent, so it can run again
-- whenever it changes; the same statement works on SQLite and PostgreSQL.
INSERT INTO plans (code, name, price_cents) VALUES
    ('free', 'Free', 0),
    ('pro', 'Pro', 1200),
    ('team', 'Team', 4900)
ON CONFLICT (code) DO UPDATE
SET name = excluded.name, price_cents = excluded.price_cents;
