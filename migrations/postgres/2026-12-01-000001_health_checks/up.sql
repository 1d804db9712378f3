-- One row that the readiness probe writes, so "ready" means a write can happen (a full
-- disk or a read-only database is not ready).
CREATE TABLE health_checks (
    id INTEGER PRIMARY KEY NOT NULL,
    checked_at BIGINT NOT NULL
);
