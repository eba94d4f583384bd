-- The e-mail address an operator of the extracts receives the office's notices at (issue 19,
-- VIS-7 daily e-mail of the extracts issued, VIS-8 alarms): set by the TOP or ADMIN user who
-- manages the account. Operational contact only; no citizen's data.
CREATE TABLE operator_contacts (
    username TEXT PRIMARY KEY REFERENCES operators (username),
    email TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
