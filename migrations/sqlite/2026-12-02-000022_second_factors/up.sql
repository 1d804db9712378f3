-- Second factors and passkeys. One row per factor: a TOTP authenticator (its secret
-- sealed), a passkey (its COSE public key, found by credential id), or one recovery
-- code (found by its hash, deleted when used). Rows grow with users, not with traffic.
ALTER TABLE users ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE user_factors (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    lookup TEXT,
    secret BLOB NOT NULL,
    counter BIGINT NOT NULL,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX user_factors_user ON user_factors (user_id, kind);
CREATE UNIQUE INDEX user_factors_lookup ON user_factors (kind, lookup);
