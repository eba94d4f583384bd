-- Electoral data (ELE-1, ELE-3, ELE-6; the citizen's side is CIT-3). One row per person with
-- the current values only: an update replaces the row, and the trace says that it happened,
-- not what was there before. `comune` is the comune whose electoral officer keeps the row (the
-- person's competent comune when it was written); `data` is the JSON of annex 1's fields.
CREATE TABLE electoral_data (
    person_id BIGINT PRIMARY KEY REFERENCES persons (id),
    comune TEXT NOT NULL,
    elector BOOLEAN NOT NULL,
    section_number INTEGER,             -- for the lists by section (ELE-4)
    data TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX electoral_data_comune ON electoral_data (comune, section_number);

-- A citizen's request to rectify the own electoral data (CIT-3), addressed to the electoral
-- officer of the person's comune, who accepts or rejects it with an answer the citizen reads.
CREATE TABLE electoral_rectifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES persons (id),
    comune TEXT NOT NULL,
    topics TEXT NOT NULL,               -- comma list: elector, section, additional_lists, elections, other
    message TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    status TEXT NOT NULL,               -- open, accepted, rejected
    answer TEXT,
    answered_at BIGINT,
    answered_by TEXT
);
CREATE INDEX electoral_rectifications_comune ON electoral_rectifications (comune, status, id);
CREATE INDEX electoral_rectifications_person ON electoral_rectifications (person_id, id);
-- One open request per person at a time: a second one waits for the answer to the first.
CREATE UNIQUE INDEX electoral_rectifications_open ON electoral_rectifications (person_id) WHERE status = 'open';
