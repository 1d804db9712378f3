-- The resources (RFC 8707) an authorization granted, as a JSON array: a code's, and the
-- refresh-token family's it starts.
ALTER TABLE authorization_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE refresh_tokens ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
