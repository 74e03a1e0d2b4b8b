-- Profiles visible to their owner only, the way a Supabase project does it. auth.uid()
-- is Supabase's; here a stand-in reads the user id from a setting, so the example runs
-- on a plain PostgreSQL.
CREATE SCHEMA IF NOT EXISTS auth;

CREATE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE
AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;

CREATE TABLE profiles (
    id         uuid PRIMARY KEY,
    username   text UNIQUE CHECK (char_length(username) >= 3),
    avatar_url text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Public profiles are viewable by everyone" ON profiles
    FOR SELECT USING (true);

CREATE POLICY "Users can insert their own profile" ON profiles
    FOR INSERT WITH CHECK (auth.uid() = id);

CREATE POLICY "Users can update own profile" ON profiles
    FOR UPDATE USING (auth.uid() = id);
