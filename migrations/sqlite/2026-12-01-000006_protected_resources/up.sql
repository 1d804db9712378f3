-- Protected resources (RFC 8707 resource indicators) gatehouse issues tokens for, filled
-- from their RFC 9728 metadata. `scopes` is space-separated; `metadata` is the document
-- as last fetched (JSON), when it was fetched.
CREATE TABLE protected_resources (
    resource TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    metadata TEXT,
    fetched_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
