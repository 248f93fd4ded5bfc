-- Accounts, sessions and API keys.
-- depends: 0001.baseline

-- Every table that holds a user's data references users(id) ON DELETE CASCADE: deleting the
-- row is the one deletion path (stratus.auth.deletion), and a test checks the rule holds.
CREATE TABLE users (
    id text PRIMARY KEY,
    email text NOT NULL CHECK (email = lower(email)),
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'user', 'pending')),
    password_hash text NOT NULL,
    -- Bumped to end every session at once (admin revoke, admin password reset).
    token_version integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_created_idx ON users (created_at, id);

-- One row, ever: the transaction that inserts it makes the first account the admin. Concurrent
-- first sign-ups wait on this primary key, so exactly one of them wins. Later admins come from
-- promotion, which never touches this table.
CREATE TABLE first_admin_claim (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    claimed_at timestamptz NOT NULL DEFAULT now()
);

-- One row per issued JWT (its jti): the durable revocation state.
CREATE TABLE sessions (
    jti text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_keys (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    -- Open WebUI's single key per user (/api/v1/auths/api_key) is the one marked default.
    is_default boolean NOT NULL DEFAULT false,
    display_prefix text NOT NULL,
    key_hash text NOT NULL UNIQUE,
    expires_at timestamptz,
    last_used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at);
CREATE UNIQUE INDEX api_keys_one_default ON api_keys (user_id) WHERE is_default;
