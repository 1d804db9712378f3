ALTER TABLE clients DROP COLUMN dpop_bound_access_tokens;
ALTER TABLE refresh_tokens DROP COLUMN dpop_jkt;
