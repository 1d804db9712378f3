ALTER TABLE clients DROP COLUMN tokens_valid_after;
ALTER TABLE clients DROP COLUMN registration_ceiling;
