-- The trace is append-only in the database itself (SEC-4, issue 18): no statement may change,
-- delete or truncate an entry, nor move the chain head back. Whoever can drop these triggers can
-- still rewrite the trace; the chain's verification (and, later, signed checkpoints kept outside
-- the database) catches that, but an ordinary write path or a stray UPDATE cannot do it.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the trace is append-only: % on audit_log is refused', TG_OP;
END
$$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq < OLD.seq THEN
        RAISE EXCEPTION 'the trace is append-only: its head cannot move back';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only();
