DROP TABLE profiles;
DROP FUNCTION auth.uid();
DROP SCHEMA auth;
