-- Retention of the trace (SEC-4, issue 18 item 2): entries older than a year move to archive
-- segments outside the database (compressed, with the checkpoints that sign them), kept ten
-- years. Each segment is recorded here; only entries a recorded segment covers may be deleted,
-- so an ordinary write path still cannot delete any entry, and a segment recorded without its
-- file (or with another file) fails `anagrafe audit verify`.
CREATE TABLE audit_archives (
    id INTEGER PRIMARY KEY,
    from_seq BIGINT NOT NULL,           -- first entry of the segment
    to_seq BIGINT NOT NULL,             -- last entry (a signed checkpoint's)
    prev_hash TEXT NOT NULL,            -- the hash the first entry links to
    last_hash TEXT NOT NULL,            -- the last entry's hash
    from_ms BIGINT NOT NULL,            -- time of the first entry
    to_ms BIGINT NOT NULL,              -- time of the last entry
    file TEXT NOT NULL,                 -- the segment's file name in the archive folder
    sha256 TEXT NOT NULL,               -- of the file as written
    entries BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    purged_at BIGINT                    -- when the file was deleted, ten years on
);
CREATE UNIQUE INDEX audit_archives_to ON audit_archives (to_seq);

DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq > COALESCE((SELECT MAX(to_seq) FROM audit_archives), 0)
BEGIN
    SELECT RAISE(ABORT, 'the trace is append-only: an entry cannot be deleted');
END;
