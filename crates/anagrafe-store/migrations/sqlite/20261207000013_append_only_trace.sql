-- The trace is append-only in the database itself (SEC-4, issue 18): no statement may change or
-- delete an entry, nor move the chain head back. Whoever can drop these triggers can still
-- rewrite the trace; the chain's verification (and, later, signed checkpoints kept outside the
-- database) catches that, but an ordinary write path or a stray UPDATE cannot do it by mistake.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the trace is append-only: an entry cannot be changed');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the trace is append-only: an entry cannot be deleted');
END;

CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
WHEN NEW.seq < OLD.seq
BEGIN
    SELECT RAISE(ABORT, 'the trace is append-only: its head cannot move back');
END;
