-- The security officer's trace search (SEC-5, issue 18): by actor and by operation, newest
-- first, without walking the whole trace.
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_operation ON audit_log (operation, seq);
