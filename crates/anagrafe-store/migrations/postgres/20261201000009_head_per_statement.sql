-- The head follows the audit log once per statement instead of once per row: a group commit of
-- the trace inserts many entries in one statement, and moving the head row by row updated the
-- same row dozens of times in one transaction. The head still moves in the statement that
-- writes the entries, to the last of them (highest sequence number).
DROP TRIGGER audit_log_moves_head ON audit_log;
CREATE FUNCTION audit_log_moves_head_per_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_head h SET seq = n.seq, hash = n.hash, last_at_ms = n.at_ms
    FROM (SELECT seq, hash, at_ms FROM new_entries ORDER BY seq DESC LIMIT 1) n
    WHERE h.id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_log_moves_head AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION audit_log_moves_head_per_statement();
