ALTER TABLE clients DROP COLUMN userinfo_signed_response_alg;
