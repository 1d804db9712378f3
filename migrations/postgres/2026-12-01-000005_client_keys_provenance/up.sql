-- Client keys by URL, where a registration came from, and when the client last got a
-- token (unused self-registered clients are deleted).
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
ALTER TABLE clients ADD COLUMN provenance TEXT NOT NULL DEFAULT 'operator';
ALTER TABLE clients ADD COLUMN used_at BIGINT;
