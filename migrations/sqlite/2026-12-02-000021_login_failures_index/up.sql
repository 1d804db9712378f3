-- The housekeeping task prunes login failures by age; attackers' guesses at many
-- usernames must not make that a scan.
CREATE INDEX login_failures_last ON login_failures (last_failure_at);
