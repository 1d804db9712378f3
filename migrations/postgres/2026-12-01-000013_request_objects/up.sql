-- Request objects (RFC 9101): the algorithm a client signs them with ('none' only when it
-- registered so) and the URLs it may pass by reference (a JSON array).
ALTER TABLE clients ADD COLUMN request_object_signing_alg TEXT;
ALTER TABLE clients ADD COLUMN request_uris TEXT NOT NULL DEFAULT '[]';
