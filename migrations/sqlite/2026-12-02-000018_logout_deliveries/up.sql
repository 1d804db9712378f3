-- OpenID Back-Channel Logout 1.0: the clients that took part in each browser session,
-- and the logout tokens still to be delivered (retried with backoff until delivered or
-- given up; the queue survives restarts and is shared by every instance).
CREATE TABLE session_clients (
    sid TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX session_clients_user ON session_clients (user_id);
CREATE INDEX session_clients_expiry ON session_clients (expires_at);

CREATE TABLE logout_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    sid TEXT,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_error TEXT
);
CREATE INDEX logout_deliveries_due ON logout_deliveries (next_attempt_at);
