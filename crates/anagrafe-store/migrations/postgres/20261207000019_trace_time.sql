-- The log analysis rules (SEC-5, issue 18 item 3) count the trace's entries of a recent window:
-- by time, without walking the whole trace.
CREATE INDEX audit_log_time ON audit_log (at_ms);
