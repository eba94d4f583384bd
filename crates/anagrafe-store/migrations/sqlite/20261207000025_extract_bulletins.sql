-- The extracts' bulletin board (issue 19, VIS-9): messages of the registry office's TOP users to
-- every user of the comune's organisations (recipient NULL) or to one user, shown on their
-- welcome page until they expire or are withdrawn. Never deleted: a withdrawal is recorded.
CREATE TABLE extract_bulletins (
    id INTEGER PRIMARY KEY,
    comune TEXT NOT NULL,
    recipient TEXT,                     -- operator username; NULL: every user of the comune
    author TEXT NOT NULL,               -- operator username
    author_name TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    posted_at BIGINT NOT NULL,
    expires_at BIGINT,                  -- epoch ms: not shown from then on
    withdrawn_at BIGINT
);
CREATE INDEX extract_bulletins_comune ON extract_bulletins (comune, id);
