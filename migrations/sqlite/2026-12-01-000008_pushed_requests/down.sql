ALTER TABLE clients DROP COLUMN require_pushed_authorization_requests;
DROP TABLE pushed_requests;
