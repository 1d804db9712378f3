DROP INDEX signing_keys_activation;
ALTER TABLE signing_keys DROP COLUMN activates_at;
