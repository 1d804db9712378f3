-- Pairwise subjects (OIDC Core §8) and the logout channels of OpenID Back-Channel and
-- Front-Channel Logout 1.0, as one JSON object (nothing selects by them).
ALTER TABLE clients ADD COLUMN openid_options TEXT NOT NULL DEFAULT '{}';
