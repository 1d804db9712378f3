-- The DPoP key an authorization code is bound to (RFC 9449 §10: dpop_jkt).
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
