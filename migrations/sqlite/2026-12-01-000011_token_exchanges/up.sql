-- Token exchange (RFC 8693): which token each exchanged token came from, so revoking the
-- subject token (or its family) revokes what was exchanged from it.
CREATE TABLE token_exchanges (
    issued_jti TEXT PRIMARY KEY NOT NULL,
    subject_jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX token_exchanges_expires_at ON token_exchanges (expires_at);
