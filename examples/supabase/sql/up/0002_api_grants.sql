-- What each of Supabase's API roles may do; the policies of 0001 then decide which rows.
-- anon is a visitor, authenticated a signed-in user, service_role the back end (which
-- bypasses row-level security). The roles are Supabase's own: on a plain PostgreSQL,
-- create them first (see ../../README.md).
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

GRANT SELECT ON profiles TO anon;
GRANT SELECT, INSERT, UPDATE ON profiles TO authenticated;
GRANT ALL ON profiles TO service_role;

-- Tables later migrations create get the same, without a GRANT each time.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO anon;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE ON TABLES TO authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO service_role;
