-- The claims request parameter and acr_values (OIDC Core §5.5), kept with a code and
-- its refresh family as JSON.
ALTER TABLE authorization_codes ADD COLUMN claims TEXT;
ALTER TABLE refresh_tokens ADD COLUMN claims TEXT;
