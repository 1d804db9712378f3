DROP TABLE user_factors;
ALTER TABLE users DROP COLUMN require_mfa;
