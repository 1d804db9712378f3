DROP INDEX login_failures_last;
