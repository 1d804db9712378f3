-- Signed UserInfo responses (OpenID Core §5.3.2): the algorithm, when the client asked for one.
ALTER TABLE clients ADD COLUMN userinfo_signed_response_alg TEXT;
