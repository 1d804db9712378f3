-- Scheduled rotation: a key is published from its creation and signs from
-- activates_at, so relying parties have it before they see its signatures.
ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0;
UPDATE signing_keys SET activates_at = created_at;
CREATE INDEX signing_keys_activation ON signing_keys (alg, activates_at);
