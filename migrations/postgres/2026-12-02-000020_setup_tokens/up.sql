-- First-run setup: single-use tokens (by hash) for creating the first administrator in
-- the browser; valid 30 minutes.
CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
