-- The authentication methods of the login a refresh-token family came from, so ID
-- tokens minted on refresh tell the truth about it. Families from before this column
-- came from password logins, the only kind there was.
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT '["pwd"]';
