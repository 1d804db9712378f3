ALTER TABLE clients DROP COLUMN used_at;
ALTER TABLE clients DROP COLUMN provenance;
ALTER TABLE clients DROP COLUMN jwks_uri;
