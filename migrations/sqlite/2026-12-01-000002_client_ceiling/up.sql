-- What the registering administrator approved for a dynamically registered client
-- (scopes, grant types, confidential or public, redirect URI origins), as JSON; RFC 7592
-- updates stay within it. And the time before which the client's access tokens no
-- longer count at gatehouse's own endpoints (a secret rotation, a lost scope).
ALTER TABLE clients ADD COLUMN registration_ceiling TEXT;
ALTER TABLE clients ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;
