ALTER TABLE clients DROP COLUMN security_profile;
