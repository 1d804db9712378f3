-- Whether the authorization request named its redirect_uri: then the token request must
-- repeat it (RFC 6749 §4.1.3).
ALTER TABLE authorization_codes ADD COLUMN redirect_uri_given BOOLEAN NOT NULL DEFAULT TRUE;
