-- The OpenID phone and address claims (OIDC Core §5.1); the address is its JSON object.
ALTER TABLE users ADD COLUMN phone_number TEXT;
ALTER TABLE users ADD COLUMN phone_number_verified BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN address TEXT;
