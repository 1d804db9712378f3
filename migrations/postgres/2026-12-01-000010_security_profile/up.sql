-- A client's security profile ('fapi2' for the FAPI 2.0 Security Profile), or none.
ALTER TABLE clients ADD COLUMN security_profile TEXT;
