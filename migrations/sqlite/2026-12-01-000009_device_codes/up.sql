-- Device authorization requests (RFC 8628), under the hashes of their device and user
-- codes. `amr` and `resources` are JSON arrays, as elsewhere.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY NOT NULL,
    user_code_hash TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    resources TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    auth_time BIGINT,
    amr TEXT NOT NULL,
    sid TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    poll_interval BIGINT NOT NULL,
    last_poll_at BIGINT
);
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
