-- DPoP (RFC 9449): the key a public client's refresh-token family is bound to, and the
-- clients that must send proofs (dpop_bound_access_tokens).
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
