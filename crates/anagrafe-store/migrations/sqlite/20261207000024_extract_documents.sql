-- The sealed PDF of each registry extract (issue 19, VIS-10), made on its first download from the
-- data kept when it was issued (extract_requests.content), then kept as it was first given out:
-- every later download returns the same bytes, whose SHA-256 the archive shows.
CREATE TABLE extract_documents (
    request_id BIGINT PRIMARY KEY REFERENCES extract_requests (id),
    pdf BLOB NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    made_at BIGINT NOT NULL
);
