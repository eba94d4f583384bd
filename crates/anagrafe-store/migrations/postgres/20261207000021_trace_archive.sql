-- Retention of the trace (SEC-4, issue 18 item 2): entries older than a year move to archive
-- segments outside the database (compressed, with the checkpoints that sign them), kept ten
-- years. Each segment is recorded here; only entries a recorded segment covers may be deleted
-- (and only by the database's owner: the server's role has no DELETE on the trace), so a
-- segment recorded without its file (or with another file) fails `anagrafe audit verify`.
CREATE TABLE audit_archives (
    id BIGSERIAL PRIMARY KEY,
    from_seq BIGINT NOT NULL,
    to_seq BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    last_hash TEXT NOT NULL,
    from_ms BIGINT NOT NULL,
    to_ms BIGINT NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    entries BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    purged_at BIGINT
);
CREATE UNIQUE INDEX audit_archives_to ON audit_archives (to_seq);

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.seq <= COALESCE((SELECT MAX(to_seq) FROM audit_archives), 0) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the trace is append-only: % on audit_log is refused', TG_OP;
END
$$;
