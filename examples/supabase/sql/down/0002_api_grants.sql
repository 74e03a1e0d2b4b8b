ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated, service_role;

REVOKE ALL ON profiles FROM anon, authenticated, service_role;

REVOKE USAGE ON SCHEMA auth FROM anon, authenticated, service_role;
REVOKE USAGE ON SCHEMA public FROM anon, authenticated, service_role;
