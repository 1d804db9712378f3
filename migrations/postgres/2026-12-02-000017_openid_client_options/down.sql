ALTER TABLE clients DROP COLUMN openid_options;
